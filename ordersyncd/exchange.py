"""Recording of remote calls: every HTTP exchange a plugin makes through a client from
:meth:`ordersyncd.plugin.PluginContext.http_client` is counted in metrics and, while the core is working on an
order, appended to that order's communication history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Exchange", "record", "recording"]


@dataclass(frozen=True)
class Exchange:
    """One remote call: which system, what was asked, what came back."""

    system: str
    method: str
    target: str
    status: int | None
    duration: float
    outcome: str

    def describe(self) -> str:
        status = self.status if self.status is not None else "-"
        return f"{self.method} {self.target} -> {status} {self.outcome} ({self.duration * 1000:.0f} ms)"


_current: ContextVar[list[Exchange] | None] = ContextVar("ordersyncd_exchanges", default=None)


@contextmanager
def recording() -> Iterator[list[Exchange]]:
    """Collect the exchanges made in this context (and the tasks it awaits)."""
    sink: list[Exchange] = []
    token = _current.set(sink)
    try:
        yield sink
    finally:
        _current.reset(token)


def record(exchange: Exchange) -> None:
    sink = _current.get()
    if sink is not None:
        sink.append(exchange)


def monotonic() -> float:
    return time.monotonic()
