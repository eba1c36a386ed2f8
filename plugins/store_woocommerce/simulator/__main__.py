"""``python -m ordersyncd_plugins.store_woocommerce.simulator --port N``: serve the simulator on loopback."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from . import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, create_app


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="WooCommerce REST API simulator (loopback only)")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--consumer-key", default=DEFAULT_CONSUMER_KEY)
    parser.add_argument("--consumer-secret", default=DEFAULT_CONSUMER_SECRET)
    parser.add_argument("--api-prefix", default="/wp-json")
    parser.add_argument(
        "--product",
        action="append",
        default=[],
        metavar="SKU[:EAN[:QTY]]",
        help="add a simple product (repeatable)",
    )
    args = parser.parse_args(argv)
    app = create_app(
        consumer_key=args.consumer_key, consumer_secret=args.consumer_secret, api_prefix=args.api_prefix
    )
    for spec in args.product:
        sku, _, rest = spec.partition(":")
        ean, _, qty = rest.partition(":")
        app.state.add_product(sku, ean=ean, stock=int(qty or 0))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
