"""A local model of Shopify's cost-based leaky bucket, so the plugin waits instead of being throttled.

Shopify reports the bucket after every GraphQL call in ``extensions.cost.throttleStatus``
(``maximumAvailable``, ``currentlyAvailable``, ``restoreRate``). :class:`CostBucket` keeps that state,
refills it with time, deducts the estimated cost of each request before it is sent and makes callers wait
until the estimate fits. Until the first answer tells the bucket's size, only one request is in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio

__all__ = ["CostBucket"]


class CostBucket:
    """Client-side view of the GraphQL cost bucket of one shop (shared by all calls to that shop)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = anyio.Lock()
        self._known = False
        self._probe: anyio.Event | None = None
        self.maximum = 0.0
        self.restore_rate = 0.0
        self._available = 0.0
        self._stamp = clock()
        #: Last ``requestedQueryCost`` seen per operation name: the estimate for the next call.
        self.last_cost: dict[str, float] = {}
        #: Seconds spent waiting for the bucket (for tests and debugging).
        self.waited = 0.0
        #: Points reserved by requests still in flight: Shopify's ``currentlyAvailable`` does not include
        #: them yet, so an answer must not hand them out again.
        self.in_flight = 0.0

    @property
    def known(self) -> bool:
        """True once a response has told the bucket's size and restore rate."""
        return self._known

    def available(self) -> float:
        """Points available now according to the model."""
        if not self.known:
            return 0.0
        elapsed = max(0.0, self._clock() - self._stamp)
        return min(self.maximum, self._available + elapsed * self.restore_rate)

    def estimate(self, operation: str, default: float) -> float:
        """The cost to reserve for ``operation``: what it cost last time, else ``default``."""
        return self.last_cost.get(operation, default)

    async def reserve(self, cost: float) -> float:
        """Wait until ``cost`` points are available in the model, then take them; returns what was reserved
        (to hand back to :meth:`request_done`)."""
        while not self._known:
            if self._probe is None:
                self._probe = anyio.Event()  # this request goes alone and learns the bucket's state
                return 0.0
            await self._probe.wait()
        async with self._lock:
            cost = min(cost, self.maximum) if self.maximum else cost
            while True:
                available = self.available()
                if available >= cost or self.restore_rate <= 0:
                    break
                delay = (cost - available) / self.restore_rate
                self.waited += delay
                await anyio.sleep(delay)
            self._available = self.available() - cost
            self._stamp = self._clock()
            self.in_flight += cost
            return cost

    def request_done(self, reserved: float = 0.0) -> None:
        """Called after every request (before :meth:`update`) with what :meth:`reserve` returned; wakes requests
        waiting for the first answer (probe)."""
        self.in_flight = max(0.0, self.in_flight - reserved)
        if self._probe is not None:
            probe, self._probe = self._probe, None
            probe.set()

    def update(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        """Take the state from a response's ``extensions.cost`` (ignored when absent or malformed)."""
        if not isinstance(cost, Mapping):
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.last_cost[operation] = float(requested)
        status = cost.get("throttleStatus")
        if not isinstance(status, Mapping):
            return
        try:
            maximum = float(status["maximumAvailable"])
            current = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        self.maximum, self.restore_rate = maximum, rate
        self._available = min(maximum, current) - self.in_flight
        self._stamp = self._clock()
        self._known = True

    def throttled_delay(self, cost: Mapping[str, Any] | None) -> float:
        """Seconds a THROTTLED request needs before it fits: (requested - available) / restoreRate."""
        if not isinstance(cost, Mapping) or not isinstance(cost.get("throttleStatus"), Mapping):
            return 1.0
        status = cost["throttleStatus"]
        try:
            needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
            return max(0.05, needed / float(status["restoreRate"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return 1.0
