"""``python -m ordersyncd_plugins.store_shopify.simulator --port N``: serve the simulator on loopback."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from . import create_app


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="Shopify Admin GraphQL simulator (loopback only)")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", help="accepted static access token (repeatable)")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--bucket-size", type=float, default=1000.0)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    parser.add_argument(
        "--product",
        action="append",
        default=[],
        metavar="SKU[:BARCODE[:QTY]]",
        help="add a variant (repeatable)",
    )
    args = parser.parse_args(argv)
    app = create_app(
        access_tokens=tuple(args.token or ("shpat_simulator",)),
        client_id=args.client_id,
        client_secret=args.client_secret,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
    )
    for spec in args.product:
        sku, _, rest = spec.partition(":")
        barcode, _, qty = rest.partition(":")
        app.shop.add_variant(sku, barcode, inventory=int(qty or 0))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
