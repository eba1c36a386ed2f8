"""Rate-limit emulation for simulators."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["FixedWindowLimiter", "TokenBucket"]


class TokenBucket:
    """A leaky/token bucket: ``size`` tokens, refilled at ``rate`` per second.

    :meth:`take` returns 0 when the cost was taken, otherwise the seconds until it could be (nothing taken).
    Used for cost-based limits (Shopify GraphQL) as well as plain request rates.
    """

    def __init__(self, size: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = float(size)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = float(size)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.size, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def take(self, cost: float = 1.0) -> float:
        with self._lock:
            self._refill()
            if cost <= self._tokens:
                self._tokens -= cost
                return 0.0
            if self.rate <= 0:
                return math.inf
            return (cost - self._tokens) / self.rate

    def refund(self, amount: float) -> None:
        with self._lock:
            self._tokens = min(self.size, self._tokens + amount)


class FixedWindowLimiter:
    """At most ``limit`` units per ``window`` seconds (e.g. 60 requests per minute).

    :meth:`take` returns 0 when allowed, otherwise the whole seconds to the window's end (for Retry-After).
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._start = clock()
        self._used = 0
        self._lock = threading.Lock()

    def take(self, units: int = 1) -> float:
        with self._lock:
            now = self._clock()
            if now - self._start >= self.window:
                self._start = now - ((now - self._start) % self.window)
                self._used = 0
            if self._used + units <= self.limit:
                self._used += units
                return 0.0
            return max(1.0, math.ceil(self.window - (now - self._start)))
