"""Connections start ``1 / start_rate`` seconds apart."""

from __future__ import annotations

from ordersyncd.runtime import StartPacer


def test_start_times_are_spread_at_the_configured_rate() -> None:
    now = [100.0]
    pacer = StartPacer(50.0, clock=lambda: now[0])
    assert [round(pacer.delay(), 9) for _ in range(4)] == [0.0, 0.02, 0.04, 0.06]
    # Time passing uses up the queue: a connection added later starts at once when its slot has passed.
    now[0] += 1.0
    assert pacer.delay() == 0.0
    assert round(pacer.delay(), 9) == 0.02
