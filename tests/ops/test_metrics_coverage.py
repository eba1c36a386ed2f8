"""Every metric the dashboard and the alert rules use is exported, and the exposition follows conventions.

The exposition comes from :class:`ordersyncd.metrics.Metrics` on a fresh registry after
``init_connection("c", ["s"])`` (the series that exist from start). The lead adds the same check against a
running daemon.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ordersyncd.metrics import Metrics

from .queries import (
    dashboard_expressions,
    metric_names,
    rule_expressions,
    rule_test_series,
    selector_labels,
)
from .tools import run

#: Labels Prometheus attaches to every scraped series; ordersyncd must not expose labels of these names.
TARGET_LABELS = {"job", "instance"}


@pytest.fixture(scope="module")
def exposition() -> str:
    """The text exposition of a fresh daemon's metrics with one connection."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.init_connection("c", ["s"])
    metrics.init_plugins([("zalando", "ordersyncd", "0.1.0")])
    return generate_latest(registry).decode()


@pytest.fixture(scope="module")
def exercised_exposition() -> str:
    """The exposition after one of everything: metrics without series from start show their labels too."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.init_connection("c", ["s"])
    metrics.init_plugins([("zalando", "ordersyncd", "0.1.0")])
    stats = metrics.connection("c")
    stats.job_succeeded("poll_orders", 1)
    stats.set_interval("poll_orders", 120)
    metrics.system("s").record(200, 0.1)
    return generate_latest(registry).decode()


def exported_names(exposition: str) -> set[str]:
    """Series names a query may use: every sample name, plus the sample names of declared metrics that
    have no series yet (a labelled histogram before its first observation, a gauge that appears after the
    first success), derived from their ``# TYPE`` line."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return names


def exported_labels(exposition: str) -> dict[str, set[str]]:
    """Label names of each exported series name (declared-but-empty metrics have none recorded)."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def test_exposition_has_the_series_known_in_advance(exposition: str) -> None:
    names = exported_names(exposition)
    assert "ordersyncd_connection_up" in names
    assert "ordersyncd_orders_imported_total" in names
    assert 'ordersyncd_orders{connection="c",state="needs_attention"} 0.0' in exposition
    assert 'ordersyncd_api_requests_total{code_class="5xx",system="s"} 0.0' in exposition
    assert 'ordersyncd_job_runs_total{connection="c",task="poll_orders"} 0.0' in exposition
    assert 'ordersyncd_job_duration_seconds_count{task="reconcile"} 0.0' in exposition
    assert 'ordersyncd_job_last_duration_seconds{connection="c",task="reconcile"} 0.0' in exposition


def test_exposed_labels_do_not_collide_with_target_labels(exercised_exposition: str) -> None:
    collisions = {
        name: sorted(labels & TARGET_LABELS)
        for name, labels in exported_labels(exercised_exposition).items()
        if labels & TARGET_LABELS
    }
    assert collisions == {}, "Prometheus would store these labels as exported_<name>"


@pytest.mark.parametrize(
    ("source", "expressions"),
    [
        ("dashboard", dashboard_expressions()),
        ("alert rules", rule_expressions()),
        ("alert rule tests", rule_test_series()),
    ],
)
def test_every_metric_used_is_exported(exposition: str, source: str, expressions: list[str]) -> None:
    used = metric_names(expressions)
    assert len(used) >= 3, f"no metrics found in the {source}: the extraction is broken"
    missing = sorted(used - exported_names(exposition))
    assert missing == [], f"{source} use metrics ordersyncd does not export: {missing}"


def test_dashboard_rules_and_rule_tests_use_only_existing_labels(exercised_exposition: str) -> None:
    known = exported_labels(exercised_exposition)
    problems: list[str] = []
    used = selector_labels(dashboard_expressions() + rule_expressions() + rule_test_series())
    assert "ordersyncd_job_last_success_timestamp_seconds" in used
    for name, labels in used.items():
        assert name in known, f"{name}: no series to learn its labels from"
        problems += [f"{name}{{{label}=...}}" for label in sorted(labels - known[name] - TARGET_LABELS)]
    assert problems == []


def test_label_check_detects_an_unknown_label(exposition: str) -> None:
    known = exported_labels(exposition)
    used = selector_labels(['ordersyncd_job_runs_total{operation="order_import", task="x"}'])
    assert used == {"ordersyncd_job_runs_total": {"operation", "task"}}
    assert "operation" not in known["ordersyncd_job_runs_total"]
    assert "task" in known["ordersyncd_job_runs_total"]


def test_promtool_check_metrics_finds_no_problem(promtool: str, exposition: str) -> None:
    result = run(promtool, "check", "metrics", input_text=exposition)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_promtool_check_metrics_reports_naming_problems(promtool: str) -> None:
    bad = (
        "# HELP ordersyncd_orders_imported Orders.\n"
        "# TYPE ordersyncd_orders_imported counter\n"
        "ordersyncd_orders_imported 1\n"
    )
    result = run(promtool, "check", "metrics", input_text=bad)
    assert result.returncode != 0
    assert "_total" in result.stdout + result.stderr
