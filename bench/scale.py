"""Scale: many connections in one daemon, every job polling every ``interval`` seconds, no new orders.

Measured on the daemon process: peak RSS (``VmHWM``, start-up included), CPU share over the measuring window
(after the start-up and the first run of every job), and the scheduling lag of ``poll_orders``: how late each
scheduled run started after it was due, as the daemon exports it to operators
(``ordersyncd_job_start_lag_seconds``, read once the CPU window has closed: every run since start). A histogram
gives quantiles by interpolation inside its buckets (as Prometheus' ``histogram_quantile`` does), and the
largest lag as the bound of the bucket that holds it; 1 s, the target's bound, is a bucket bound, so whether
the p99 is under it is exact.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from daemon_config import write_config
from procs import Aborted, DaemonProcess, SimProcess, running

#: The daemon's defaults: connections started per second (``[daemon] start_rate``), and seconds after the
#: last start before the start-up objects are frozen (``ordersyncd.runtime.FREEZE_AFTER_START``).
START_RATE = 100.0
FREEZE_AFTER_START = 30.0

__all__ = ["LagHistogram", "ScaleResult", "lag_histogram", "scale_run"]


@dataclass
class ScaleResult:
    """Figures of one scale run."""

    connections: int
    interval: float
    measured_seconds: float
    startup_seconds: float
    peak_rss: int
    #: Peak RSS after one scrape of ``/metrics`` (taken after the measuring window).
    peak_rss_scraped: int = 0
    #: The daemon's CPU seconds during that scrape (its jobs' included), and the scrape's wall seconds (the
    #: request and the transfer of the text, not its parsing here).
    scrape_cpu: float | None = None
    scrape_seconds: float | None = None
    cpu_share: float | None = None
    lag_p50: float | None = None
    lag_p99: float | None = None
    #: The upper bound of the histogram bucket that holds the largest lag; ``None`` past its last bound (60 s).
    lag_max: float | None = None
    #: Scheduled ``poll_orders`` runs since start.
    lag_samples: int = 0
    rss_series: list[tuple[float, int]] = field(default_factory=list)
    sim_cpu_share: float | None = None
    #: Why the run was stopped before measuring (a guard tripped), else empty.
    aborted: str = ""


@dataclass
class LagHistogram:
    """One task's ``ordersyncd_job_start_lag_seconds``: cumulative counts per upper bound (``inf`` last)."""

    buckets: list[tuple[float, float]]

    @property
    def count(self) -> int:
        return int(self.buckets[-1][1]) if self.buckets else 0

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1), interpolated linearly inside its bucket; the largest finite bound when it
        falls in the ``+Inf`` bucket; 0 without observations."""
        if not self.count:
            return 0.0
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower_bound
                if cumulative == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (cumulative - lower_count)
            lower_bound, lower_count = bound, cumulative
        return lower_bound

    def max_bound(self) -> float:
        """The upper bound of the first bucket that holds every observation: the largest lag is at most this
        (``inf``: past the last finite bound); 0 without observations."""
        if not self.count:
            return 0.0
        return next(bound for bound, cumulative in self.buckets if cumulative >= self.count)


def lag_histogram(exposition: str, task: str = "poll_orders") -> LagHistogram:
    """``ordersyncd_job_start_lag_seconds`` of ``task`` from a text exposition of the daemon's metrics."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(exposition):
        if family.name != "ordersyncd_job_start_lag_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("task") == task:
                buckets.append((float(sample.labels["le"]), float(sample.value)))
    buckets.sort()
    return LagHistogram(buckets)


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
            # After the CPU window: a scrape at 5,000 connections costs the daemon CPU of its own. Prometheus
            # scrapes a daemon in production, so the RSS after one is reported too.
            cpu_before, wall_before = daemon.cpu(), time.monotonic()
            text = httpx.get(f"{daemon.url}/metrics", timeout=120).text
            scrape_cpu, scrape_wall = daemon.cpu() - cpu_before, time.monotonic() - wall_before
            lags = lag_histogram(text)
            scraped = daemon.peak_rss()
    return ScaleResult(
        connections=connections,
        interval=interval,
        measured_seconds=wall,
        startup_seconds=startup,
        peak_rss=peak,
        peak_rss_scraped=scraped,
        scrape_cpu=scrape_cpu,
        scrape_seconds=scrape_wall,
        cpu_share=cpu / wall,
        lag_p50=lags.quantile(0.5),
        lag_p99=lags.quantile(0.99),
        lag_max=largest if math.isfinite(largest := lags.max_bound()) else None,
        lag_samples=lags.count,
        rss_series=series,
        sim_cpu_share=sims_cpu / wall,
    )
