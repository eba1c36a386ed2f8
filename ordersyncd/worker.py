"""Per-connection worker: periodic jobs, manual triggers, backoff. The daemon's one :class:`Scheduler` calls a
job when it is due; every run gets a task of its own, with its own timeout, so one failing or slow connection
never stalls another."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
import structlog

from .journal import Journal
from .metrics import JOBS, Metrics
from .model import SyncLevel
from .pipeline import ConnectionDown, OrderPipeline
from .plugin_host import ConnectionPlugins
from .scheduler import Scheduler
from .stock import StockCache, StockSync

__all__ = ["ConnectionWorker", "JobState"]

log = structlog.get_logger("ordersyncd.worker")

ORDER_JOBS = ("poll_orders", "advance_orders", "poll_shipments", "reconcile")


@dataclass
class JobState:
    name: str
    interval: float
    timeout: float
    next_due: float = 0.0  # monotonic
    running_since: float | None = None
    runs: int = 0
    failures: int = 0
    last_success: float | None = None  # unix time
    last_error: str = ""
    #: Triggered while running: run again as soon as this run ends.
    rerun: bool = False


class ConnectionWorker:
    """Runs the jobs of one connection until :meth:`stop`."""

    def __init__(
        self,
        plugins: ConnectionPlugins,
        journal: Journal,
        metrics: Metrics | None = None,
        *,
        concurrency: int | None = None,
        on_order_created: Callable[..., Awaitable[None]] | None = None,
        store_connections: Callable[[], Sequence[str]] | None = None,
        stock_cache: StockCache | None = None,
    ) -> None:
        self.plugins = plugins
        self.name = plugins.info.name
        self.journal = journal
        #: This connection's series (``None`` without metrics).
        self.stats = metrics.connection(self.name) if metrics is not None else None
        self._job_started = metrics.job_started if metrics is not None else None
        self.pipeline = OrderPipeline(
            journal,
            plugins,
            metrics,
            concurrency=concurrency or plugins.settings.concurrency,
            on_order_created=on_order_created,
        )
        self.stock = StockSync(
            journal, plugins, metrics, store_connections=store_connections, cache=stock_cache
        )
        self._full_stock_requested = False
        settings = plugins.settings
        names = JOBS if settings.level is SyncLevel.ORDERS_AND_STOCK else ("sync_stock",)
        self.jobs: dict[str, JobState] = {}
        for name in names:
            interval = float(getattr(settings.intervals, name))
            self.jobs[name] = JobState(name, interval, timeout=min(3600.0, max(120.0, 5 * interval)))
        if self.stats is not None:
            for job in self.jobs.values():
                self.stats.set_interval(job.name, job.interval)
        self.up: bool | None = None
        self.scheduler: Scheduler | None = None  # set by start()
        self._stopping = False
        self._running = 0  # runs started and not finished
        self._scopes: set[anyio.CancelScope] = set()  # of the runs in progress, for cancel()
        self._idle: anyio.Event | None = None

    # ---------------------------------------------------------------- control
    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self, scheduler: Scheduler) -> None:
        """The connection's plugins have started: run every job now, then each at its interval."""
        self.scheduler = scheduler
        if self._stopping:
            return
        now = scheduler.clock()
        for job in self.jobs.values():
            job.next_due = now
            self._schedule(job)

    def trigger(
        self, jobs: tuple[str, ...] = ("poll_orders", "advance_orders", "poll_shipments", "sync_stock")
    ) -> list[str]:
        """Run these jobs now (the manual "Synchronize now"); a job that is running runs once more when it ends.
        Returns the jobs triggered."""
        started = []
        for name in jobs:
            job = self.jobs.get(name)
            if job is None:
                continue
            started.append(name)
            if job.running_since is not None:
                job.rerun = True
            elif self.scheduler is not None and not self._stopping:
                job.next_due = self.scheduler.clock()
                self._schedule(job)
            else:  # not started yet: start() runs every job at once anyway
                job.next_due = 0.0
        return started

    def request_stock_push(self, full: bool) -> bool:
        """``ordersyncd stock push``: run the stock job now (every product when ``full``)."""
        if "sync_stock" not in self.jobs:
            return False
        self._full_stock_requested = self._full_stock_requested or full
        self.trigger(("sync_stock",))
        return True

    def stop(self) -> None:
        """Finish the steps in progress, start no new ones (:meth:`wait_idle` waits for them)."""
        self._stopping = True
        self.pipeline.stopping = True
        if self._running == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no job of this connection is running."""
        while self._running:
            self._idle = anyio.Event()
            await self._idle.wait()

    def cancel(self) -> None:
        """Cancel the runs in progress (after :meth:`stop`, when they outlast the stop timeout)."""
        for scope in list(self._scopes):
            scope.cancel()

    def health(self, now: float | None = None) -> tuple[bool, str]:
        """False with a reason when a job is wedged (running far past its timeout, or overdue and not started)."""
        now = time.monotonic() if now is None else now
        for job in self.jobs.values():
            if job.running_since is not None and now - job.running_since > job.timeout + 30:
                return False, f"{self.name}/{job.name} has been running for {now - job.running_since:.0f}s"
            if job.running_since is None and job.next_due and now - job.next_due > 60 and not self._stopping:
                return False, f"{self.name}/{job.name} is overdue by {now - job.next_due:.0f}s"
        return True, ""

    # ---------------------------------------------------------------- running
    def _schedule(self, job: JobState) -> None:
        assert self.scheduler is not None
        self.scheduler.call_at(job.next_due, self._due, job, job.next_due)

    def _due(self, job: JobState, due: float) -> None:
        """Called by the scheduler at ``due``; an entry is stale when the job was rescheduled or is running."""
        if self._stopping or job.running_since is not None or job.next_due != due:
            return
        assert self.scheduler is not None
        job.running_since = time.monotonic()
        self._running += 1
        self.scheduler.spawn(self._run_scheduled, job, due)

    async def _run_scheduled(self, job: JobState, due: float) -> None:
        if self._job_started is not None and self.scheduler is not None:
            self._job_started(job.name, self.scheduler.clock() - due)
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                if not self._stopping:
                    await self.run_job(job.name)
        finally:
            job.running_since = None
            self._scopes.discard(scope)
            self._running -= 1
            if not self._stopping and self.scheduler is not None:
                if job.rerun:
                    job.rerun = False
                    job.next_due = self.scheduler.clock()
                self._schedule(job)
            if self._running == 0 and self._idle is not None:
                self._idle.set()

    async def run_job(self, name: str) -> bool:
        """Run one job now; returns True on success. Schedules the job's next run."""
        job = self.jobs[name]
        job.running_since = time.monotonic()
        job.runs += 1
        bound = log.bind(connection=self.name, job=name)
        retry_after: float | None = None
        ok = False
        start = time.monotonic()
        try:
            with anyio.fail_after(job.timeout):
                await self._work(name)
            ok = True
        except ConnectionDown as down:
            job.last_error = str(down)
            retry_after = down.retry_after
            bound.error("connection down", error=str(down), retry_after=retry_after)
        except TimeoutError:
            job.last_error = f"timed out after {job.timeout:.0f}s"
            bound.error("job timed out", timeout=job.timeout)
        except Exception as error:
            job.last_error = f"{type(error).__name__}: {error}"
            bound.error("job failed", error=job.last_error)
        finally:
            job.running_since = None
            duration = time.monotonic() - start
            if self.stats is not None:
                self.stats.job_ran(name, duration)  # runs, last duration, the all-connections histogram
        wait = job.interval
        if ok:
            job.last_success = time.time()
            job.last_error = ""
            job.failures = 0
            self._set_up(True)
            if self.stats is not None:
                self.stats.job_succeeded(name, job.last_success)
        else:
            job.failures += 1
            self._set_up(False)
            if self.stats is not None:
                self.stats.job_failed(name)
            if retry_after is not None:
                wait = max(retry_after, 0.5)
            else:  # back off the whole job while it keeps failing, up to its interval
                wait = min(
                    job.interval, self.plugins.settings.backoff_initial * 2 ** min(job.failures - 1, 20)
                )
        job.next_due = time.monotonic() + (wait if math.isfinite(wait) else job.interval)
        return ok

    def _set_up(self, up: bool) -> None:
        if self.up is not up:
            log.info("connection up" if up else "connection down", connection=self.name)
        self.up = up
        if self.stats is not None:
            self.stats.set_up(up)

    async def _work(self, name: str) -> None:
        if name == "poll_orders":
            if await self.pipeline.poll_orders():
                self.trigger(("advance_orders",))
        elif name == "advance_orders":
            await self.pipeline.advance_orders()
        elif name == "poll_shipments":
            await self.pipeline.poll_shipments()
        elif name == "sync_stock":
            full, self._full_stock_requested = self._full_stock_requested, False
            await self.stock.run(full=True if full else None)
        elif name == "reconcile":
            if await self.pipeline.poll_orders(window=self.plugins.settings.reconcile_window):
                self.trigger(("advance_orders",))
        else:  # pragma: no cover - job names come from JOBS
            raise ValueError(name)
