"""One order flow through a real daemon process: N Zalando orders imported into Shopify, exported, then
(optionally) fulfilled in Shopify and reported back to Zalando; and the same import by the naive script.

Both simulators are hosts from ``bench/simhost.py`` in their own processes, rate limits off (the rate-limit
benchmark measures those), with ``latency`` seconds added to every API request.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon_config import connection_names, write_config
from procs import BENCH_DIR, PYTHON, DaemonProcess, SimProcess, running
from simhost import TOKEN

__all__ = ["FlowResult", "compare_end_states", "daemon_flow", "naive_flow", "quiesce", "wait_for"]

CATALOGUE = {"size": 200, "seed": 7}
#: The daemon's default intervals of the order jobs (``ordersyncd.config.schema.Intervals``).
DEFAULT_INTERVALS = {"poll_orders": "120s", "advance_orders": "30s", "poll_shipments": "300s"}
ORDER_SEED = 11


@dataclass
class FlowResult:
    """What one run measured."""

    orders: int
    import_seconds: float
    ship_seconds: float = 0.0
    daemon_cpu_import: float = 0.0
    daemon_cpu_total: float = 0.0
    peak_rss: int = 0
    calls: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    end_state: dict[str, Any] = field(default_factory=dict)
    profile: Path | None = None

    @property
    def import_rate(self) -> float:
        return self.orders / self.import_seconds if self.import_seconds else 0.0


def wait_for(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.2) -> None:
    """Poll ``check`` until true; ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(interval)


def quiesce(sims: list[SimProcess], quiet: float = 1.0, timeout: float = 120) -> None:
    """Wait until no simulator has received a request for ``quiet`` seconds."""
    last: list[Any] = []
    still_since = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = [sim.get("/_bench/calls") for sim in sims]
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
        time.sleep(0.1)
    raise TimeoutError("the simulators never went quiet")


def _sims(latency: float) -> tuple[SimProcess, SimProcess]:
    zalando = SimProcess("zalando", ["--latency", str(latency)])
    shopify = SimProcess("shopify", ["--latency", str(latency)])
    return zalando, shopify


def _end_state(zalando: SimProcess, shopify: SimProcess) -> dict[str, Any]:
    return {"zalando": zalando.get("/_bench/state"), "shopify": shopify.get("/_bench/state")}


def daemon_flow(
    workdir: Path,
    orders: int,
    *,
    latency: float = 0.0,
    ship: bool = False,
    profile: bool = False,
    timeout: float = 600,
    intervals: dict[str, str] | None = None,
) -> FlowResult:
    """Import (and ship) ``orders`` orders through a daemon process; measure time, CPU, RSS and calls.

    ``intervals`` of the connection's jobs: the daemon's defaults for the order jobs unless given (stock sync
    and reconcile hourly). The run starts with "Synchronize now" (the daemon's API) once the orders exist.
    """
    zalando, shopify = _sims(latency)
    zalando.start()
    shopify.start()
    daemon: DaemonProcess | None = None
    with running(zalando, shopify):
        shopify.post("/_bench/catalogue", CATALOGUE)
        every = {**DEFAULT_INTERVALS, **(intervals or {})}
        config = write_config(workdir, zalando.url, shopify.url, intervals=every)
        wrapper: list[str] = []
        profile_path = workdir / "profile.txt"
        if profile:
            spy = str(Path(PYTHON).with_name("py-spy"))
            wrapper = [
                spy,
                "record",
                "--gil",  # the thread holding the GIL only: Python CPU, not waits, fsyncs or idle threads
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                str(profile_path),
                "--",
            ]
        daemon = DaemonProcess(config, workdir / "state", wrapper=wrapper)
        with running(daemon):
            daemon.start()
            quiesce([zalando, shopify])  # the first run of every job at start, with nothing to do
            (connection,) = connection_names(1)
            for sim in (zalando, shopify):
                sim.post("/_bench/calls/reset")
            zalando.post("/_bench/orders", {"count": orders, "seed": ORDER_SEED, "catalogue_size": 200})
            cpu0, start = daemon.cpu(), time.monotonic()
            daemon.sync(connection)
            wait_for(lambda: zalando.get("/_bench/progress")["exported"] >= orders, "all exported", timeout)
            import_seconds = time.monotonic() - start
            cpu_import = daemon.cpu() - cpu0
            ship_seconds = 0.0
            if ship:
                shopify.post("/_bench/fulfill-all")
                ship_start = time.monotonic()
                daemon.sync(connection)
                wait_for(lambda: zalando.get("/_bench/progress")["shipped"] >= orders, "all shipped", timeout)
                ship_seconds = time.monotonic() - ship_start
            quiesce([zalando, shopify], quiet=0.5)
            result = FlowResult(
                orders=orders,
                import_seconds=import_seconds,
                ship_seconds=ship_seconds,
                daemon_cpu_import=cpu_import,
                daemon_cpu_total=daemon.cpu() - cpu0,
                peak_rss=daemon.peak_rss(),
                calls={"zalando": zalando.get("/_bench/calls"), "shopify": shopify.get("/_bench/calls")},
                end_state=_end_state(zalando, shopify),
                profile=profile_path if profile else None,
            )
    return result


def naive_flow(orders: int, *, latency: float = 0.0, timeout: float = 900) -> FlowResult:
    """The same import by ``bench/naive_sync.py`` in its own process."""
    zalando, shopify = _sims(latency)
    zalando.start()
    shopify.start()
    with running(zalando, shopify):
        shopify.post("/_bench/catalogue", CATALOGUE)
        zalando.post("/_bench/orders", {"count": orders, "seed": ORDER_SEED, "catalogue_size": 200})
        command = [PYTHON, str(BENCH_DIR / "naive_sync.py"), "--zalando", zalando.url, "--shopify"]
        command += [shopify.url, "--token", TOKEN, "--connection", connection_names(1)[0]]
        start = time.monotonic()
        done = subprocess.run(command, capture_output=True, check=True, timeout=timeout)  # noqa: S603
        seconds = time.monotonic() - start
        summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
        if summary["orders"] != orders:
            raise RuntimeError(f"the naive script imported {summary['orders']} of {orders} orders")
        return FlowResult(
            orders=orders,
            import_seconds=seconds,
            calls={"zalando": zalando.get("/_bench/calls"), "shopify": shopify.get("/_bench/calls")},
            end_state=_end_state(zalando, shopify),
        )


def _normalized(state: dict[str, Any]) -> dict[str, Any]:
    """Per Zalando order: exported, its Shopify order's items and status, and whether the exported
    merchant order id is that Shopify order's number. Shopify numbers themselves depend on creation order."""
    by_source = state["shopify"]
    out: dict[str, Any] = {}
    for order_id, order in state["zalando"].items():
        shop: dict[str, Any] | None = next(
            (v for k, v in by_source.items() if k.endswith(f":{order_id}")), None
        )
        out[order_id] = {
            "exported": order["exported"],
            "items": order["items"],
            "store_items": shop["items"] if shop else None,
            "store_status": shop["financial_status"] if shop else None,
            "number_matches": shop is not None
            and order["merchant_order_id"] == "".join(c for c in shop["name"] if c.isalnum()),
        }
    out["store_orders"] = len(by_source)
    return out


def compare_end_states(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Differences between two end states (empty when identical in every compared respect)."""
    left, right = _normalized(a), _normalized(b)
    problems = [
        f"{key}: {left.get(key)} != {right.get(key)}" for key in left if left.get(key) != right.get(key)
    ]
    problems += [f"{key}: missing on the left" for key in right if key not in left]
    return problems
