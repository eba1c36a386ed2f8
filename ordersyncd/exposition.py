"""The text a Prometheus scrape of ``/metrics`` gets, written in pieces.

``prometheus_client.generate_latest`` builds a metric family object, a sample tuple and a label dict for every
series, then the whole text at once. At 5,000 connections (420,000 series, 31 MB of text) that took 2.1 s of
CPU and raised the daemon's peak RSS by 125 MiB per scrape. The per-connection and per-system families
(:class:`ordersyncd.metrics.StatsCollector`) are written here straight from the stats objects instead, a
thousand connections per piece, so a scrape holds one piece at a time; everything else (build and plugin info,
the all-connections histograms, alert counters, process metrics) still goes through ``generate_latest``.
The text is the same as ``generate_latest(registry)`` would write, family for family and sample for sample
(a test compares them); the order of the families differs, which the format allows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

from .metrics import (
    _API_DURATION,
    _API_REQUESTS,
    _API_THROTTLED,
    _CONNECTION_UP,
    _JOB_FAILURES,
    _JOB_INTERVAL,
    _JOB_LAST_DURATION,
    _JOB_RUNS,
    _LAST_SUCCESS,
    _OLDEST_WAITING,
    _ORDERS_ACKNOWLEDGED,
    _ORDERS_BY_STATE,
    _ORDERS_IMPORTED,
    _ORDERS_QUARANTINED,
    _ORDERS_SHIPPED,
    _SHIPMENTS_WAITING,
    _STOCK_PUSHED,
    _STOCK_REJECTED,
    API_DURATION_LE,
    ConnectionStats,
    SystemStats,
    go_float,
)

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["PIECE", "exposition"]

#: Connections (or systems) per piece of text: 100 to 500 KB each. Each piece is one hop to the worker thread
#: and back through the event loop, which at 5,000 connections is busy: fewer, larger pieces.
PIECE = 1000

_Spec = tuple[str, str, tuple[str, ...]]
_S = TypeVar("_S", ConnectionStats, SystemStats)


def exposition(metrics: Metrics) -> Iterator[bytes]:
    """The whole exposition of ``metrics``, in pieces (each piece is whole lines)."""
    yield metrics.ordinary_exposition()
    yield from _pieces(_CONNECTION_FAMILIES, "connection", metrics.connections)
    yield from _pieces(_SYSTEM_FAMILIES, "system", metrics.systems)


def _pieces(
    families: tuple[tuple[_Spec, str, Callable[[list[str], str, str, _S], None]], ...],
    label_name: str,
    owners: Mapping[str, _S],
) -> Iterator[bytes]:
    """Each family's header and lines, ``PIECE`` owners (connections or systems) per piece."""
    rows = [(_label(label_name, name), stats) for name, stats in list(owners.items())]
    for spec, kind, lines in families:
        out = [_header(spec, kind)]
        for start in range(0, max(len(rows), 1), PIECE):
            for label, stats in rows[start : start + PIECE]:
                lines(out, spec[0], label, stats)
            yield "".join(out).encode()
            out = []


def _label(name: str, value: str) -> str:
    escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return f'{name}="{escaped}"'


def _header(spec: _Spec, kind: str) -> str:
    name, documentation, _ = spec
    text = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


def _up(out: list[str], name: str, label: str, stats: ConnectionStats) -> None:
    out.append(f"{name}{{{label}}} {'1.0' if stats.up else '0.0'}\n")


def _job_field(field: str, optional: bool = False) -> Callable[[list[str], str, str, ConnectionStats], None]:
    def lines(out: list[str], name: str, label: str, stats: ConnectionStats) -> None:
        for task, job in list(stats.jobs.items()):
            value = getattr(job, field)
            if value is None and optional:
                continue
            out.append(f'{name}{{{label},task="{task}"}} {go_float(value)}\n')

    return lines


def _field(field: str) -> Callable[[list[str], str, str, ConnectionStats], None]:
    def lines(out: list[str], name: str, label: str, stats: ConnectionStats) -> None:
        out.append(f"{name}{{{label}}} {go_float(getattr(stats, field))}\n")

    return lines


def _by_state(out: list[str], name: str, label: str, stats: ConnectionStats) -> None:
    for state, count in list(stats.orders_by_state.items()):
        out.append(f'{name}{{{label},state="{state}"}} {go_float(count)}\n')


# Labels in the order prometheus_client writes them: sorted by name.
def _requests(out: list[str], name: str, label: str, calls: SystemStats) -> None:
    for cls, count in list(calls.requests.items()):
        out.append(f'{name}{{code_class="{cls}",{label}}} {go_float(count)}\n')


def _throttled(out: list[str], name: str, label: str, calls: SystemStats) -> None:
    out.append(f"{name}{{{label}}} {go_float(calls.throttled)}\n")


def _api_duration(out: list[str], name: str, label: str, calls: SystemStats) -> None:
    if calls.durations is None:
        return
    cumulative = list(itertools.accumulate(calls.durations))
    for le, count in zip(API_DURATION_LE, cumulative, strict=True):
        out.append(f'{name}_bucket{{le="{le}",{label}}} {go_float(count)}\n')
    out.append(f"{name}_count{{{label}}} {go_float(cumulative[-1])}\n")
    out.append(f"{name}_sum{{{label}}} {go_float(calls.duration_sum)}\n")


_ConnectionLines = Callable[[list[str], str, str, ConnectionStats], None]
_SystemLines = Callable[[list[str], str, str, SystemStats], None]

# Family by family, as StatsCollector exports them.
_CONNECTION_FAMILIES: tuple[tuple[_Spec, str, _ConnectionLines], ...] = (
    (_CONNECTION_UP, "gauge", _up),
    (_JOB_RUNS, "counter", _job_field("runs")),
    (_JOB_FAILURES, "counter", _job_field("failures")),
    (_JOB_LAST_DURATION, "gauge", _job_field("last_duration")),
    (_LAST_SUCCESS, "gauge", _job_field("last_success", optional=True)),
    (_JOB_INTERVAL, "gauge", _job_field("interval", optional=True)),
    (_ORDERS_IMPORTED, "counter", _field("orders_imported")),
    (_ORDERS_ACKNOWLEDGED, "counter", _field("orders_acknowledged")),
    (_ORDERS_SHIPPED, "counter", _field("orders_shipped")),
    (_ORDERS_QUARANTINED, "counter", _field("orders_quarantined")),
    (_ORDERS_BY_STATE, "gauge", _by_state),
    (_SHIPMENTS_WAITING, "gauge", _field("shipments_waiting")),
    (_OLDEST_WAITING, "gauge", _field("oldest_waiting")),
    (_STOCK_PUSHED, "counter", _field("stock_pushed")),
    (_STOCK_REJECTED, "counter", _field("stock_rejected")),
)
_SYSTEM_FAMILIES: tuple[tuple[_Spec, str, _SystemLines], ...] = (
    (_API_REQUESTS, "counter", _requests),
    (_API_THROTTLED, "counter", _throttled),
    (_API_DURATION, "histogram", _api_duration),
)
