"""The one scheduler of every connection's jobs: due order, wake-ups, failures contained, and what a waiting job
costs (no task of its own)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
import pytest
import structlog

from ordersyncd.scheduler import Scheduler

from support import FakeBackend, running, until, write_config

pytestmark = pytest.mark.anyio


async def test_callbacks_run_in_due_order_and_never_early() -> None:
    scheduler = Scheduler()
    ran: list[tuple[str, float, float]] = []

    def record(name: str, due: float) -> None:
        ran.append((name, due, time.monotonic()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        now = time.monotonic()
        for name, delay in (("c", 0.15), ("a", 0.05), ("b", 0.10), ("a2", 0.05)):
            scheduler.call_at(now + delay, record, name, now + delay)
        await until(lambda: len(ran) == 4, timeout=5, what="every callback")
        tg.cancel_scope.cancel()
    assert [name for name, _, _ in ran] == ["a", "a2", "b", "c"], "due order; ties in the order scheduled"
    assert all(at >= due for _, due, at in ran)
    assert len(scheduler) == 0


async def test_an_earlier_entry_wakes_a_scheduler_waiting_for_a_later_one() -> None:
    scheduler = Scheduler()
    ran: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        scheduler.call_at(time.monotonic() + 3600, ran.append, "later")
        await anyio.sleep(0.05)  # the scheduler now sleeps until the entry an hour away
        scheduler.call_at(time.monotonic(), ran.append, "now")
        await until(lambda: ran == ["now"], timeout=2, what="the earlier entry")
        tg.cancel_scope.cancel()
    assert len(scheduler) == 1


async def test_a_failing_callback_is_logged_and_the_others_still_run() -> None:
    scheduler = Scheduler()
    ran: list[str] = []

    def broken() -> None:
        raise ValueError("bug in one owner")

    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        now = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            scheduler.call_at(now, broken)
            scheduler.call_at(now + 0.01, ran.append, "after")
            await until(lambda: ran == ["after"], timeout=2, what="the next callback")
        tg.cancel_scope.cancel()
    assert [(e["event"], e["error"]) for e in logs] == [
        ("scheduled callback failed", "ValueError: bug in one owner")
    ]


async def test_spawned_work_runs_in_its_own_task_and_a_slow_one_holds_up_nothing() -> None:
    scheduler = Scheduler()
    finished: list[str] = []
    release = anyio.Event()

    async def work(name: str, wait: anyio.Event | None) -> None:
        if wait is not None:
            await wait.wait()
        finished.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        now = time.monotonic()
        scheduler.call_at(now, scheduler.spawn, work, "slow", release)
        scheduler.call_at(now + 0.01, scheduler.spawn, work, "fast", None)
        await until(lambda: finished == ["fast"], timeout=2, what="the fast run")
        release.set()
        await until(lambda: finished == ["fast", "slow"], timeout=2, what="the slow run")
        tg.cancel_scope.cancel()
    with pytest.raises(RuntimeError, match="not running"):
        scheduler.spawn(work, "late", None)


def many_connections(count: int, base_url: str) -> str:
    return "".join(
        f"""
[marketplaces.fakem{n}]
plugin = "fake-marketplace"
base_url = "{base_url}"

[connections.more{n}]
marketplace = "fakem{n}"
store = "fakes"
[connections.more{n}.intervals]
poll_orders = "1h"
advance_orders = "1h"
poll_shipments = "1h"
sync_stock = "1h"
reconcile = "1h"
"""
        for n in range(count)
    )


async def test_waiting_jobs_hold_no_task_and_a_trigger_while_running_runs_again(
    fake_backend: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = 40
    config = write_config(
        tmp_path, fake_backend.base_url, extra=many_connections(extra, fake_backend.base_url)
    )
    async with running(config) as daemon:
        workers = [w for name, w in daemon.workers.items() if name.startswith("more")]
        assert len(workers) == extra

        def all_ran_once() -> bool:
            return all(
                job.runs >= 1 and job.running_since is None for w in workers for job in w.jobs.values()
            )

        await until(all_ran_once, what="every job of every connection ran once")
        # 41 connections with 5 jobs each wait for their next run: one heap entry each, no task.
        assert len(daemon.scheduler) >= 5 * extra
        tasks = len(asyncio.all_tasks())
        assert tasks < extra, f"{tasks} tasks for {extra + 1} idle connections"

        # "Synchronize now" during a run: the job runs once more when the run ends (two triggers: once more).
        worker = workers[0]
        job = worker.jobs["poll_orders"]
        release = anyio.Event()
        works: list[str] = []

        async def slow_work(name: str) -> None:
            works.append(name)
            if len(works) == 1:
                await release.wait()

        monkeypatch.setattr(worker, "_work", slow_work)
        runs = job.runs
        worker.trigger(("poll_orders",))
        await until(lambda: job.running_since is not None and works, what="the triggered run")
        worker.trigger(("poll_orders",))
        worker.trigger(("poll_orders",))
        release.set()
        await until(lambda: job.runs == runs + 2 and job.running_since is None, what="the run after")
        # Stale entries (the hour-away one the first trigger replaced) start nothing.
        await anyio.sleep(0.3)
        assert job.runs == runs + 2 and works == ["poll_orders", "poll_orders"]


def lag_histogram(daemon: object, task: str) -> tuple[float, float, float]:
    """(count, sum, observations of at most 0.25 s) of ``ordersyncd_job_start_lag_seconds`` for ``task``."""
    registry = daemon.metrics.registry  # type: ignore[attr-defined]
    labels = {"task": task}
    count = registry.get_sample_value("ordersyncd_job_start_lag_seconds_count", labels)
    total = registry.get_sample_value("ordersyncd_job_start_lag_seconds_sum", labels)
    quick = registry.get_sample_value("ordersyncd_job_start_lag_seconds_bucket", {**labels, "le": "0.25"})
    return count, total, quick


async def test_how_late_scheduled_runs_start_is_measured(fake_backend: FakeBackend, tmp_path: Path) -> None:
    hourly = "\n".join(
        f'{job} = "1h"'
        for job in ("poll_orders", "advance_orders", "poll_shipments", "sync_stock", "reconcile")
    )
    config = write_config(tmp_path, fake_backend.base_url, intervals=hourly)
    async with running(config) as daemon:
        worker = daemon.workers["fake"]
        job = worker.jobs["poll_orders"]
        await until(
            lambda: all(j.runs >= 1 and j.running_since is None for j in worker.jobs.values()),
            what="every job's first run",
        )
        # Every first run was observed, on time (the daemon is idle).
        count, total, quick = lag_histogram(daemon, "poll_orders")
        assert count == 1 and quick == 1 and total < 0.25
        # A run due now while the event loop is blocked (an overloaded daemon) starts late, and says so.
        runs = job.runs
        worker.trigger(("poll_orders",))
        time.sleep(0.4)
        await until(lambda: job.runs == runs + 1 and job.running_since is None, what="the late run")
        count, total, quick = lag_histogram(daemon, "poll_orders")
        assert count == 2 and quick == 1
        assert total >= 0.4
