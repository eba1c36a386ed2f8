"""The per-connection series, kept as plain values and exported by one collector at scrape time: what a scrape
shows (names, types, HELP, labels, values), from start, after updates and after a connection is forgotten."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ordersyncd.journal import ShipmentState, SqliteJournal
from ordersyncd.metrics import CODE_CLASSES, JOBS, ORDER_STATES, Metrics
from ordersyncd.model import RawOrder, Shipment, ShipmentLine
from ordersyncd.runtime import Daemon

#: Every family the collector exports: type, HELP text, label names. Dashboards, alert rules and
#: docs/operations.md use these; they were the same as prometheus_client metrics before the collector.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ordersyncd_connection_up": (
        "gauge",
        "1 when the connection's last job run reached both remote systems, 0 when it failed.",
        ("connection",),
    ),
    "ordersyncd_job_runs": (
        "counter",
        "Job runs per connection and job (label task: the job name).",
        ("connection", "task"),
    ),
    "ordersyncd_job_failures": ("counter", "Job runs that failed.", ("connection", "task")),
    "ordersyncd_job_last_duration_seconds": (
        "gauge",
        "Duration of the last run per connection and job.",
        ("connection", "task"),
    ),
    "ordersyncd_job_last_success_timestamp_seconds": (
        "gauge",
        "Unix time of the last successful run per connection and job (absent until the first success).",
        ("connection", "task"),
    ),
    "ordersyncd_job_interval_seconds": (
        "gauge",
        "Configured interval of each job (alert rules compare the last success against it).",
        ("connection", "task"),
    ),
    "ordersyncd_orders_imported": ("counter", "Orders created in the store.", ("connection",)),
    "ordersyncd_orders_acknowledged": ("counter", "Orders acknowledged at the marketplace.", ("connection",)),
    "ordersyncd_orders_shipped": ("counter", "Shipments reported to the marketplace.", ("connection",)),
    "ordersyncd_orders_quarantined": ("counter", "Orders moved to needs_attention.", ("connection",)),
    "ordersyncd_orders": ("gauge", "Orders in the journal by state.", ("connection", "state")),
    "ordersyncd_shipments_waiting_for_codes": (
        "gauge",
        "Shipments held because a mandatory tracking code is missing.",
        ("connection",),
    ),
    "ordersyncd_shipments_waiting_oldest_timestamp_seconds": (
        "gauge",
        "Unix time since which the oldest held shipment waits for codes (0 when none waits).",
        ("connection",),
    ),
    "ordersyncd_stock_items_pushed": ("counter", "Stock items accepted by the marketplace.", ("connection",)),
    "ordersyncd_stock_items_rejected": (
        "counter",
        "Stock items rejected by the marketplace.",
        ("connection",),
    ),
    "ordersyncd_api_requests": (
        "counter",
        "Requests to remote APIs by system and status class.",
        ("system", "code_class"),
    ),
    "ordersyncd_api_throttled": (
        "counter",
        "Remote API answers asking us to slow down (429/THROTTLED).",
        ("system",),
    ),
}
#: Series that exist only once set: the last success, and the interval of the jobs a connection runs.
LATER = {"ordersyncd_job_last_success_timestamp_seconds", "ordersyncd_job_interval_seconds"}


def scrape(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) → value of every sample of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def series_of(text: str, label: str, value: str) -> set[str]:
    """Names of the samples with ``label="value"``."""
    return {name for name, labels in samples(text) if (label, value) in labels}


def test_families_keep_their_names_types_help_and_labels() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_connection("c", ["s"])
    stats = metrics.connection("c")
    stats.job_succeeded("poll_orders", 1.0)
    stats.set_interval("poll_orders", 60.0)
    text = scrape(metrics)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, (kind, documentation, labels) in FAMILIES.items():
        family = families[name]
        assert (family.type, family.documentation) == (kind, documentation), name
        assert family.samples, name
        for sample in family.samples:
            assert sample.name == name + ("_total" if kind == "counter" else ""), sample
            assert tuple(sorted(sample.labels)) == tuple(sorted(labels)), sample
    assert "# TYPE ordersyncd_job_runs_total counter\n" in text
    # The collector's counters have no _created series.
    assert "ordersyncd_job_runs_created" not in text
    assert "ordersyncd_api_requests_created" not in text


def test_init_connection_exposes_every_known_series_with_zero() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_connection("c", ["zalando-de", "shop"])
    text = scrape(metrics)
    got = samples(text)
    expected = {("ordersyncd_connection_up", frozenset({("connection", "c")}))}
    for job in JOBS:
        for name in ("ordersyncd_job_runs_total", "ordersyncd_job_failures_total"):
            expected.add((name, frozenset({("connection", "c"), ("task", job)})))
        expected.add(
            ("ordersyncd_job_last_duration_seconds", frozenset({("connection", "c"), ("task", job)}))
        )
    for name in (
        "ordersyncd_orders_imported_total",
        "ordersyncd_orders_acknowledged_total",
        "ordersyncd_orders_shipped_total",
        "ordersyncd_orders_quarantined_total",
        "ordersyncd_stock_items_pushed_total",
        "ordersyncd_stock_items_rejected_total",
        "ordersyncd_shipments_waiting_for_codes",
        "ordersyncd_shipments_waiting_oldest_timestamp_seconds",
    ):
        expected.add((name, frozenset({("connection", "c")})))
    for state in ORDER_STATES:
        expected.add(("ordersyncd_orders", frozenset({("connection", "c"), ("state", state)})))
    for system in ("zalando-de", "shop"):
        for cls in CODE_CLASSES:
            expected.add(
                ("ordersyncd_api_requests_total", frozenset({("system", system), ("code_class", cls)}))
            )
        expected.add(("ordersyncd_api_throttled_total", frozenset({("system", system)})))
    collector_names = {n + "_total" if k == "counter" else n for n, (k, _, _) in FAMILIES.items()}
    exported = {key: v for key, v in got.items() if key[0] in collector_names}
    assert set(exported) == expected
    assert set(exported.values()) == {0.0}
    # Absent until set, as documented.
    assert not LATER & {name for name, _ in got}


def test_updates_show_in_the_next_scrape() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_connection("c", ["mp", "st"])
    metrics.init_connection("d", ["mp", "st"])
    stats = metrics.connection("c")
    stats.set_interval("poll_orders", 120.0)
    stats.job_ran("poll_orders", 0.25)
    stats.job_succeeded("poll_orders", 1_700_000_000.0)
    stats.job_ran("poll_orders", 0.5)
    stats.job_failed("poll_orders")
    stats.set_up(True)
    stats.orders_imported += 3
    stats.orders_acknowledged += 2
    stats.orders_shipped += 1
    stats.orders_quarantined += 1
    stats.stock_pushed += 40
    stats.stock_rejected += 2
    stats.orders_by_state["acknowledged"] = 7
    stats.shipments_waiting = 2
    stats.oldest_waiting = 1_699_999_000.0
    metrics.system("mp").record(200, 0.1)
    metrics.system("mp").record(429, 0.2)
    metrics.system("st").record(None, 30.0)
    text = scrape(metrics)
    c, job = {"connection": "c"}, {"connection": "c", "task": "poll_orders"}
    assert value(text, "ordersyncd_connection_up", **c) == 1.0
    assert value(text, "ordersyncd_connection_up", connection="d") == 0.0
    assert value(text, "ordersyncd_job_runs_total", **job) == 2.0
    assert value(text, "ordersyncd_job_failures_total", **job) == 1.0
    assert value(text, "ordersyncd_job_last_duration_seconds", **job) == 0.5
    assert value(text, "ordersyncd_job_last_success_timestamp_seconds", **job) == 1_700_000_000.0
    assert value(text, "ordersyncd_job_interval_seconds", **job) == 120.0
    assert value(text, "ordersyncd_job_runs_total", connection="c", task="sync_stock") == 0.0
    assert value(text, "ordersyncd_job_interval_seconds", connection="c", task="sync_stock") is None
    assert value(text, "ordersyncd_job_runs_total", connection="d", task="poll_orders") == 0.0
    # The all-connections histogram saw both runs.
    assert value(text, "ordersyncd_job_duration_seconds_count", task="poll_orders") == 2.0
    assert value(text, "ordersyncd_job_duration_seconds_sum", task="poll_orders") == 0.75
    assert value(text, "ordersyncd_orders_imported_total", **c) == 3.0
    assert value(text, "ordersyncd_orders_acknowledged_total", **c) == 2.0
    assert value(text, "ordersyncd_orders_shipped_total", **c) == 1.0
    assert value(text, "ordersyncd_orders_quarantined_total", **c) == 1.0
    assert value(text, "ordersyncd_stock_items_pushed_total", **c) == 40.0
    assert value(text, "ordersyncd_stock_items_rejected_total", **c) == 2.0
    assert value(text, "ordersyncd_orders", connection="c", state="acknowledged") == 7.0
    assert value(text, "ordersyncd_orders", connection="c", state="held") == 0.0
    assert value(text, "ordersyncd_shipments_waiting_for_codes", **c) == 2.0
    assert value(text, "ordersyncd_shipments_waiting_oldest_timestamp_seconds", **c) == 1_699_999_000.0
    assert value(text, "ordersyncd_orders_imported_total", connection="d") == 0.0
    assert value(text, "ordersyncd_api_requests_total", system="mp", code_class="2xx") == 1.0
    assert value(text, "ordersyncd_api_requests_total", system="mp", code_class="4xx") == 1.0
    assert value(text, "ordersyncd_api_throttled_total", system="mp") == 1.0
    assert value(text, "ordersyncd_api_requests_total", system="st", code_class="error") == 1.0
    assert value(text, "ordersyncd_api_throttled_total", system="st") == 0.0
    assert value(text, "ordersyncd_api_request_duration_seconds_count", system="mp") == 2.0
    assert value(text, "ordersyncd_api_request_duration_seconds_sum", system="st") == 30.0
    assert 'ordersyncd_orders_imported_total{connection="c"} 3.0\n' in text


def test_init_connection_keeps_the_values_a_connection_has() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.connection("c").orders_imported += 1
    metrics.init_connection("c", ["s"])
    assert value(scrape(metrics), "ordersyncd_orders_imported_total", connection="c") == 1.0


def test_forget_connection_drops_its_series_and_keeps_the_others() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_connection("c", ["mp", "shop"])
    metrics.init_connection("d", ["mp2", "shop"])
    metrics.connection("c").job_succeeded("poll_orders", 5.0)
    metrics.connection("c").set_interval("poll_orders", 60.0)
    metrics.connection("c").orders_imported += 1
    metrics.system("mp").record(200, 0.1)
    before = scrape(metrics)
    assert len(series_of(before, "connection", "c")) == len(FAMILIES) - 2
    metrics.forget_connection("c")
    metrics.forget_connection("never-known")
    text = scrape(metrics)
    assert 'connection="c"' not in text
    assert series_of(text, "connection", "d") == series_of(before, "connection", "d")
    # Request counters are per remote system, which other connections may share: they stay.
    assert value(text, "ordersyncd_api_requests_total", system="mp", code_class="2xx") == 1.0
    # The families stay declared without series, as a labelled metric without children is.
    assert "# TYPE ordersyncd_job_last_success_timestamp_seconds gauge\n" in text
    metrics.init_connection("c", ["mp", "shop"])
    assert value(scrape(metrics), "ordersyncd_orders_imported_total", connection="c") == 0.0


def test_a_scrape_survives_connections_added_and_removed_meanwhile() -> None:
    """The web server may scrape from another thread than the one updating the stats: collecting iterates over
    copies, so a connection added or removed meanwhile never fails a scrape."""
    metrics = Metrics(CollectorRegistry())
    for i in range(200):
        metrics.init_connection(f"c{i}", [f"s{i}"])
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            metrics.init_connection(f"new{n % 100}", [f"new{n % 100}"])
            metrics.forget_connection(f"new{(n + 50) % 100}")
            metrics.connection(f"c{n % 200}").job(f"extra{n % 7}")
            n += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(10):
            assert 'ordersyncd_connection_up{connection="c199"} 0.0' in scrape(metrics)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)


def test_a_second_metrics_on_the_same_registry_is_refused() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)


@pytest.mark.anyio
async def test_refresh_gauges_reads_orders_and_held_shipments_of_every_connection(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    await journal.open()
    try:
        for connection, orders in (("a", 3), ("b", 1)):
            raws = [
                RawOrder(order_id=f"O-{n}", modified_at=datetime(2024, 5, 1, tzinfo=UTC), payload={"id": n})
                for n in range(orders)
            ]
            await journal.persist_fetched(connection, raws, 800.0, system="zalando")
        for connection, shipment_id, held_at in (
            ("a", "SH-1", 1_000.0),
            ("a", "SH-2", 900.0),
            ("b", "SH-3", None),
        ):
            shipment = Shipment(
                shipment_id=shipment_id,
                order_id="O-0",
                carrier="DHL",
                lines=(ShipmentLine(line_id="L1", quantity=1),),
            )
            await journal.upsert_shipment(connection, shipment, 800.0)
            if held_at is not None:
                await journal.set_shipment_state(
                    connection, shipment_id, ShipmentState.HELD, held_at, missing=["tracking_code"]
                )
        daemon = Daemon(None, registry=CollectorRegistry())
        daemon.journal = journal
        daemon.config = SimpleNamespace(connections={"a": None, "b": None})  # only its connections are read
        await daemon.refresh_gauges()
        text = scrape(daemon.metrics)
    finally:
        await journal.close()
    assert value(text, "ordersyncd_orders", connection="a", state="received") == 3.0
    assert value(text, "ordersyncd_orders", connection="b", state="received") == 1.0
    assert value(text, "ordersyncd_orders", connection="a", state="created") == 0.0
    assert value(text, "ordersyncd_shipments_waiting_for_codes", connection="a") == 2.0
    assert value(text, "ordersyncd_shipments_waiting_oldest_timestamp_seconds", connection="a") == 900.0
    assert value(text, "ordersyncd_shipments_waiting_for_codes", connection="b") == 0.0
    assert value(text, "ordersyncd_shipments_waiting_oldest_timestamp_seconds", connection="b") == 0.0
