"""Group commit: one thread owns the SQLite connection and commits the calls that queued up together.

Every journal call is a function of the connection that must run in its own transaction and be durable when the
call returns. Run one by one, each call costs a thread hand-off and (with ``synchronous=FULL``) an fsync. The
:class:`GroupCommitter` runs every call queued while the previous transaction was being committed in *one*
transaction, each call inside its own ``SAVEPOINT`` (a call that raises is rolled back alone and gets its
exception), then commits once and wakes all callers with one hand-off per event loop. A caller is answered only
after the commit that contains its work, so the contract of one durable transaction per call holds; what changes is
that the fsync and the thread hand-off are shared by everything that was waiting — the technique databases call
group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

__all__ = ["GroupCommitter"]

T = TypeVar("T")

#: At most this many calls share one transaction (bounds the time a transaction holds the write lock).
MAX_BATCH = 256


@dataclass(eq=False)
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    #: Runs outside any transaction (opening and closing the connection).
    bare: bool = False
    result: Any = None
    error: BaseException | None = field(default=None)


class GroupCommitter:
    """The journal thread. ``connect`` makes the connection on that thread; :meth:`run` queues a call."""

    def __init__(self, name: str = "ordersyncd-journal") -> None:
        self._name = name
        #: Calls handed to the journal thread (a C queue: a put is one cheap call, where a condition variable's
        #: notify cost a few per cent of the daemon's CPU), and the ones it took but has not run yet.
        self._incoming: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._taken: deque[_Call] = deque()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.db: sqlite3.Connection | None = None
        #: Transactions committed and calls run (for tests and the benchmark's explanation).
        self.transactions = 0
        self.calls = 0

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, bare: bool = False) -> T:
        """Run ``fn(db)`` on the journal thread in a transaction (``bare``: outside one) and return its result
        once committed. Not abandoned on cancellation: the caller waits for the outcome, then the cancellation
        is delivered (as with ``anyio.to_thread.run_sync``)."""
        loop = asyncio.get_running_loop()
        call = _Call(fn=fn, future=loop.create_future(), loop=loop, bare=bare)
        self._ensure_thread()
        self._incoming.put(call)
        with anyio.CancelScope(shield=True):
            result: T = await call.future
        return result

    # ---------------------------------------------------------------------------- journal thread
    def _serve(self) -> None:
        while True:
            if not self._taken:
                self._taken.append(self._incoming.get())
            while len(self._taken) < MAX_BATCH:
                try:
                    self._taken.append(self._incoming.get_nowait())
                except queue.Empty:
                    break
            batch: list[_Call] = []
            while self._taken and len(batch) < MAX_BATCH:
                call = self._taken.popleft()
                if call.bare and batch:
                    self._taken.appendleft(call)
                    break
                batch.append(call)
                if call.bare:
                    break
            if batch[0].bare:
                self._bare(batch[0])
            else:
                self._transaction(batch)
            self._answer(batch)

    @staticmethod
    def _bare(call: _Call) -> None:
        try:
            call.result = call.fn(None)  # type: ignore[arg-type]
        except BaseException as error:
            call.error = error

    def _transaction(self, batch: list[_Call]) -> None:
        db = self.db
        if db is None:
            for call in batch:
                call.error = RuntimeError("journal is not open")
            return
        try:
            db.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            for call in batch:
                call.error = error
            return
        for call in batch:
            try:
                db.execute("SAVEPOINT call")
                try:
                    call.result = call.fn(db)
                except BaseException as error:
                    call.error = error
                    db.execute("ROLLBACK TO call")
                db.execute("RELEASE call")
            except sqlite3.Error as error:
                call.error = call.error or error
        try:
            db.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            for call in batch:
                if call.error is None:
                    call.error = error
                    call.result = None
        self.transactions += 1
        self.calls += len(batch)

    @staticmethod
    def _answer(batch: list[_Call]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
        for call in batch:
            by_loop.setdefault(call.loop, []).append(call)
        for loop, calls in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that event loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, calls)


def _settle(calls: list[_Call]) -> None:
    for call in calls:
        if call.future.done():
            continue
        if call.error is not None:
            call.future.set_exception(call.error)
        else:
            call.future.set_result(call.result)
