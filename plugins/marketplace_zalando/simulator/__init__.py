"""A zDirect (Zalando Partner Program) API simulator: an ASGI app for tests, the demo and benchmarks.

``create_app()`` returns :class:`ZalandoSimulator`, an ASGI callable whose ``state`` is the
:class:`SimulatorState` control API (add orders, read what was exported / shipped / stocked, set faults,
throttle, expire tokens). Requests pass fault injection (``state.faults``), then a request recorder
(``app.recorder``), then the routes. Serve it on loopback with
``python -m ordersyncd_plugins.marketplace_zalando.simulator --port N``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ordersyncd.testing import FaultInjector, Faults, RequestRecorder

from .app import build_routes
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
    MERCHANT_B,
    SALES_CHANNELS,
    SimulatorState,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "MERCHANT_A",
    "MERCHANT_B",
    "SALES_CHANNELS",
    "SimulatorState",
    "ZalandoSimulator",
    "create_app",
]


class ZalandoSimulator:
    """The ASGI app. ``state`` controls it; ``recorder.exchanges`` holds what reached the routes."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.recorder = RequestRecorder(build_routes(state))
        self._asgi = FaultInjector(self.recorder, state.faults)

    @property
    def faults(self) -> Faults:
        return self.state.faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)


def create_app(
    *,
    seed: int = 0,
    orders: int = 0,
    rate_limits: str | dict[str, int] = "production",
    token_lifetime: int = 7200,
    monotonic: Callable[[], float] = time.monotonic,
    faults: Faults | None = None,
) -> ZalandoSimulator:
    """A simulator with merchants :data:`MERCHANT_A` (de, fr live; ch not live) and :data:`MERCHANT_B` (nl),
    credentials :data:`DEFAULT_CLIENT_ID`/:data:`DEFAULT_CLIENT_SECRET`, and ``orders`` generated FBR orders
    of merchant A (deterministic for a ``seed``). ``rate_limits``: ``"production"``, ``"sandbox"``, ``"off"``
    or per-minute quotas by name (see :data:`.state.RATE_LIMITS`).
    """
    state = SimulatorState(
        seed=seed, rate_limits=rate_limits, token_lifetime=token_lifetime, monotonic=monotonic, faults=faults
    )
    if orders:
        state.generate_orders(orders)
    return ZalandoSimulator(state)
