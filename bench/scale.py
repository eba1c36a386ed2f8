"""Scale: many connections in one daemon, every job polling every ``interval`` seconds, no new orders.

Measured on the daemon process: peak RSS (``VmHWM``, start-up included), CPU share over the measuring window
(after the start-up and the first run of every job), and the scheduling lag of ``poll_orders``: for each
connection, each run's actual start (the ``until`` the run logs: it is taken as the run starts) minus its
planned start (the previous run's end, i.e. the time of its ``orders polled`` log line, plus the interval).
"""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon_config import write_config
from procs import Aborted, DaemonProcess, SimProcess, running

#: The daemon's defaults: connections started per second (``[daemon] start_rate``), and seconds after the
#: last start before the start-up objects are frozen (``ordersyncd.runtime.FREEZE_AFTER_START``).
START_RATE = 100.0
FREEZE_AFTER_START = 30.0

#: The connections' ``reconcile_window`` (the default): how reconcile's log lines are told apart.
RECONCILE_WINDOW = 3 * 86_400.0

__all__ = ["RECONCILE_WINDOW", "ScaleResult", "percentile", "scale_run", "scheduling_lags"]


@dataclass
class ScaleResult:
    """Figures of one scale run."""

    connections: int
    interval: float
    measured_seconds: float
    startup_seconds: float
    peak_rss: int
    cpu_share: float | None = None
    lag_p50: float | None = None
    lag_p99: float | None = None
    lag_max: float | None = None
    lag_samples: int = 0
    #: The ten largest lags with their connection and planned start (unix time), to explain a p99.
    worst_lags: list[tuple[float, str, float]] = field(default_factory=list)
    rss_series: list[tuple[float, int]] = field(default_factory=list)
    sim_cpu_share: float | None = None
    #: Why the run was stopped before measuring (a guard tripped), else empty.
    aborted: str = ""


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values``, by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[min(998, max(0, round(q * 1000) - 1))]


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def scheduling_lags(
    log_lines: list[str], interval: float, after: float = 0.0
) -> list[tuple[float, str, float]]:
    """Lag (actual - planned start, seconds) of every ``poll_orders`` run but each connection's first,
    from the daemon's JSON log; only runs planned at or after the unix time ``after``."""
    runs: dict[str, list[tuple[float, float]]] = {}
    for line in log_lines:
        if '"orders polled"' not in line:
            continue
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if event.get("event") != "orders polled" or "until" not in event or "connection" not in event:
            continue
        if abs(_stamp(event["until"]) - _stamp(event["since"]) - RECONCILE_WINDOW) < 1.0:
            continue  # reconcile logs the same event for its look-back window: not a poll_orders run
        runs.setdefault(str(event["connection"]), []).append(
            (_stamp(event["until"]), _stamp(event["timestamp"]))
        )
    lags = []
    for connection, series in runs.items():
        series.sort()
        for (_, previous_end), (start, _) in itertools.pairwise(series):
            planned = previous_end + interval
            if planned >= after:
                lags.append((start - planned, connection, planned))
    return lags


def _sampler(daemon: DaemonProcess, stop: threading.Event, out: list[tuple[float, int]], t0: float) -> None:
    while not stop.wait(2.0):
        try:
            out.append((time.monotonic() - t0, daemon.peak_rss()))
        except (OSError, ProcessLookupError):
            return


def scale_run(
    workdir: Path,
    connections: int,
    *,
    interval: float = 60.0,
    duration: float = 300.0,
    max_startup: float = 900.0,
    max_rss: int = 6 * 2**30,
    settle: float = FREEZE_AFTER_START + 5.0,
) -> ScaleResult:
    """Run ``connections`` connections; measure the daemon for ``duration`` seconds once start-up is over.

    The start-up is abandoned (and reported, with the RSS reached so far) when it takes longer than
    ``max_startup`` seconds or the daemon's RSS passes ``max_rss`` bytes: the machine is shared.
    """
    zalando = SimProcess("zalando")
    shopify = SimProcess("shopify")
    zalando.start()
    shopify.start()
    with running(zalando, shopify):
        every = f"{interval:g}s"
        config = write_config(
            workdir,
            zalando.url,
            shopify.url,
            connections=connections,
            intervals={"poll_orders": every, "advance_orders": every, "poll_shipments": every},
        )
        daemon = DaemonProcess(config, workdir / "state", kill_on_stop=True)
        started = time.monotonic()
        seen_rss = [0]

        def guard() -> str | None:
            seen_rss[0] = max(seen_rss[0], daemon.peak_rss())
            if seen_rss[0] > max_rss:
                return f"RSS passed {max_rss / 2**20:.0f} MiB during start-up"
            if time.monotonic() - started > max_startup:
                return f"start-up not finished after {max_startup:.0f} s"
            return None

        with running(daemon):
            try:
                daemon.start(timeout=max_startup + 60, guard=guard)
            except Aborted as aborted:
                return ScaleResult(
                    connections=connections,
                    interval=interval,
                    measured_seconds=0.0,
                    startup_seconds=time.monotonic() - started,
                    peak_rss=seen_rss[0],
                    aborted=str(aborted),
                )
            startup = time.monotonic() - started
            series: list[tuple[float, int]] = []
            stop = threading.Event()
            sampler = threading.Thread(target=_sampler, args=(daemon, stop, series, started), daemon=True)
            sampler.start()
            # Start-up: the daemon starts START_RATE connections per second (their plugins, then the first run
            # of every job), and FREEZE_AFTER_START seconds after the last one it freezes the start-up objects.
            # Measure after that (``settle`` seconds after the last start), for ``duration`` seconds.
            warmup = connections / START_RATE + settle
            time.sleep(warmup)
            cpu0, sims0, wall0 = daemon.cpu(), zalando.cpu() + shopify.cpu(), time.monotonic()
            time.sleep(duration)
            wall = time.monotonic() - wall0
            cpu = daemon.cpu() - cpu0
            sims_cpu = zalando.cpu() + shopify.cpu() - sims0
            peak = daemon.peak_rss()
            stop.set()
            sampler.join()
        assert daemon.log_path is not None
        # Every run but each connection's first: the first is planned "at start"; the second is planned
        # from the first's end, which is after the daemon is ready.
        found = scheduling_lags(daemon.log_path.read_text().splitlines(), interval)
        lags = [lag for lag, _, _ in found]
    return ScaleResult(
        connections=connections,
        interval=interval,
        measured_seconds=wall,
        startup_seconds=startup,
        peak_rss=peak,
        cpu_share=cpu / wall,
        lag_p50=percentile(lags, 0.5),
        lag_p99=percentile(lags, 0.99),
        lag_max=max(lags, default=0.0),
        lag_samples=len(lags),
        worst_lags=sorted(found, reverse=True)[:10],
        rss_series=series,
        sim_cpu_share=sims_cpu / wall,
    )
