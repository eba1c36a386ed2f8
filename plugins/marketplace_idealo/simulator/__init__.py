"""An idealo Checkout simulator (Merchant Order API v2 and the PWS 2.0 offer endpoints): an ASGI app for
tests, the demo and benchmarks.

``create_app()`` returns :class:`IdealoSimulator`, an ASGI callable whose ``state`` is the
:class:`SimulatorState` control API (add or generate orders, let customers revoke, settle refunds, list
offers, expire tokens, throttle). Requests pass fault injection (``state.faults``), then a request recorder
(``app.recorder``), then the routes. Serve it on loopback with
``python -m ordersyncd_plugins.marketplace_idealo.simulator --port N``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from ordersyncd.testing import FaultInjector, Faults, RequestRecorder

from .app import build_routes
from .generator import CATALOGUE, OrderGenerator
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    OFFERS_CLIENT_ID,
    OFFERS_CLIENT_SECRET,
    SHOP_ID,
    SimLine,
    SimOrder,
    SimRefund,
    SimulatorState,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "OFFERS_CLIENT_ID",
    "OFFERS_CLIENT_SECRET",
    "SHOP_ID",
    "IdealoSimulator",
    "OrderGenerator",
    "SimLine",
    "SimOrder",
    "SimRefund",
    "SimulatorState",
    "create_app",
]


class IdealoSimulator:
    """The ASGI app. ``state`` controls it; ``recorder.exchanges`` holds what reached the routes."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.recorder = RequestRecorder(build_routes(state))
        self._asgi = FaultInjector(self.recorder, state.faults)

    @property
    def faults(self) -> Faults:
        """The fault injection settings (change them at any time)."""
        return self.state.faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)


def create_app(
    *,
    seed: int = 0,
    orders: int = 0,
    new_orders: Literal["until_acknowledged", "once"] = "until_acknowledged",
    token_lifetime: int = 3600,
    rate_limit_per_minute: int = 0,
    monotonic: Callable[[], float] = time.monotonic,
    faults: Faults | None = None,
) -> IdealoSimulator:
    """A simulator of shop :data:`SHOP_ID` with order API credentials :data:`DEFAULT_CLIENT_ID` /
    :data:`DEFAULT_CLIENT_SECRET`, offer API credentials :data:`OFFERS_CLIENT_ID` /
    :data:`OFFERS_CLIENT_SECRET`, ``orders`` generated orders (deterministic for a ``seed``) and an offer
    for every catalogue SKU. ``rate_limit_per_minute`` (0 = off) answers 429 beyond that many API calls.
    """
    state = SimulatorState(
        seed=seed,
        token_lifetime=token_lifetime,
        new_orders=new_orders,
        rate_limit_per_minute=rate_limit_per_minute,
        monotonic=monotonic,
        faults=faults,
    )
    for sku, (title, price, _) in CATALOGUE.items():
        state.add_offer(sku, title=title, price=f"{price:.2f}", checkout=True, checkoutLimitPerPeriod=10)
    if orders:
        state.generate_orders(orders)
    return IdealoSimulator(state)
