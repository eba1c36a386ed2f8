"""When a connection's next order or shipment can be due, known without asking SQLite.

An idle connection asks the journal for due orders and due shipments every run; at thousands of connections
those empty answers were the journal thread's main work (a thread hand-off and a query each). When a query finds
nothing due, the journal also reads when the earliest matching row's next attempt falls, and until then answers
the same query from memory, as long as nothing can have changed:

- every insert, update or delete of an ``orders`` or ``shipments`` row through this process's connection counts
  up its connection's *generation* (temporary SQLite triggers call :meth:`DueHints.touch`, so no write path can be
  missed), and a hint read at an older generation is not used;
- another process's commit (``ordersyncd orders retry``, a second daemon) changes SQLite's ``PRAGMA
  data_version``, which the journal reads with every due query that reaches SQLite: a change starts a new *epoch*, dropping
  every hint. Hints are used only while that check is at most :data:`VERSION_CHECK` seconds old, so such a
  change is seen within that time;
- a hint is used for :data:`MAX_AGE` seconds at most.

Thread use: :meth:`touch`, :meth:`observe_version` and :meth:`stamp` run on the journal thread (inside a
transaction); :meth:`nothing_due` and :meth:`store` on the event loop, the latter only after the query's
transaction committed (a rolled-back group commit answers with an error, so no hint is kept from it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["MAX_AGE", "VERSION_CHECK", "DueHints"]

#: Seconds a check of ``PRAGMA data_version`` keeps the hints usable (bounds how late another process's change
#: is seen).
VERSION_CHECK = 1.0
#: Seconds a hint is used at most, whatever happened.
MAX_AGE = 600.0


@dataclass(slots=True)
class _Hint:
    #: Nothing matches before this time (the journal's clock, as passed to the query).
    until: float
    generation: int
    epoch: int
    #: When the hint was read (monotonic).
    read_at: float


class DueHints:
    """Per query (kind, connection, states), the time before which it finds nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hints: dict[Hashable, _Hint] = {}
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._version: int | None = None
        self._version_checked = float("-inf")

    # ------------------------------------------------------------------ journal thread
    def forget_all(self) -> None:
        """Drop every hint (the journal's connection was opened again: ``data_version`` counts per connection,
        so commits made while it was closed would go unnoticed)."""
        self._hints.clear()
        self._version = None
        self._epoch += 1

    def touch(self, connection: str) -> None:
        """A row of ``connection`` changed (called by the journal's triggers)."""
        self._generations[connection] = self._generations.get(connection, 0) + 1

    def observe_version(self, version: int) -> None:
        """The ``PRAGMA data_version`` just read: another process committed when it changed."""
        if version != self._version:
            self._version = version
            self._epoch += 1
        self._version_checked = self._clock()

    def stamp(self, connection: str) -> tuple[int, int]:
        """What a hint read now depends on: the connection's generation and the epoch."""
        return self._generations.get(connection, 0), self._epoch

    # ------------------------------------------------------------------ event loop
    def nothing_due(self, key: Hashable, connection: str, now: float) -> bool:
        """True when the query ``key`` is known to find nothing at ``now``."""
        hint = self._hints.get(key)
        if hint is None or now >= hint.until:
            return False
        at = self._clock()
        return (
            at - self._version_checked <= VERSION_CHECK
            and at - hint.read_at <= MAX_AGE
            and (hint.generation, hint.epoch) == self.stamp(connection)
        )

    def store(self, key: Hashable, connection: str, stamp: tuple[int, int], until: float | None) -> None:
        """Keep ``until`` (``None``: no hint) for ``key``, read at ``stamp``; dropped when a change came since."""
        if until is None or stamp != self.stamp(connection):
            self._hints.pop(key, None)
            return
        self._hints[key] = _Hint(until, stamp[0], stamp[1], self._clock())
