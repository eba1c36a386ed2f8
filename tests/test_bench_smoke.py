"""`bench/run.py --quick` runs every benchmark end to end and reports numbers for each (timings are figures,
not pass/fail: only that each benchmark produced its figures, and that the flows really moved the orders)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "benchmark" in done.stdout and "verdict" in done.stdout  # the printed table
    results = json.loads((out / "results.json").read_text())
    results["_markdown"] = (out / "RESULTS.md").read_text()
    return results


def test_every_benchmark_ran_without_error(quick: dict):
    benchmarks = quick["benchmarks"]
    assert set(benchmarks) == {"throughput", "rate_limits", "calls_per_order", "scale", "cpu_per_order"}
    for name, figures in benchmarks.items():
        assert "error" not in figures, f"{name}: {figures.get('error')}"
        assert isinstance(figures["met"], bool)
        assert figures["command"].startswith(".venv/bin/python bench/run.py --quick --only ")


def test_throughput_moves_every_order_in_both_runs_to_the_same_end_state(quick: dict):
    t = quick["benchmarks"]["throughput"]
    assert t["end_state_identical"] is True, t["differences"]
    for side in ("naive", "ordersyncd"):
        assert _number(t[side]["orders_per_second"]) and t[side]["orders_per_second"] > 0
        creates = t[side]["calls"]["shopify"]["graphql OrderCreate"]["200"]
        assert creates == t["orders"]
    assert _number(t["ratio"]) and t["ratio"] > 0


def test_rate_limits_report_efficiency_against_a_bound(quick: dict):
    rows = quick["benchmarks"]["rate_limits"]["connections"]
    assert [r["name"] for r in rows] == ["shopify-bound", "zalando-bound"]
    for row in rows:
        assert row["bound"] > 0 and row["achieved"] > 0 and row["requests"] > 0
        assert _number(row["efficiency"]) and _number(row["limited_share"])


def test_calls_per_order_compare_with_a_positive_minimum(quick: dict):
    c = quick["benchmarks"]["calls_per_order"]
    assert c["minimum_total"] >= 3  # create, export, tracking, at least one line per order
    measured = c["measured_per_order"]
    assert measured["shopify: graphql OrderCreate"] == pytest.approx(1.0)
    # Every unit line was shipped: at least one line PATCH per unit line.
    lines = measured["zalando: PATCH /merchants/{id}/orders/{id}/items/{id}/lines/{id}"]
    assert lines >= c["unit_lines_per_order"] > 0
    assert c["ratio"] == pytest.approx(c["measured_total"] / c["minimum_total"])


def test_scale_and_cpu_figures_are_numbers(quick: dict):
    (run,) = quick["benchmarks"]["scale"]["runs"]
    assert run["aborted"] == ""
    for key in ("peak_rss", "cpu_share", "lag_p50", "lag_p99"):
        assert _number(run[key]), key
    assert run["lag_samples"] > 0 and run["peak_rss"] > 10 * 2**20
    cpu = quick["benchmarks"]["cpu_per_order"]
    assert _number(cpu["ms_per_order"]) and cpu["ms_per_order"] > 0
    floor = cpu["http_floor"]
    for key in ("daemon_client_ms_per_request", "httpx_default_ms_per_request"):
        assert _number(floor[key]) and 0 < floor[key] < 100, key
    assert floor["requests_per_order"] >= 7  # import, acknowledge, ship: the minimum the APIs allow is 7
    assert floor["floor_ms_per_order"] == floor["requests_per_order"] * floor["daemon_client_ms_per_request"]
    assert "Yardstick" in quick["_markdown"]


def test_results_markdown_names_the_machine_and_each_command(quick: dict):
    markdown = quick["_markdown"]
    assert "Machine:" in markdown
    for name in ("throughput", "rate_limits", "calls_per_order", "scale", "cpu_per_order"):
        assert f"--only {name}`" in markdown
