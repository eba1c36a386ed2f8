"""Prometheus metrics of the daemon.

Labels are bounded by configuration: ``connection`` (configured connection name), ``task`` (the job name, one
of :data:`JOBS`; not ``job``, which Prometheus reserves for the scrape job), ``system`` (configured store or marketplace name), ``code_class`` (``2xx`` … ``5xx``, ``error``).
Never order ids, SKUs or e-mail addresses. Series known in advance are created with value 0 by
:func:`init_connection` so alert rules and dashboards see them from start.

Every metric is documented in ``docs/operations.md``; a test fails when one is not.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.registry import REGISTRY

from . import __version__

__all__ = [
    "CODE_CLASSES",
    "JOBS",
    "ORDER_STATES",
    "Metrics",
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


class Metrics:
    """All metric objects of one daemon, on one registry (the global one by default)."""

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
        self.connection_up = Gauge(
            "ordersyncd_connection_up",
            "1 when the connection's last job run reached both remote systems, 0 when it failed.",
            ["connection"],
            registry=r,
        )
        self.job_runs = Counter(
            "ordersyncd_job_runs_total",
            "Job runs per connection and job (label task: the job name).",
            ["connection", "task"],
            registry=r,
        )
        self.job_failures = Counter(
            "ordersyncd_job_failures_total", "Job runs that failed.", ["connection", "task"], registry=r
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
        for job in JOBS:
            self.job_duration.labels(task=job)
        self.job_last_duration = Gauge(
            "ordersyncd_job_last_duration_seconds",
            "Duration of the last run per connection and job.",
            ["connection", "task"],
            registry=r,
        )
        self.last_success = Gauge(
            "ordersyncd_job_last_success_timestamp_seconds",
            "Unix time of the last successful run per connection and job (absent until the first success).",
            ["connection", "task"],
            registry=r,
        )
        self.job_interval = Gauge(
            "ordersyncd_job_interval_seconds",
            "Configured interval of each job (alert rules compare the last success against it).",
            ["connection", "task"],
            registry=r,
        )
        self.orders_imported = Counter(
            "ordersyncd_orders_imported_total", "Orders created in the store.", ["connection"], registry=r
        )
        self.orders_acknowledged = Counter(
            "ordersyncd_orders_acknowledged_total",
            "Orders acknowledged at the marketplace.",
            ["connection"],
            registry=r,
        )
        self.orders_shipped = Counter(
            "ordersyncd_orders_shipped_total",
            "Shipments reported to the marketplace.",
            ["connection"],
            registry=r,
        )
        self.orders_quarantined = Counter(
            "ordersyncd_orders_quarantined_total",
            "Orders moved to needs_attention.",
            ["connection"],
            registry=r,
        )
        self.orders_by_state = Gauge(
            "ordersyncd_orders", "Orders in the journal by state.", ["connection", "state"], registry=r
        )
        self.shipments_waiting = Gauge(
            "ordersyncd_shipments_waiting_for_codes",
            "Shipments held because a mandatory tracking code is missing.",
            ["connection"],
            registry=r,
        )
        self.oldest_waiting = Gauge(
            "ordersyncd_shipments_waiting_oldest_timestamp_seconds",
            "Unix time since which the oldest held shipment waits for codes (0 when none waits).",
            ["connection"],
            registry=r,
        )
        self.api_requests = Counter(
            "ordersyncd_api_requests_total",
            "Requests to remote APIs by system and status class.",
            ["system", "code_class"],
            registry=r,
        )
        self.api_throttled = Counter(
            "ordersyncd_api_throttled_total",
            "Remote API answers asking us to slow down (429/THROTTLED).",
            ["system"],
            registry=r,
        )
        self.api_duration = Histogram(
            "ordersyncd_api_request_duration_seconds",
            "Duration of remote API requests.",
            ["system"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.stock_pushed = Counter(
            "ordersyncd_stock_items_pushed_total",
            "Stock items accepted by the marketplace.",
            ["connection"],
            registry=r,
        )
        self.stock_rejected = Counter(
            "ordersyncd_stock_items_rejected_total",
            "Stock items rejected by the marketplace.",
            ["connection"],
            registry=r,
        )
        self.alerts_sent = Counter(
            "ordersyncd_alerts_sent_total", "Alert e-mails delivered to the SMTP server.", registry=r
        )
        self.alerts_failed = Counter(
            "ordersyncd_alert_failures_total", "Alert e-mail delivery attempts that failed.", registry=r
        )

    def init_plugins(self, plugins: Iterable[tuple[str, str, str]]) -> None:
        for name, dist, version in plugins:
            self.plugin_info.labels(plugin=name, distribution=dist, version=version).set(1)

    def init_connection(self, connection: str, systems: Iterable[str]) -> None:
        """Create every series of a connection with value 0 so they exist from start."""
        self.connection_up.labels(connection=connection)
        for job in JOBS:
            self.job_runs.labels(connection=connection, task=job)
            self.job_failures.labels(connection=connection, task=job)
            self.job_last_duration.labels(connection=connection, task=job)
        for counter in (
            self.orders_imported,
            self.orders_acknowledged,
            self.orders_shipped,
            self.orders_quarantined,
            self.stock_pushed,
            self.stock_rejected,
        ):
            counter.labels(connection=connection)
        for state in ORDER_STATES:
            self.orders_by_state.labels(connection=connection, state=state)
        self.shipments_waiting.labels(connection=connection)
        self.oldest_waiting.labels(connection=connection)
        for system in systems:
            for cls in CODE_CLASSES:
                self.api_requests.labels(system=system, code_class=cls)
            self.api_throttled.labels(system=system)

    def forget_connection(self, connection: str) -> None:
        """Drop a connection's series (after a reload removed it)."""
        for gauge in (self.connection_up, self.shipments_waiting, self.oldest_waiting):
            with contextlib.suppress(KeyError):
                gauge.remove(connection)
        for metric in (
            self.job_runs,
            self.job_failures,
            self.last_success,
            self.job_interval,
            self.job_last_duration,
        ):
            for job in JOBS:
                with contextlib.suppress(KeyError):
                    metric.remove(connection, job)
        for state in ORDER_STATES:
            with contextlib.suppress(KeyError):
                self.orders_by_state.remove(connection, state)
