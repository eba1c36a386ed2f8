"""Serve the idealo simulator on 127.0.0.1: ``python -m <this package> --port N``."""

from __future__ import annotations

import argparse

import uvicorn

from . import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, OFFERS_CLIENT_ID, OFFERS_CLIENT_SECRET, create_app


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(
        description="idealo Checkout (Merchant Order API v2 + PWS offers) simulator"
    )
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--orders", type=int, default=20, help="orders generated at start")
    parser.add_argument("--new-orders", default="until_acknowledged", choices=["until_acknowledged", "once"])
    parser.add_argument("--rate-limit", type=int, default=0, help="API calls per minute (0 = unlimited)")
    args = parser.parse_args(argv)
    app = create_app(
        seed=args.seed, orders=args.orders, new_orders=args.new_orders, rate_limit_per_minute=args.rate_limit
    )
    print(
        f"idealo simulator on http://127.0.0.1:{args.port}  client_id={DEFAULT_CLIENT_ID} "
        f"client_secret={DEFAULT_CLIENT_SECRET}  offers_client_id={OFFERS_CLIENT_ID} "
        f"offers_client_secret={OFFERS_CLIENT_SECRET}",
        flush=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
