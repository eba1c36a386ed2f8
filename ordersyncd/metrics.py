"""Prometheus metrics of the daemon.

Labels are bounded by configuration: ``connection`` (configured connection name), ``task`` (the job name, one
of :data:`JOBS`; not ``job``, which Prometheus reserves for the scrape job), ``system`` (configured store or marketplace name), ``code_class`` (``2xx`` … ``5xx``, ``error``).
Never order ids, SKUs or e-mail addresses. Series known in advance are created with value 0 by
:meth:`Metrics.init_connection` so alert rules and dashboards see them from start.

The series of a connection (and the request counters of a remote system) are not prometheus_client metric
objects: as labelled children (each with its own lock, label dict, value object and, for a counter, a
``_created`` value) they cost about 28 KB per connection, 140 MB at 5,000 connections, and a ``labels()`` lookup
under a lock for every update. Instead each connection has a :class:`ConnectionStats` of plain values (each
system a :class:`SystemStats`; together under 2 KB per connection), updated on the event loop thread, and one
:class:`StatsCollector` turns them into metric families when Prometheus scrapes (prometheus_client's "custom
collector"). Counters exported that way have no ``_created`` series; nor has the per-system request duration
histogram, whose bucket counts :class:`SystemStats` keeps too. What is neither per connection nor per system
(build and plugin info, the all-connections job histograms, alert e-mails) stays ordinary prometheus_client
metrics. ``/metrics`` writes the per-connection and per-system families straight from these objects, piece by
piece (:mod:`ordersyncd.exposition`); the collector gives the same series to anything that collects the registry.

Every metric is documented in ``docs/operations.md``; a test fails when one is not.
"""

from __future__ import annotations

import itertools
import platform
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import REGISTRY, Collector
from prometheus_client.utils import floatToGoString

from . import __version__

__all__ = [
    "CODE_CLASSES",
    "JOBS",
    "ORDER_STATES",
    "ConnectionStats",
    "JobStats",
    "Metrics",
    "StatsCollector",
    "SystemStats",
    "code_class",
]

JOBS: tuple[str, ...] = ("poll_orders", "advance_orders", "poll_shipments", "sync_stock", "reconcile")
ORDER_STATES: tuple[str, ...] = (
    "received",
    "created",
    "acknowledged",
    "shipped",
    "held",
    "needs_attention",
    "cancelled",
    "returned",
)
CODE_CLASSES: tuple[str, ...] = ("2xx", "3xx", "4xx", "5xx", "error")


def code_class(status: int | None) -> str:
    """``2xx``… for an HTTP status, ``error`` when no response arrived (timeout, connection error)."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


class JobStats:
    """One job of one connection."""

    __slots__ = ("failures", "interval", "last_duration", "last_success", "runs")

    def __init__(self) -> None:
        self.runs = 0
        self.failures = 0
        #: Seconds the last run took (0 until the first run).
        self.last_duration = 0.0
        #: Unix time of the last successful run; ``None`` (no series) until the first success.
        self.last_success: float | None = None
        #: The configured interval; ``None`` (no series) until the worker sets it.
        self.interval: float | None = None


class ConnectionStats:
    """The per-connection series of one connection as plain values, exported at scrape time.

    Get it with :meth:`Metrics.connection` and update it on the event loop thread: the counters
    (``orders_*``, ``stock_*``) by adding to them, the gauges the daemon refreshes per scrape
    (``orders_by_state``, ``shipments_waiting``, ``oldest_waiting``) by setting them, the job series with the
    methods.
    """

    __slots__ = (
        "_observe_job_duration",
        "jobs",
        "oldest_waiting",
        "orders_acknowledged",
        "orders_by_state",
        "orders_imported",
        "orders_quarantined",
        "orders_shipped",
        "shipments_waiting",
        "stock_pushed",
        "stock_rejected",
        "up",
    )

    def __init__(self, observe_job_duration: Callable[[str, float], None] | None = None) -> None:
        #: ``ordersyncd_connection_up``: the last job run reached both remote systems (False until the first).
        self.up = False
        #: Per job (every job of :data:`JOBS` from start, whether the connection runs it or not).
        self.jobs: dict[str, JobStats] = {job: JobStats() for job in JOBS}
        self.orders_imported = 0
        self.orders_acknowledged = 0
        self.orders_shipped = 0
        self.orders_quarantined = 0
        self.stock_pushed = 0
        self.stock_rejected = 0
        #: Orders in the journal per state (every state of :data:`ORDER_STATES`).
        self.orders_by_state: dict[str, int] = dict.fromkeys(ORDER_STATES, 0)
        self.shipments_waiting = 0
        #: Unix time since which the oldest held shipment waits; 0 when none waits.
        self.oldest_waiting = 0.0
        # The all-connections job duration histogram (Metrics.job_duration), shared by every connection.
        self._observe_job_duration = observe_job_duration

    def job(self, task: str) -> JobStats:
        """The stats of a job (created when the task is not one of :data:`JOBS`)."""
        stats = self.jobs.get(task)
        if stats is None:
            stats = self.jobs[task] = JobStats()
        return stats

    def set_up(self, up: bool) -> None:
        """Whether the last job run reached both remote systems."""
        self.up = up

    def set_interval(self, task: str, seconds: float) -> None:
        """The configured interval of a job the connection runs."""
        self.job(task).interval = seconds

    def job_ran(self, task: str, duration: float) -> None:
        """A run of the job ended (whatever its outcome) after ``duration`` seconds: counts it, keeps its
        duration and observes it in the all-connections histogram ``ordersyncd_job_duration_seconds``."""
        stats = self.job(task)
        stats.runs += 1
        stats.last_duration = duration
        if self._observe_job_duration is not None:
            self._observe_job_duration(task, duration)

    def job_succeeded(self, task: str, at: float) -> None:
        """The run of the job that ended at Unix time ``at`` succeeded."""
        self.job(task).last_success = at

    def job_failed(self, task: str) -> None:
        """The run of the job failed."""
        self.job(task).failures += 1


#: prometheus_client's own number format of the text exposition (the library leaves it untyped).
go_float = cast(Callable[[float], str], floatToGoString)

#: Upper bounds of ``ordersyncd_api_request_duration_seconds`` (``+Inf`` implied).
API_DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: Their ``le`` label values, as prometheus_client writes them, ``+Inf`` last.
API_DURATION_LE: tuple[str, ...] = (*map(go_float, API_DURATION_BUCKETS), "+Inf")


class SystemStats:
    """Requests to one remote system (a configured store or marketplace), shared by every connection using it."""

    __slots__ = ("duration_sum", "durations", "requests", "throttled")

    def __init__(self) -> None:
        #: Requests per status class (every class of :data:`CODE_CLASSES`).
        self.requests: dict[str, int] = dict.fromkeys(CODE_CLASSES, 0)
        #: Answers asking to slow down (HTTP 429).
        self.throttled = 0
        #: Requests per duration bucket (not cumulative; the last one past the last bound), ``None`` before the
        #: first request: the system's 14 histogram series are not exported before they have something to say.
        self.durations: list[int] | None = None
        self.duration_sum = 0.0

    def record(self, status: int | None, duration: float) -> None:
        """One request that ended with ``status`` (``None``: no response) after ``duration`` seconds."""
        self.requests[code_class(status)] += 1
        if status == 429:
            self.throttled += 1
        if self.durations is None:
            self.durations = [0] * (len(API_DURATION_BUCKETS) + 1)
        self.durations[bisect_left(API_DURATION_BUCKETS, duration)] += 1
        self.duration_sum += duration


# The families the collector exports: name, HELP text, label names. Names, texts and labels are what dashboards,
# alert rules and docs/operations.md know; they must not change.
_CONNECTION_UP = (
    "ordersyncd_connection_up",
    "1 when the connection's last job run reached both remote systems, 0 when it failed.",
    ("connection",),
)
_JOB_RUNS = (
    "ordersyncd_job_runs_total",
    "Job runs per connection and job (label task: the job name).",
    ("connection", "task"),
)
_JOB_FAILURES = ("ordersyncd_job_failures_total", "Job runs that failed.", ("connection", "task"))
_JOB_LAST_DURATION = (
    "ordersyncd_job_last_duration_seconds",
    "Duration of the last run per connection and job.",
    ("connection", "task"),
)
_LAST_SUCCESS = (
    "ordersyncd_job_last_success_timestamp_seconds",
    "Unix time of the last successful run per connection and job (absent until the first success).",
    ("connection", "task"),
)
_JOB_INTERVAL = (
    "ordersyncd_job_interval_seconds",
    "Configured interval of each job (alert rules compare the last success against it).",
    ("connection", "task"),
)
_ORDERS_IMPORTED = ("ordersyncd_orders_imported_total", "Orders created in the store.", ("connection",))
_ORDERS_ACKNOWLEDGED = (
    "ordersyncd_orders_acknowledged_total",
    "Orders acknowledged at the marketplace.",
    ("connection",),
)
_ORDERS_SHIPPED = (
    "ordersyncd_orders_shipped_total",
    "Shipments reported to the marketplace.",
    ("connection",),
)
_ORDERS_QUARANTINED = (
    "ordersyncd_orders_quarantined_total",
    "Orders moved to needs_attention.",
    ("connection",),
)
_ORDERS_BY_STATE = ("ordersyncd_orders", "Orders in the journal by state.", ("connection", "state"))
_SHIPMENTS_WAITING = (
    "ordersyncd_shipments_waiting_for_codes",
    "Shipments held because a mandatory tracking code is missing.",
    ("connection",),
)
_OLDEST_WAITING = (
    "ordersyncd_shipments_waiting_oldest_timestamp_seconds",
    "Unix time since which the oldest held shipment waits for codes (0 when none waits).",
    ("connection",),
)
_API_REQUESTS = (
    "ordersyncd_api_requests_total",
    "Requests to remote APIs by system and status class.",
    ("system", "code_class"),
)
_API_THROTTLED = (
    "ordersyncd_api_throttled_total",
    "Remote API answers asking us to slow down (429/THROTTLED).",
    ("system",),
)
_API_DURATION = (
    "ordersyncd_api_request_duration_seconds",
    "Duration of remote API requests.",
    ("system",),
)
_STOCK_PUSHED = (
    "ordersyncd_stock_items_pushed_total",
    "Stock items accepted by the marketplace.",
    ("connection",),
)
_STOCK_REJECTED = (
    "ordersyncd_stock_items_rejected_total",
    "Stock items rejected by the marketplace.",
    ("connection",),
)


def _counter(spec: tuple[str, str, tuple[str, ...]]) -> CounterMetricFamily:
    name, documentation, labels = spec
    return CounterMetricFamily(name, documentation, labels=labels)


def _gauge(spec: tuple[str, str, tuple[str, ...]]) -> GaugeMetricFamily:
    name, documentation, labels = spec
    return GaugeMetricFamily(name, documentation, labels=labels)


class StatsCollector(Collector):
    """Exports every :class:`ConnectionStats` and :class:`SystemStats` when the registry is collected.

    A family is exported even when no connection has a series in it (``# HELP`` and ``# TYPE`` only), as a
    labelled prometheus_client metric without children is. A connection or system added or removed while a
    scrape runs is exported or not, never an error: the scrape iterates over copies.
    """

    def __init__(self, connections: dict[str, ConnectionStats], systems: dict[str, SystemStats]) -> None:
        self._connections = connections
        self._systems = systems
        self._local = threading.local()

    @contextmanager
    def suppressed(self) -> Iterator[None]:
        """Collect nothing in this thread meanwhile (:mod:`ordersyncd.exposition` writes these families)."""
        self._local.suppressed = True
        try:
            yield
        finally:
            self._local.suppressed = False

    def describe(self) -> list[Metric]:
        """The families without samples: the registry learns their names (and refuses duplicates) from them."""
        return self._families(with_samples=False)

    def collect(self) -> list[Metric]:
        if getattr(self._local, "suppressed", False):
            return []
        return self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> list[Metric]:
        up = _gauge(_CONNECTION_UP)
        runs = _counter(_JOB_RUNS)
        failures = _counter(_JOB_FAILURES)
        last_duration = _gauge(_JOB_LAST_DURATION)
        last_success = _gauge(_LAST_SUCCESS)
        interval = _gauge(_JOB_INTERVAL)
        imported = _counter(_ORDERS_IMPORTED)
        acknowledged = _counter(_ORDERS_ACKNOWLEDGED)
        shipped = _counter(_ORDERS_SHIPPED)
        quarantined = _counter(_ORDERS_QUARANTINED)
        by_state = _gauge(_ORDERS_BY_STATE)
        waiting = _gauge(_SHIPMENTS_WAITING)
        oldest = _gauge(_OLDEST_WAITING)
        requests = _counter(_API_REQUESTS)
        throttled = _counter(_API_THROTTLED)
        api_duration = HistogramMetricFamily(_API_DURATION[0], _API_DURATION[1], labels=_API_DURATION[2])
        pushed = _counter(_STOCK_PUSHED)
        rejected = _counter(_STOCK_REJECTED)
        if with_samples:
            for name, stats in list(self._connections.items()):
                up.add_metric((name,), 1.0 if stats.up else 0.0)
                for task, job in list(stats.jobs.items()):
                    runs.add_metric((name, task), job.runs)
                    failures.add_metric((name, task), job.failures)
                    last_duration.add_metric((name, task), job.last_duration)
                    if job.last_success is not None:
                        last_success.add_metric((name, task), job.last_success)
                    if job.interval is not None:
                        interval.add_metric((name, task), job.interval)
                imported.add_metric((name,), stats.orders_imported)
                acknowledged.add_metric((name,), stats.orders_acknowledged)
                shipped.add_metric((name,), stats.orders_shipped)
                quarantined.add_metric((name,), stats.orders_quarantined)
                for state, count in list(stats.orders_by_state.items()):
                    by_state.add_metric((name, state), count)
                waiting.add_metric((name,), stats.shipments_waiting)
                oldest.add_metric((name,), stats.oldest_waiting)
                pushed.add_metric((name,), stats.stock_pushed)
                rejected.add_metric((name,), stats.stock_rejected)
            for system, calls in list(self._systems.items()):
                for cls, count in list(calls.requests.items()):
                    requests.add_metric((system, cls), count)
                throttled.add_metric((system,), calls.throttled)
                if calls.durations is not None:
                    cumulative = itertools.accumulate(calls.durations)
                    buckets = list(zip(API_DURATION_LE, cumulative, strict=True))
                    api_duration.add_metric((system,), buckets, calls.duration_sum)
        return [
            up,
            runs,
            failures,
            last_duration,
            last_success,
            interval,
            imported,
            acknowledged,
            shipped,
            quarantined,
            by_state,
            waiting,
            oldest,
            requests,
            throttled,
            api_duration,
            pushed,
            rejected,
        ]


class Metrics:
    """All metrics of one daemon, on one registry (the global one by default): ordinary prometheus_client
    metrics for what is not per connection, :class:`ConnectionStats` and :class:`SystemStats` (exported by a
    :class:`StatsCollector`) for what is."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        r = registry
        self.build_info = Info(
            "ordersyncd_build", "Version of ordersyncd and of Python it runs on.", registry=r
        )
        self.build_info.info({"version": __version__, "python": platform.python_version()})
        self.plugin_info = Gauge(
            "ordersyncd_plugin_info",
            "Installed plugins (value 1).",
            ["plugin", "distribution", "version"],
            registry=r,
        )
        # By job only: a histogram per connection and job is 14 series each (70 per connection, 350,000 at
        # 5,000 connections) for the daemon to keep and Prometheus to store. Per connection, the last duration.
        self.job_duration = Histogram(
            "ordersyncd_job_duration_seconds",
            "Duration of job runs, all connections together (label task: the job name).",
            ["task"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self._job_durations: dict[str, Histogram] = {job: self.job_duration.labels(task=job) for job in JOBS}
        # How late scheduled runs start: an overloaded daemon (too many connections for its CPU, a blocked event
        # loop) shows here before any job fails. By job only, like the durations.
        self.job_start_lag = Histogram(
            "ordersyncd_job_start_lag_seconds",
            "Seconds between a scheduled job run's due time and its start, all connections together"
            " (label task: the job name).",
            ["task"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self._job_start_lags: dict[str, Histogram] = {
            job: self.job_start_lag.labels(task=job) for job in JOBS
        }
        self.alerts_sent = Counter(
            "ordersyncd_alerts_sent_total", "Alert e-mails delivered to the SMTP server.", registry=r
        )
        self.alerts_failed = Counter(
            "ordersyncd_alert_failures_total", "Alert e-mail delivery attempts that failed.", registry=r
        )
        self._connections: dict[str, ConnectionStats] = {}
        self._systems: dict[str, SystemStats] = {}
        self._collector = StatsCollector(self._connections, self._systems)
        r.register(self._collector)
        # One bound method shared by every ConnectionStats (instead of one each).
        self._observe = self._observe_job_duration

    @property
    def connections(self) -> Mapping[str, ConnectionStats]:
        """The stats of every connection, by name."""
        return self._connections

    @property
    def systems(self) -> Mapping[str, SystemStats]:
        """The request stats of every remote system, by name."""
        return self._systems

    def ordinary_exposition(self) -> bytes:
        """The text exposition of the registry without the per-connection and per-system families (which
        :func:`ordersyncd.exposition.exposition` writes after it)."""
        with self._collector.suppressed():
            return generate_latest(self.registry)

    def init_plugins(self, plugins: Iterable[tuple[str, str, str]]) -> None:
        for name, dist, version in plugins:
            self.plugin_info.labels(plugin=name, distribution=dist, version=version).set(1)

    def connection(self, connection: str) -> ConnectionStats:
        """The stats of a connection, created (every series 0) when it has none."""
        stats = self._connections.get(connection)
        if stats is None:
            stats = self._connections[connection] = ConnectionStats(self._observe)
        return stats

    def system(self, system: str) -> SystemStats:
        """The request counters of a remote system (a store or marketplace name), created (0) when it has none."""
        stats = self._systems.get(system)
        if stats is None:
            stats = self._systems[system] = SystemStats()
        return stats

    def init_connection(self, connection: str, systems: Iterable[str]) -> None:
        """Create every series of a connection and of its remote systems with value 0 so they exist from
        start. Values a connection already has are kept."""
        self.connection(connection)
        for system in systems:
            self.system(system)

    def forget_connection(self, connection: str) -> None:
        """Drop a connection's series (when its worker stops: after a reload every connection's series start
        afresh, and a removed connection's are gone). Its systems' request counters stay: other connections may
        use the same store or marketplace."""
        self._connections.pop(connection, None)

    def job_started(self, task: str, lag: float) -> None:
        """A scheduled run of the job started ``lag`` seconds after it was due (observed in
        ``ordersyncd_job_start_lag_seconds``)."""
        _child(self._job_start_lags, self.job_start_lag, task).observe(max(0.0, lag))

    def _observe_job_duration(self, task: str, duration: float) -> None:
        _child(self._job_durations, self.job_duration, task).observe(duration)


def _child(children: dict[str, Histogram], histogram: Histogram, task: str) -> Histogram:
    """The child of an all-connections job histogram for ``task`` (made once, then kept in ``children``)."""
    child = children.get(task)
    if child is None:
        child = children[task] = histogram.labels(task=task)
    return child
