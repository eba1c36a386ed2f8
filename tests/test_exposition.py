"""``/metrics`` is written piece by piece from the stats objects (``ordersyncd.exposition``): the same lines as
``prometheus_client.generate_latest`` writes for the same registry, with at most one piece of connections in
memory at a time."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ordersyncd import exposition as exposition_module
from ordersyncd.exposition import PIECE, exposition
from ordersyncd.metrics import Metrics


def busy_metrics(connections: int) -> Metrics:
    """Metrics with every kind of value: series before and after a first success, a name that needs escaping,
    a system that never made a request, durations in several buckets and past the last one, a Unix time."""
    metrics = Metrics(CollectorRegistry())
    metrics.init_plugins([("zalando", "ordersyncd", "0.1.0")])
    for n in range(connections):
        name = f"c{n:04d}" if n else 'odd "name"\\ here'
        metrics.init_connection(name, [f"{name}-z", f"{name}-s"])
        stats = metrics.connection(name)
        stats.set_up(n % 2 == 0)
        if n % 3:
            stats.set_interval("poll_orders", 60)
            stats.job_ran("poll_orders", 0.25 * n)
            stats.job_succeeded("poll_orders", 1_765_140_000.125 + n)
        stats.orders_imported += n
        stats.orders_by_state["held"] = n % 5
        stats.oldest_waiting = 1_765_000_000.5 if n % 4 == 0 else 0.0
        if n % 2:
            for duration in (0.001, 0.01, 0.3, 45.0, 2.5):
                metrics.system(f"{name}-s").record(200 if duration < 40 else None, duration)
            metrics.system(f"{name}-z").record(429, 0.02)
    metrics.job_started("poll_orders", 0.004)
    return metrics


def test_the_pieces_make_the_same_lines_as_generate_latest() -> None:
    metrics = busy_metrics(2 * PIECE + 7)
    written = b"".join(exposition(metrics)).decode()
    expected = generate_latest(metrics.registry).decode()
    assert sorted(written.splitlines()) == sorted(expected.splitlines())
    # Every family once, its samples together: the format Prometheus parses.
    names = [family.name for family in text_string_to_metric_families(written)]
    assert len(names) == len(set(names))
    assert 'connection="odd \\"name\\"\\\\ here"' in written
    # Prometheus' bucket rule (le: less than or equal): 0.01 s counts in the 0.01 bucket, 45 s only in +Inf.
    for le, count in (("0.01", 2), ("0.025", 2), ("0.5", 3), ("2.5", 4), ("30.0", 4), ("+Inf", 5)):
        assert (
            f'ordersyncd_api_request_duration_seconds_bucket{{le="{le}",system="c0001-s"}} {count}.0'
            in written
        )
    assert 'ordersyncd_api_request_duration_seconds_sum{system="c0001-s"} 47.811' in written
    assert (
        'ordersyncd_job_last_success_timestamp_seconds{connection="c0001",task="poll_orders"} 1.765140001125e+09'
        in written
    )


def test_without_connections_every_family_is_still_declared() -> None:
    metrics = Metrics(CollectorRegistry())
    written = b"".join(exposition(metrics)).decode()
    assert sorted(written.splitlines()) == sorted(generate_latest(metrics.registry).decode().splitlines())
    assert "# TYPE ordersyncd_connection_up gauge" in written


def test_a_scrape_holds_one_piece_of_connections_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = busy_metrics(PIECE * 4)
    pieces = list(exposition(metrics))
    whole = sum(len(piece) for piece in pieces)
    # The largest piece is the ordinary registry or one family's lines for PIECE connections.
    assert max(len(piece) for piece in pieces) < whole / 10
    # A piece of connections is PIECE connections' lines of one family.
    monkeypatch.setattr(exposition_module, "PIECE", 10)
    up_pieces = [p for p in exposition(metrics) if b"ordersyncd_connection_up{" in p]
    assert len(up_pieces) == PIECE * 4 // 10
    assert all(piece.count(b"ordersyncd_connection_up{") == 10 for piece in up_pieces)
