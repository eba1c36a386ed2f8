"""The daemon: one supervising task group with a worker per active connection, the HTTP listener, signals
(SIGTERM/SIGINT stop, SIGHUP reload) and systemd notify/watchdog."""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import structlog
import uvicorn
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from .alerts import AlertConfig, AlertDispatcher, load_alert_config
from .config import Config, load_config
from .errors import ConfigError, ConfigProblem, IllegalTransition, PluginError
from .http import client_factory
from .journal import Journal, OrderState, open_journal
from .logs import SecretRedactor, configure_logging
from .metrics import ORDER_STATES, Metrics
from .model import Order
from .plugin_host import InstalledPlugin, PluginSet, build_plugins, discover_plugins
from .scheduler import Scheduler
from .sdnotify import SystemdNotifier
from .stock import StockCache
from .web import create_app
from .web.settings import WebSettings, load_web_settings
from .worker import ConnectionWorker

__all__ = ["Daemon", "load_checked"]

log = structlog.get_logger("ordersyncd")


async def load_checked(
    config_path: Path | None,
    installed: Mapping[str, InstalledPlugin] | None = None,
    metrics: Metrics | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Config, PluginSet]:
    """Load the configuration and have every plugin validate its blocks; raise ``ConfigError`` with all
    problems."""
    config = load_config(config_path, environ=environ)
    plugins = await build_plugins(
        config, installed if installed is not None else discover_plugins(), client_factory(metrics)
    )
    problems = [*plugins.problems, *_feature_problems(config)]
    if problems:
        raise ConfigError(problems)
    return config, plugins


def _feature_problems(config: Config) -> list[ConfigProblem]:
    """Problems of the ``[smtp]``, ``[alerts]`` and ``[web]`` sections (validated by their features)."""
    return [*load_alert_config(config)[1], *load_web_settings(config)[1]]


#: Collect generation 0 after this many allocations (Python's default 700), and consider a full collection only
#: after this many generation-1 collections (default 10). See tune_garbage_collector.
GC_THRESHOLDS = (20_000, 20, 100)


def raise_open_file_limit(ceiling: int = 1 << 20) -> int:
    """Raise the soft limit of open files to the hard limit (at most ``ceiling``) and return it: each connection
    keeps a few sockets open, and systemd's default soft limit (1,024) would end a daemon with a few hundred
    connections with "Too many open files" (systemd's hard limit is 524,288; epoll has no limit of its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tune_garbage_collector() -> None:
    """A daemon with thousands of connections holds hundreds of thousands of live objects (jobs, requests in
    flight), and Python's default thresholds ran a full collection over all of them every two seconds: at
    5,000 connections the collector took 60 % of the daemon's CPU (measured with ``gc.callbacks``). Memory is
    freed by reference counting as before; only cycles wait a little longer to be collected."""
    gc.set_threshold(*GC_THRESHOLDS)


#: Seconds after the last connection's start before the start-up objects are frozen (first job runs done).
FREEZE_AFTER_START = 30.0


class StartPacer:
    """Hands out start times ``1 / rate`` seconds apart: the first connection starts at once, the n-th after
    ``(n - 1) / rate`` seconds."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    def delay(self) -> float:
        """Seconds the caller waits before it starts (0 for the first)."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Started:
    ok: bool
    error: str = ""


class Daemon:
    def __init__(
        self,
        config_path: Path | None,
        *,
        environ: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.config_path = config_path
        self.environ = dict(os.environ if environ is None else environ)
        self.metrics = Metrics(registry or CollectorRegistry())
        # Standard process_* (CPU, memory, file descriptors) and python_info series, as exporters provide.
        ProcessCollector(registry=self.metrics.registry)
        PlatformCollector(registry=self.metrics.registry)
        self.notifier = SystemdNotifier.from_environ(self.environ)
        self.config: Config | None = None
        self.plugins: PluginSet | None = None
        self.journal: Journal | None = None
        self.workers: dict[str, ConnectionWorker] = {}
        self.api_token = ""
        self.redactor: SecretRedactor | None = None
        self.http_port: int | None = None
        self.started_at = time.time()
        self._worker_group: anyio.abc.TaskGroup | None = None
        #: Every job of every connection, and each connection's start, waits here (one task, one timer heap).
        self.scheduler = Scheduler()
        self._scheduler_scope: anyio.CancelScope | None = None
        self._instance_started: dict[tuple[str, str], _Started] = {}
        self._start_pacer = StartPacer(100.0)
        self._stop = anyio.Event()
        self._connections_started = False
        #: The start-up objects are frozen (set by _freeze_when_started; a reload clears it).
        self.startup_frozen = False
        self._last_cycle = ""
        self.stock_cache: StockCache | None = None
        #: Missing-code alerts and the pages (``[smtp]``, ``[alerts]``, ``[web]``).
        self.alert_config: AlertConfig | None = None
        self.web_settings: WebSettings | None = None
        self.dispatcher: AlertDispatcher | None = None

    # ------------------------------------------------------------------ state for the API and pages
    def readiness(self) -> tuple[bool, str]:
        if self.config is None:
            return False, "configuration not loaded"
        if self.journal is None or not self.journal.is_open:
            return False, "journal not open"
        if not self._connections_started:
            return False, "connections not started"
        return True, ""

    def status(self) -> dict[str, Any]:
        connections = {}
        for name, worker in self.workers.items():
            connections[name] = {
                "up": worker.up,
                "jobs": {
                    job.name: {
                        "interval": job.interval,
                        "running": job.running_since is not None,
                        "runs": job.runs,
                        "failures": job.failures,
                        "last_success": job.last_success,
                        "last_error": job.last_error,
                    }
                    for job in worker.jobs.values()
                },
            }
        return {"pid": os.getpid(), "started_at": self.started_at, "connections": connections}

    async def refresh_gauges(self) -> None:
        if self.journal is None or not self.journal.is_open or self.config is None:
            return
        counts = await self.journal.count_by_state()
        held = await self.journal.held_shipments_by_connection()  # one query for all connections
        states = [(state, OrderState(state)) for state in ORDER_STATES]
        for name in self.config.connections:
            stats = self.metrics.connection(name)
            for state, key in states:
                stats.orders_by_state[state] = counts.get((name, key), 0)
            waiting, oldest = held.get(name, (0, None))
            stats.shipments_waiting = waiting
            stats.oldest_waiting = oldest or 0.0

    async def retry_order(self, connection: str, order_id: str) -> dict[str, Any]:
        assert self.journal is not None
        try:
            record = await self.journal.retry_order(connection, order_id, time.time())
        except (KeyError, IllegalTransition) as error:
            return {"ok": False, "error": str(error).strip("'\"")}
        worker = self.workers.get(connection)
        if worker is not None:
            worker.trigger(("advance_orders",))
        return {"ok": True, "state": record.state.value}

    # ------------------------------------------------------------------ life cycle
    async def run(self) -> None:
        """Run until SIGTERM/SIGINT. Raises ``ConfigError`` when the configuration is invalid at start."""
        tune_garbage_collector()
        raise_open_file_limit()
        installed = discover_plugins()
        config, plugins = await load_checked(self.config_path, installed, self.metrics, self.environ)
        self.redactor = configure_logging(config.log.level, config.log.format, config.secrets)
        self.metrics.init_plugins((p.name, p.distribution, p.version) for p in installed.values())
        state_dir = config.daemon.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.api_token = self._api_token(state_dir)
        self.redactor.update([*config.secrets, self.api_token])
        self.journal = open_journal(state_dir, config.daemon.sqlite_synchronous)
        await self.journal.open()
        self.config = config
        self._apply_features(config)
        sock = self._bind(config.http.listen, config.http.port)
        self.http_port = sock.getsockname()[1]
        (state_dir / "http-port").write_text(f"{self.http_port}\n")
        server = _Server(
            uvicorn.Config(create_app(self), log_level="warning", access_log=False, lifespan="off")
        )
        log.info(
            "ordersyncd starting",
            config=[str(f) for f in config.files],
            state_dir=str(state_dir),
            listen=f"{config.http.listen}:{self.http_port}",
            connections=len(config.connections),
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._serve, server, sock)
                if self.dispatcher is not None:
                    tg.start_soon(self.dispatcher.run)
                async with anyio.create_task_group() as workers:
                    self._worker_group = workers
                    await workers.start(self._run_scheduler)
                    await self._start_connections(config, plugins)
                    self.notifier.ready(self._status_line())
                    tg.start_soon(self._signals)
                    tg.start_soon(self._heartbeat)
                    await self._stop.wait()
                    self.notifier.stopping()
                    log.info("stopping", timeout=config.daemon.stop_timeout)
                    await self._stop_connections(config.daemon.stop_timeout)
                    if self._scheduler_scope is not None:
                        self._scheduler_scope.cancel()
                server.should_exit = True
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                if self.plugins is not None:
                    await self._shutdown_plugins(self.plugins)
                await self.journal.close()
            sock.close()
            log.info("stopped")

    def request_stop(self) -> None:
        self._stop.set()

    @staticmethod
    def _api_token(state_dir: Path) -> str:
        path = state_dir / "api-token"
        if path.exists():
            return path.read_text().strip()
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return token

    @staticmethod
    def _bind(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from error
        sock.listen(128)
        sock.set_inheritable(True)
        return sock

    async def _run_scheduler(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.CancelScope() as self._scheduler_scope:
            task_status.started()
            await self.scheduler.run()

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        await server.serve(sockets=[sock])

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload()
                else:
                    log.info("signal received", signal=signal.Signals(signum).name)
                    self.request_stop()
                    return

    async def _heartbeat(self) -> None:
        """Feed the systemd watchdog only while every worker makes progress; keep STATUS= current."""
        interval = self.notifier.watchdog_interval()
        tick = min(interval, 5.0) if interval else 5.0
        while True:
            up, down, last, reason = self._survey()
            if not reason:
                if interval:
                    self.notifier.watchdog()
            else:
                log.error("scheduler wedged; not feeding the watchdog", reason=reason)
            self.notifier.status(self._format_status(up, down, last, f"WEDGED: {reason}" if reason else ""))
            await anyio.sleep(tick)

    def _survey(self) -> tuple[int, int, float, str]:
        """One walk over the workers (5,000 of them every tick at scale): how many are up and down, the latest
        successful job run (unix time, 0 when none), and the first wedged job ("" when none)."""
        now = time.monotonic()
        up = down = 0
        last = 0.0
        problem = ""
        for worker in list(self.workers.values()):
            if worker.up:
                up += 1
            elif worker.up is False:
                down += 1
            for job in worker.jobs.values():
                if job.last_success is not None and job.last_success > last:
                    last = job.last_success
            if not problem:
                problem = worker.health(now)[1]
        return up, down, last, problem

    def _status_line(self, problem: str = "") -> str:
        """systemd's STATUS= text, ``problem`` appended."""
        up, down, last, _ = self._survey()
        return self._format_status(up, down, last, problem)

    def _format_status(self, up: int, down: int, last: float, problem: str) -> str:
        age = f"last cycle {time.time() - last:.0f}s ago" if last else "no cycle finished yet"
        text = f"{len(self.workers)} connections ({up} up, {down} down), {age}"
        return f"{text}; {problem}" if problem else text

    async def _ensure_started(self, plugins: PluginSet, kind: str, name: str) -> _Started:
        key = (kind, name)
        started = self._instance_started.get(key)
        if started is not None and started.ok:
            return started
        try:
            if plugins.implements_block(kind, name, "startup"):
                await plugins.call_block(kind, name, "startup")
            started = _Started(True)
        except Exception as error:  # a plugin failing to start must never take the daemon down
            text = error.message if isinstance(error, PluginError) else str(error)
            started = _Started(False, f"{type(error).__name__}: {text}")
            log.error("plugin start failed", block=f"{kind}:{name}", error=started.error)
        finally:
            # Only a plugin with hook wrappers has a one-block manager (the others are called through a plan): it
            # served its start-up; dropped now, it dies young. A later start-up or the shutdown makes it again.
            plugins.managers.pop(key, None)
        self._instance_started[key] = started
        return started

    async def _start_connections(self, config: Config, plugins: PluginSet) -> None:
        self.plugins = plugins
        self._instance_started = {}
        self._start_pacer = StartPacer(config.daemon.start_rate)
        # What the connections are built of lives as long as the configuration: it is moved out of the garbage
        # collector's view twice, before the first connection starts and once they all have (see
        # _freeze_built and _freeze_when_started). A reload lets the old configuration's objects go first.
        gc.unfreeze()
        self.startup_frozen = False
        # The plugins are built and validated: from now on the origin records only answer the occasional error
        # message, and most of them (all, for a configuration of one file) repeat their enclosing key's.
        config.compact_origins()
        spread = len(plugins.connections) / config.daemon.start_rate
        assert self.journal is not None and self._worker_group is not None
        for name, conn in plugins.connections.items():
            self.metrics.init_connection(name, (conn.settings.marketplace, conn.settings.store))
            if not conn.settings.active:
                log.info("connection disabled", connection=name)
                continue
            same_store = sorted(
                n for n, c in plugins.connections.items() if c.settings.store == conn.settings.store
            )
            worker = ConnectionWorker(
                conn,
                self.journal,
                self.metrics,
                on_order_created=partial(self._order_created, name),
                store_connections=partial(list, same_store),
                stock_cache=self._stock_cache(),
            )
            self.workers[name] = worker
            start_at = self.scheduler.clock() + self._start_pacer.delay()
            self.scheduler.call_at(start_at, self._start_due, worker, plugins, 1.0)
        self._freeze_built(plugins)
        self._worker_group.start_soon(self._freeze_when_started, spread + FREEZE_AFTER_START)
        self._connections_started = True

    @staticmethod
    def _freeze_built(plugins: PluginSet) -> None:
        """Collect and freeze what the configuration, its plugins and the workers are made of, before the first
        connection starts: the full collection over them (about 3 s at 5,000 connections) then delays no job.
        The one-block managers of the configuration check go first (start-ups call hooks through plans);
        frozen, they could no longer be collected."""
        plugins.managers.clear()
        gc.collect()
        gc.freeze()

    async def _freeze_when_started(self, delay: float) -> None:
        """After every connection has started and run its jobs once, collect garbage once and freeze what is
        left (``gc.freeze``): the objects of thousands of connections (millions at 5,000) are then no longer
        traversed by every full collection, which took a third of the daemon's CPU. This collection traverses
        only what the start-ups made (the rest was frozen by :meth:`_freeze_built`), so the pause it causes
        stays short; a single freeze here stalled every job for 3 s at 5,000 connections. A reload unfreezes
        first, so the old configuration's objects can be collected."""
        with anyio.move_on_after(delay):
            await self._stop.wait()
        if self._stop.is_set():
            return
        if self.plugins is not None:
            self.plugins.managers.clear()  # made again by a later start-up or the shutdown
        # The young generations only: a full collection would traverse every object the start-ups made that
        # has lived long enough (about 1.5 million at 5,000 connections) and stalled every job for 2.7 s. What
        # became garbage after a long life during start-up stays frozen (so start-ups make no pluggy managers);
        # start-up's short-lived objects are collected young.
        gc.collect(1)
        gc.freeze()
        self.startup_frozen = True
        log.debug("start-up objects frozen", objects=gc.get_freeze_count())

    def _stock_cache(self) -> StockCache:
        """One stock cache for every connection: stores and marketplace accounts may be shared."""
        assert self.journal is not None
        if self.stock_cache is None:
            self.stock_cache = StockCache(self.journal)
        return self.stock_cache

    async def _order_created(self, source: str, order: Order) -> None:
        """Oversell guard: an order is in the store; push the affected products to every other connection of
        the same store at once (in the background: the pipeline does not wait for it)."""
        origin = self.workers.get(source)
        if origin is None or self._worker_group is None or not order.update_store_inventory:
            return
        for name, worker in self.workers.items():
            if (
                name != source
                and worker.plugins.settings.store == origin.plugins.settings.store
                and ("sync_stock" in worker.jobs)
            ):
                self._worker_group.start_soon(self._guard, worker, order)

    @staticmethod
    async def _guard(worker: ConnectionWorker, order: Order) -> None:
        try:
            await worker.stock.after_order(order)
        except Exception as error:  # the regular stock job catches up; never take the daemon down
            log.warning(
                "immediate stock push failed",
                connection=worker.name,
                error=f"{type(error).__name__}: {error}",
            )

    def _start_due(self, worker: ConnectionWorker, plugins: PluginSet, retry_delay: float) -> None:
        """The connection's turn to start (paced by ``start_rate``, or its retry after a failed start)."""
        if not worker.stopping:
            self.scheduler.spawn(self._start_worker, worker, plugins, retry_delay)

    async def _start_worker(self, worker: ConnectionWorker, plugins: PluginSet, retry_delay: float) -> None:
        """Start the connection's plugins (once per block), then its jobs; retry with backoff (up to 5 minutes)
        while a plugin fails to start."""
        settings = worker.plugins.settings
        market = await self._ensure_started(plugins, "marketplace", settings.marketplace)
        store = await self._ensure_started(plugins, "store", settings.store)
        if worker.stopping:
            return
        if market.ok and store.ok:
            worker.start(self.scheduler)
            return
        worker._set_up(False)
        retry_at = self.scheduler.clock() + retry_delay
        self.scheduler.call_at(retry_at, self._start_due, worker, plugins, min(retry_delay * 2, 300.0))

    async def _stop_connections(self, grace: float) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.scheduler.clear()
        with anyio.move_on_after(grace) as scope:
            for worker in self.workers.values():
                await worker.wait_idle()
        if scope.cancelled_caught:
            log.warning("steps still running at the stop timeout; cancelling them", timeout=grace)
            for worker in self.workers.values():
                worker.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                for worker in self.workers.values():
                    await worker.wait_idle()
        for name in self.workers:
            self.metrics.forget_connection(name)
        self.workers = {}
        self._connections_started = False

    async def _shutdown_plugins(self, plugins: PluginSet) -> None:
        for kind, name, _ in plugins.all_instances():
            if not plugins.implements_block(kind, name, "shutdown"):
                continue
            try:
                with anyio.move_on_after(10):
                    await plugins.call_block(kind, name, "shutdown")
            except Exception as error:
                log.warning("plugin shutdown failed", block=f"{kind}:{name}", error=type(error).__name__)

    async def reload(self) -> bool:
        """Re-read the configuration; swap it in when valid, keep the running one otherwise."""
        self.notifier.reloading()
        log.info("reloading configuration")
        try:
            config, plugins = await load_checked(self.config_path, None, self.metrics, self.environ)
        except ConfigError as error:
            for problem in error.problems:
                log.error("reload refused: invalid configuration", problem=str(problem))
            self.notifier.ready(self._status_line("reload refused, old configuration kept"))
            return False
        except Exception as error:
            log.error("reload refused", error=f"{type(error).__name__}: {error}")
            self.notifier.ready(self._status_line("reload refused, old configuration kept"))
            return False
        assert self.config is not None
        if config.daemon.state_dir != self.config.daemon.state_dir or config.http != self.config.http:
            log.warning("state_dir and [http] changes take effect at the next restart")
        old_plugins = self.plugins
        await self._stop_connections(self.config.daemon.stop_timeout)
        if old_plugins is not None:
            await self._shutdown_plugins(old_plugins)
        self.config = config
        if self.redactor is not None:
            self.redactor.update([*config.secrets, self.api_token])
        self._apply_features(config)
        await self._start_connections(config, plugins)
        self.notifier.ready(self._status_line())
        log.info("configuration reloaded", connections=len(config.connections))
        return True

    # ------------------------------------------------------------------ alerts and pages
    def _apply_features(self, config: Config) -> None:
        """Take the (already validated) ``[smtp]``, ``[alerts]`` and ``[web]`` settings of ``config``."""
        self.alert_config = load_alert_config(config)[0]
        self.web_settings = load_web_settings(config)[0]
        if self.alert_config is None or self.journal is None:
            return
        if self.dispatcher is None:
            self.dispatcher = AlertDispatcher(
                self.journal, self.alert_config, config, base_url=self.public_url, metrics=self.metrics
            )
        else:
            self.dispatcher.update(self.alert_config, config)

    def public_url(self) -> str:
        """Base URL of the pages as people see it: ``[http] public_url``, else the listener's address."""
        assert self.config is not None
        if self.config.http.public_url:
            return self.config.http.public_url
        host = self.config.http.listen
        return f"http://{f'[{host}]' if ':' in host else host}:{self.http_port}"
