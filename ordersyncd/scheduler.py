"""One scheduler for the jobs of every connection: a timer heap served by one task.

A task, an event and a timer per job and connection (five of each per connection) made an idle daemon with
5,000 connections hold 25,000 sleeping tasks with their cancel scopes, and every timer that fired cost a task
switch. Here a job that waits is one heap entry; it gets a task of its own only while it runs, so one slow or
failing run still never holds up another.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.abc
import structlog

__all__ = ["Scheduler"]

log = structlog.get_logger("ordersyncd.scheduler")


class Scheduler:
    """Calls ``callback(*args)`` at monotonic time ``due`` (:meth:`call_at`); a callback that has work to do
    starts it in its own task with :meth:`spawn`. Callbacks are plain functions, called on the scheduler's task:
    they must not block, and what they raise is logged and dropped (the scheduler keeps going)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[..., object], tuple[Any, ...]]] = []
        self._order = itertools.count()  # ties run in the order they were scheduled
        self._wake: anyio.Event | None = None
        self._group: anyio.abc.TaskGroup | None = None

    def __len__(self) -> int:
        """Entries waiting (including ones their owners will find stale and ignore)."""
        return len(self._heap)

    def call_at(self, due: float, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` once the clock reaches ``due`` (at once when it already has)."""
        earliest = self._heap[0][0] if self._heap else math.inf
        heapq.heappush(self._heap, (due, next(self._order), callback, args))
        if due < earliest and self._wake is not None:
            self._wake.set()

    def spawn(self, func: Callable[..., Coroutine[Any, Any, object]], *args: Any) -> None:
        """Run ``func(*args)`` in a task of its own, in the scheduler's task group."""
        if self._group is None:
            raise RuntimeError("the scheduler is not running")
        self._group.start_soon(func, *args)

    def clear(self) -> None:
        """Drop every waiting entry (the tasks already started keep running)."""
        self._heap.clear()

    async def run(self) -> None:
        """Serve the heap until cancelled; tasks started with :meth:`spawn` belong to this call."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                while True:
                    now = self.clock()
                    while self._heap and self._heap[0][0] <= now:
                        _, _, callback, args = heapq.heappop(self._heap)
                        try:
                            callback(*args)
                        except Exception as error:  # one owner's bug must not stop every connection's jobs
                            log.error(
                                "scheduled callback failed",
                                callback=getattr(callback, "__qualname__", repr(callback)),
                                error=f"{type(error).__name__}: {error}",
                            )
                    self._wake = anyio.Event()
                    delay = self._heap[0][0] - now if self._heap else math.inf
                    with anyio.move_on_after(delay):
                        await self._wake.wait()
            finally:
                self._group = None
                self._wake = None
