"""A local model of Shopify's cost-based leaky bucket, so the plugin waits instead of being throttled.

What Shopify does (and the simulator): when a query **arrives**, its ``requestedQueryCost`` must be
available in the bucket, else the answer is ``THROTTLED`` and nothing is taken; otherwise the requested cost
is taken, the query runs, and the difference to the ``actualQueryCost`` is refunded. Every answer carries
``extensions.cost.throttleStatus`` (``maximumAvailable``, ``currentlyAvailable``, ``restoreRate``): the bucket
as the server saw it when it answered, after that query's own cost.

:class:`CostBucket` models that from the client's side, starting from an answer (a *reference*): its
``currentlyAvailable`` plus the restore since it arrived (capped at ``maximumAvailable``), minus every call
the server may not have counted in it: calls still in flight (at their requested cost, which is what the
server takes on arrival) and calls answered after the reference request was sent (at their actual cost; a
THROTTLED call at 0). Calls answered before the reference request was sent were certainly counted. Each
reference so gives a lower bound of what the server has, whatever order the server ran the calls in and the
answers arrived in: a late answer carrying an older ``currentlyAvailable`` cannot hand out points that a
later call already took, and a call's refund counts as soon as its own answer tells it. A newer answer
replaces the references that had arrived before its request was sent; answers to overlapping requests may
be older or newer than each other, so they are kept side by side and the best bound is used. Restore is
counted from when an answer *arrived* (the server computed it a little earlier): at most
``restoreRate * (the answer's travel time)`` is left unused, and that does not accumulate.

Callers wait in :meth:`CostBucket.reserve` until the requested cost fits the model (one at a time, in
order); every answer wakes the waiting caller to recompute, so a refund or a fresher status shortens the
wait. Until the first answer tells the bucket's size, only one request is in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

__all__ = ["CostBucket", "Reservation"]


@dataclass(eq=False)
class Reservation:
    """One call as the model counts it (returned by :meth:`CostBucket.reserve`)."""

    #: Points the call takes from the bucket as far as known: the requested cost until its answer tells
    #: the actual cost (0 when it was THROTTLED).
    cost: float
    #: When it was reserved (just before it is sent).
    sent: float
    #: When its answer arrived (``None`` while in flight).
    answered: float | None = None


@dataclass(eq=False)
class _Reference:
    """An answer's ``throttleStatus``: the call it answered, ``currentlyAvailable``, when it arrived."""

    call: Reservation
    level: float
    arrived: float


class CostBucket:
    """Client-side view of the GraphQL cost bucket of one shop (shared by all calls to that shop)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: Set when an answer changes the model, to wake a waiting :meth:`reserve` early.
        self._changed = anyio.Event()
        self._lock = anyio.Lock()
        self._known = False
        self._probe: anyio.Event | None = None
        self.maximum = 0.0
        self.restore_rate = 0.0
        #: Answers the model starts from (see :meth:`available`).
        self._references: list[_Reference] = []
        #: Calls a reference may not include: in flight, or answered after a reference request was sent.
        self._calls: list[Reservation] = []
        #: Last ``requestedQueryCost`` seen per operation (cost key): the estimate for the next call.
        self.last_cost: dict[str, float] = {}
        #: Seconds spent waiting for the bucket (for tests and debugging).
        self.waited = 0.0

    @property
    def known(self) -> bool:
        """True once a response has told the bucket's size and restore rate."""
        return self._known

    @property
    def in_flight(self) -> float:
        """Requested points of the calls still waiting for their answer."""
        return sum(call.cost for call in self._calls if call.answered is None)

    def available(self) -> float:
        """Points available now according to the model (never more than the server can have, unless other
        apps spend from the same bucket)."""
        if not self._known:
            return 0.0
        now = self._clock()
        return max(self._from(reference, now) for reference in self._references)

    def _from(self, reference: _Reference, now: float) -> float:
        """What the server has now at least, judging from ``reference``: its ``currentlyAvailable`` plus the
        restore since it arrived, minus every call it may not include.

        When every such call has been answered, the server took their points before the last of those answers
        arrived, and the bucket has been refilling since: the bound grows back to the bucket's size. (Capping
        only before subtracting would leave it below the size for good, and a call costing nearly the whole
        bucket would wait forever.)"""
        since = reference.call.sent
        later = [
            call
            for call in self._calls
            if call is not reference.call and (call.answered is None or call.answered >= since)
        ]
        taken = sum(call.cost for call in later)
        rate = self.restore_rate
        if any(call.answered is None for call in later):
            elapsed = max(0.0, now - reference.arrived)
            return min(self.maximum, reference.level + elapsed * rate) - taken
        last = max([reference.arrived, *(call.answered or 0.0 for call in later)])
        at_last = min(self.maximum, reference.level + max(0.0, last - reference.arrived) * rate) - taken
        return min(self.maximum, at_last + max(0.0, now - last) * rate)

    def estimate(self, key: str, default: float) -> float:
        """The cost to reserve for ``key``: what Shopify requested last time, else ``default``."""
        return self.last_cost.get(key, default)

    async def reserve(self, cost: float) -> Reservation:
        """Wait until ``cost`` points are available in the model, then count them as taken. Hand the result
        to :meth:`settle` when the answer (or the failure) is there.

        A cost above the bucket's size is reserved as the whole bucket (the answer tells the truth)."""
        while not self._known:
            if self._probe is None:
                self._probe = anyio.Event()  # this request goes alone and learns the bucket's state
                return self._add(cost)
            await self._probe.wait()
        async with self._lock:
            cost = min(cost, self.maximum)
            while True:
                available = self.available()
                if available >= cost or self.restore_rate <= 0:
                    break
                # Sleep until restore alone would make it fit, or until an answer changes the model (a
                # refund, a fresher status): the wait is recomputed then instead of sleeping it out.
                started = self._clock()
                self._changed = anyio.Event()
                with anyio.move_on_after((cost - available) / self.restore_rate):
                    await self._changed.wait()
                self.waited += max(0.0, self._clock() - started)
            return self._add(cost)

    def _add(self, cost: float) -> Reservation:
        call = Reservation(cost=cost, sent=self._clock())
        self._calls.append(call)
        return call

    def settle(
        self,
        call: Reservation,
        key: str,
        cost: Mapping[str, Any] | None,
        *,
        taken_nothing: bool = False,
    ) -> None:
        """The answer to ``call`` arrived with ``extensions.cost`` (``None`` when it failed or had none).

        ``taken_nothing``: Shopify took no points (a THROTTLED answer, a refused token). Otherwise, without an
        actual cost, the call keeps counting at its requested cost (it may have run) until a later reference
        includes it."""
        now = self._clock()
        call.answered = now
        status: Mapping[str, Any] | None = None
        if isinstance(cost, Mapping):
            requested = cost.get("requestedQueryCost")
            if isinstance(requested, int | float) and not isinstance(requested, bool):
                self.last_cost[key] = float(requested)
            actual = cost.get("actualQueryCost")
            if taken_nothing:
                call.cost = 0.0
            elif isinstance(actual, int | float) and not isinstance(actual, bool):
                call.cost = float(actual)
            raw = cost.get("throttleStatus")
            status = raw if isinstance(raw, Mapping) else None
        elif taken_nothing:
            call.cost = 0.0
        if status is not None:
            self._reference(status, call, now, refused=taken_nothing)
        self._prune()
        self._changed.set()
        if self._probe is not None:
            probe, self._probe = self._probe, None
            probe.set()

    def _reference(self, status: Mapping[str, Any], call: Reservation, now: float, *, refused: bool) -> None:
        """Start from ``call``'s answer. Answers that arrived before ``call`` was sent are older for sure and
        are dropped; an answer whose request overlapped may be newer or older (the server's order is not
        known), so both stay and :meth:`available` takes the better of the two (each is a lower bound).
        A refused (THROTTLED) call proves the model held more than the server: its answer replaces all."""
        try:
            maximum = float(status["maximumAvailable"])
            current = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        self.maximum, self.restore_rate = maximum, rate
        self._references = [ref for ref in self._references if ref.arrived > call.sent and not refused]
        self._references.append(_Reference(call=call, level=min(maximum, current), arrived=now))
        self._known = True

    def _prune(self) -> None:
        """Forget answered calls that every reference (and every answer still to come) includes: answered
        before the reference requests and the calls still in flight were sent."""
        horizon = min(
            [ref.call.sent for ref in self._references] + [c.sent for c in self._calls if c.answered is None],
            default=self._clock(),
        )
        self._calls = [c for c in self._calls if c.answered is None or c.answered >= horizon]

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
