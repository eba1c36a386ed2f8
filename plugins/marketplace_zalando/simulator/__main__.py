"""Serve the zDirect simulator on 127.0.0.1: ``python -m <this package> --port N``."""

from __future__ import annotations

import argparse

import uvicorn

from . import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MERCHANT_A, create_app


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="zDirect (Zalando Partner Program) API simulator")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--orders", type=int, default=20, help="FBR orders generated at start")
    parser.add_argument("--rate-limits", default="production", choices=["production", "sandbox", "off"])
    args = parser.parse_args(argv)
    app = create_app(seed=args.seed, orders=args.orders, rate_limits=args.rate_limits)
    print(
        f"zDirect simulator on http://127.0.0.1:{args.port}  client_id={DEFAULT_CLIENT_ID} "
        f"client_secret={DEFAULT_CLIENT_SECRET} merchant_id={MERCHANT_A}",
        flush=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
