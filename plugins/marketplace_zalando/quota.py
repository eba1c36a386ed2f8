"""Client-side pacing of zDirect's documented per-minute quotas (reference §6), so that requests stay inside
them instead of learning them from 429 answers.

zDirect counts PATCH requests (order and line PATCHes share one quota) and order list calls per Fashion Partner,
apparently in fixed one-minute windows whose alignment a client cannot see (the plugin paces PATCH requests
always, list calls when configured: see :attr:`.settings.ZalandoSettings.request_quotas`). A client that lets at most ``N``
requests *arrive* in any 60 seconds never exceeds ``N`` in any fixed window, whatever its alignment. Arrival lies
somewhere between sending and receiving the answer, so :class:`SlidingWindow` counts a request from the moment
it is sent (a slot is taken, so concurrent requests cannot overshoot) and dates it when its answer has arrived
(after the server counted it): the next request that needs its slot waits until 60 seconds after that.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Awaitable, Callable, Mapping

import anyio

from ordersyncd.plugin import RateLimited

__all__ = ["QuotaRegistry", "SlidingWindow", "quota_of", "quota_registry"]

_ORDER_LIST = re.compile(r"/merchants/[^/]+/orders")
#: Float slack when comparing expiry times (a wait computed to the expiry must find the slot free).
_EPSILON = 1e-6

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def quota_of(method: str, path: str, params: Mapping[str, str] | None = None) -> str | None:
    """The paced quota a request counts against (a key of :data:`.settings.DOCUMENTED_QUOTAS`), or ``None``
    when it is not paced.

    Listing by ``order_number`` has its own, higher quota (not used by the plugin) and is not paced.
    """
    if method == "PATCH" and path.startswith("/merchants/"):
        return "patch"
    if method == "GET" and _ORDER_LIST.fullmatch(path) and "order_number" not in (params or {}):
        return "orders_list"
    return None


class SlidingWindow:
    """At most :attr:`limit` requests in any ``window`` seconds, each counted from its start until ``window``
    seconds after its answer arrived. Waiting requests are served first come, first served.

    :attr:`limit` is the configured value, lowered for good when a 429 announces a smaller one
    (``X-Rate-Limit``, see :meth:`announce`).
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.configured = limit
        self.announced: int | None = None
        self.window = window
        self._done: list[float] = []  # when the answers of recent requests arrived, ascending
        self._in_flight = 0
        self._queue: list[object] = []
        self._released: anyio.Event | None = None

    @property
    def limit(self) -> int:
        return self.configured if self.announced is None else min(self.configured, self.announced)

    def announce(self, limit: int) -> bool:
        """The API said (429 ``X-Rate-Limit``) the quota is ``limit``; True when that lowered :attr:`limit`."""
        if limit <= 0 or limit >= self.limit:
            return False
        self.announced = limit
        return True

    def _expire(self, now: float) -> None:
        gone = bisect.bisect_right(self._done, now - self.window + _EPSILON)
        if gone:
            del self._done[:gone]

    def _estimate(self, position: int, now: float) -> tuple[float, bool]:
        """Seconds until the request at ``position`` in the queue may start, and whether that is exact (False:
        at least that long, as it depends on requests still in flight)."""
        free = self.limit - len(self._done) - self._in_flight
        if position < free:
            return 0.0, True
        needed = position - free  # slots that must free up before this one, 0-based
        if needed < len(self._done):
            return max(0.0, self._done[needed] + self.window - now), True
        rounds = 1 + (needed - len(self._done)) // max(1, self.limit)
        return rounds * self.window, False

    async def acquire(self, clock: Clock, sleep: Sleep, max_wait: float) -> float:
        """Wait for a slot and take it; returns the seconds waited. When the wait would exceed ``max_wait``
        seconds, raises :class:`RateLimited` (nothing taken) so the core can come back later."""
        ticket = object()
        self._queue.append(ticket)
        start = clock()
        try:
            while True:
                now = clock()
                self._expire(now)
                wait, exact = self._estimate(self._queue.index(ticket), now)
                if wait <= 0:
                    self._in_flight += 1
                    return now - start
                waited = now - start
                if waited + wait > max_wait:
                    raise RateLimited(
                        f"zalando: client-side pacing: the quota of {self.limit} requests per "
                        f"{self.window:g} s is used up for {wait:.0f} s",
                        retry_after=wait,
                    )
                if exact:
                    await sleep(wait)
                else:
                    # Its slot depends on requests in flight (or on waiters ahead of it): wait until one of
                    # them is answered or leaves the queue, then compute again.
                    if self._released is None:
                        self._released = anyio.Event()
                    await self._released.wait()
        finally:
            self._queue.remove(ticket)
            self._wake()

    def release(self, now: float) -> None:
        """The answer to a request started with :meth:`acquire` arrived (or it failed) at ``now``."""
        self._in_flight -= 1
        bisect.insort(self._done, now)
        self._wake()

    def _wake(self) -> None:
        if self._released is not None:
            released, self._released = self._released, None
            released.set()


class QuotaRegistry:
    """Sliding windows by account (client id, base URL) and quota, shared by every client in the process
    (the quotas are per Fashion Partner, whatever connection or account block sends)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], SlidingWindow] = {}

    def window(self, account: tuple[str, str], quota: str, limit: int) -> SlidingWindow:
        """The account's window for ``quota``, created with ``limit`` per minute or set to it (the latest
        configuration wins; a limit a 429 announced stays)."""
        key = (*account, quota)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(limit)
        else:
            window.configured = limit
        return window

    def clear(self) -> None:
        self._windows.clear()


#: The process-wide registry.
quota_registry = QuotaRegistry()
