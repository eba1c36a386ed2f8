"""Simulator of the WooCommerce REST API (``wc/v3`` + Shipment Tracking) as an ASGI app, for tests and the
demo.

It behaves like WooCommerce where ordersyncd depends on it: API keys (Basic only over HTTPS or behind
``X-Forwarded-Proto: https``, otherwise OAuth 1.0a one-legged signatures, verified), products and
variations with SKU / ``global_unique_id`` / meta, orders with meta and stock reduction, the Shipment
Tracking routes, ``X-WP-Total``/``X-WP-TotalPages`` pagination, ``{code, message, data{status}}`` errors,
and fault injection. Run it with ``python -m ordersyncd_plugins.store_woocommerce.simulator --port 8082``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from ordersyncd.testing import Faults

from .app import WooCommerceSimulator
from .oauth import ApiKey, AuthFailure, KeyChecker, woo_signature
from .state import WOOCOMMERCE_VERSION, RestError, SimProduct, StoreState

__all__ = [
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "WOOCOMMERCE_VERSION",
    "ApiKey",
    "AuthFailure",
    "KeyChecker",
    "RestError",
    "SimProduct",
    "StoreState",
    "WooCommerceSimulator",
    "create_app",
    "woo_signature",
]

DEFAULT_CONSUMER_KEY = "ck_simulator0000000000000000000000000000000"
DEFAULT_CONSUMER_SECRET = "cs_simulator0000000000000000000000000000000"  # noqa: S105


def create_app(
    *,
    consumer_key: str = DEFAULT_CONSUMER_KEY,
    consumer_secret: str = DEFAULT_CONSUMER_SECRET,
    permissions: str = "read_write",
    api_prefix: str = "/wp-json",
    tax_rates: Mapping[str, Decimal] | None = None,
    tracking_bumps_modified: bool = False,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
    now: Callable[[], datetime] | None = None,
) -> WooCommerceSimulator:
    """A new simulated store (no products, no orders) with one API key, as an ASGI app.

    ``tax_rates`` (country → percent) make the store add tax to the net line and shipping totals as
    WooCommerce does; ``tracking_bumps_modified`` says whether adding tracking changes the order's
    ``date_modified``; ``clock`` is what OAuth timestamps are checked against, ``now`` the store's time.
    """
    state = StoreState(
        now=now or (lambda: datetime.fromtimestamp(clock(), UTC)),
        tax_rates=tax_rates,
        tracking_bumps_modified=tracking_bumps_modified,
    )
    app = WooCommerceSimulator(state=state, api_prefix=api_prefix, faults=faults, clock=clock)
    app.add_key(consumer_key, consumer_secret, permissions)
    return app
