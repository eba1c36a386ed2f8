"""Benchmark 4 reads scheduling lag from the daemon's own ``ordersyncd_job_start_lag_seconds`` histogram: its
quantiles and largest lag are what Prometheus would compute from the same exposition."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ordersyncd.metrics import Metrics

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def scale(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("scale")


def exposition(poll_lags: list[float], other_lags: tuple[float, ...] = ()) -> str:
    metrics = Metrics(CollectorRegistry())
    for lag in poll_lags:
        metrics.job_started("poll_orders", lag)
    for lag in other_lags:
        metrics.job_started("poll_shipments", lag)
    return generate_latest(metrics.registry).decode()


def test_quantiles_interpolate_within_buckets_of_the_task_asked_for(scale: ModuleType) -> None:
    # 98 runs within 1 ms, one at 0.3 s, one at 0.7 s: buckets ... 0.25, 0.5, 1 ...
    lags = scale.lag_histogram(exposition([0.0005] * 98 + [0.3, 0.7], other_lags=(20.0,) * 50))
    assert lags.count == 100
    # Rank 50 of 98 in the first bucket (0 .. 1 ms): 50/98 of the way.
    assert lags.quantile(0.5) == pytest.approx(0.001 * 50 / 98)
    # Rank 99 is the first of the one observation in (0.25, 0.5]: the bucket's upper bound.
    assert lags.quantile(0.99) == pytest.approx(0.5)
    assert lags.max_bound() == 1.0  # the other task's 20 s lags are not poll_orders'


def test_a_lag_past_the_last_bound_and_no_runs_at_all(scale: ModuleType) -> None:
    late = scale.lag_histogram(exposition([0.001] * 10 + [90.0]))
    assert late.count == 11 and math.isinf(late.max_bound())
    assert late.quantile(1.0) == 60.0  # the largest finite bound, as histogram_quantile answers
    empty = scale.lag_histogram(exposition([]))
    assert empty.count == 0 and empty.quantile(0.99) == 0.0 and empty.max_bound() == 0.0
