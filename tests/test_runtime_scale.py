"""What lets one daemon run thousands of connections: paced start-up, enough file descriptors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ordersyncd.runtime import StartPacer

from support import FakeBackend, running, until, write_config


def test_start_times_are_spread_at_the_configured_rate() -> None:
    now = [100.0]
    pacer = StartPacer(50.0, clock=lambda: now[0])
    assert [round(pacer.delay(), 9) for _ in range(4)] == [0.0, 0.02, 0.04, 0.06]
    # Time passing uses up the queue: a connection added later starts at once when its slot has passed.
    now[0] += 1.0
    assert pacer.delay() == 0.0
    assert round(pacer.delay(), 9) == 0.02


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    import resource

    from ordersyncd.runtime import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_open_file_limit(ceiling=4096)
        expected = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        assert raised == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.anyio
async def test_start_up_objects_are_frozen_once_every_connection_started(
    fake_backend: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from ordersyncd import plugin_host, runtime

    monkeypatch.setattr(runtime, "FREEZE_AFTER_START", 1.0)
    built = False
    made_after_build: list[object] = []
    make_manager, freeze_built = plugin_host._manager, runtime.Daemon._freeze_built

    def counting_manager(*instances: Any) -> Any:
        if built:
            made_after_build.append(instances)
        return make_manager(*instances)

    def freeze(plugins: Any) -> None:
        nonlocal built
        built = True
        freeze_built(plugins)

    monkeypatch.setattr(plugin_host, "_manager", counting_manager)
    monkeypatch.setattr(runtime.Daemon, "_freeze_built", staticmethod(freeze))
    gc.unfreeze()
    try:
        async with running(write_config(tmp_path, fake_backend.base_url)) as daemon:
            assert gc.get_threshold() == runtime.GC_THRESHOLDS
            assert daemon.plugins is not None
            # Before the first connection starts: what the configuration is built of, without the check's
            # one-block managers.
            assert gc.get_freeze_count() > 0 and not daemon.startup_frozen
            built = gc.get_freeze_count()
            # Once every connection started: what the start-ups made, again without the one-block managers.
            await until(lambda: daemon.startup_frozen, what="start-up objects frozen")
            assert daemon.plugins.managers == {}, "the one-block managers are dropped before the freeze"
            assert gc.get_freeze_count() > built
            # Starting the connections made no pluggy manager (the hooks are called through plans, see
            # ordersyncd.dispatch): one-block managers made for start-ups outlived them in the collector's oldest
            # generation and were frozen with the rest, about 7 KB per connection.
            assert made_after_build == [], "managers made while the connections started"
    finally:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
