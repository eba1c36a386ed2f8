"""Rate-limit efficiency: one daemon, two connections, each against a simulator pair where one limit binds.

- ``shopify-bound``: Shopify's cost bucket with a small restore rate (Zalando unlimited). Operations are
  query-cost points; the bound over the window is ``bucket size + restore rate * seconds`` (the bucket starts
  full at the window's start).
- ``zalando-bound``: Zalando's documented PATCH quota (fixed one-minute windows; Shopify unlimited).
  Operations are PATCH requests answered 2xx; the bound is ``quota * windows`` (the windows start with the
  measuring window, which ends just before a window boundary).

Both start with a backlog larger than the window can drain, added the moment the limits are (re)set; the
window ends ``duration`` seconds later. Also counted: the share of requests answered 429 or ``THROTTLED``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from daemon_config import write_config
from orderflow import CATALOGUE, ORDER_SEED, quiesce
from procs import DaemonProcess, SimProcess, running

__all__ = ["ZALANDO_QUOTAS", "LimitResult", "rate_limit_run"]

#: PATCH requests per minute, as documented (the simulator's ``RATE_LIMITS``).
ZALANDO_QUOTAS = {"production": 2000, "sandbox": 40}
_PATCHES = ("PATCH /merchants/{id}/orders/{id}", "PATCH /merchants/{id}/orders/{id}/items/{id}/lines/{id}")


@dataclass
class LimitResult:
    """One connection's figures over the window."""

    name: str
    limit: str
    seconds: float
    achieved: float
    bound: float
    limited_answers: int
    requests: int
    orders_done: int

    @property
    def efficiency(self) -> float:
        return self.achieved / self.bound if self.bound else 0.0

    @property
    def limited_share(self) -> float:
        return self.limited_answers / self.requests if self.requests else 0.0


def rate_limit_run(
    workdir: Path,
    *,
    duration: float = 120.0,
    bucket_size: float = 200.0,
    restore_rate: float = 20.0,
    zalando_limits: str = "sandbox",
    backlog: tuple[int, int] = (600, 300),
) -> tuple[LimitResult, LimitResult]:
    """Run both connections for ``duration`` seconds; return (shopify-bound, zalando-bound)."""
    sims = [SimProcess("zalando"), SimProcess("shopify"), SimProcess("zalando"), SimProcess("shopify")]
    for sim in sims:
        sim.start()
    z1, s1, z2, s2 = sims
    with running(*sims):
        for shop in (s1, s2):
            shop.post("/_bench/catalogue", CATALOGUE)
        config = write_config(
            workdir,
            "",
            "",
            connections=2,
            endpoints=[(z1.url, s1.url), (z2.url, s2.url)],
            # The Zalando-bound account is configured as what it is: an account with the limits of that mode.
            modes=["production", zalando_limits],
            intervals={"poll_orders": "120s", "advance_orders": "30s", "poll_shipments": "300s"},
        )
        daemon = DaemonProcess(config, workdir / "state", kill_on_stop=True)
        with running(daemon):
            daemon.start()
            quiesce(sims)
            for sim in sims:
                sim.post("/_bench/calls/reset")
            start = time.monotonic()
            s1.post("/_bench/throttle", {"bucket_size": bucket_size, "restore_rate": restore_rate})
            z2.post("/_bench/rate-limits", {"limits": zalando_limits})
            z1.post("/_bench/orders", {"count": backlog[0], "seed": ORDER_SEED})
            z2.post("/_bench/orders", {"count": backlog[1], "seed": ORDER_SEED})
            for connection in ("c00001", "c00002"):
                daemon.sync(connection)
            # End just inside the last whole Zalando window.
            windows = max(1, math.floor(duration / 60.0)) if duration >= 60 else 1
            end = start + (windows * 60.0 - 0.5 if duration >= 60 else duration)
            time.sleep(max(0.0, end - time.monotonic()))
            shop_progress = s1.get("/_bench/progress")
            seconds = time.monotonic() - start
            shop_calls = s1.get("/_bench/calls")
            zal_calls = z2.get("/_bench/calls")
            zal_progress = z2.get("/_bench/progress")
    shop_requests = sum(sum(v.values()) for v in shop_calls.values())
    shop_throttled = sum(v.get("THROTTLED", 0) for v in shop_calls.values())
    shopify = LimitResult(
        name="shopify-bound",
        limit=f"Shopify cost bucket {bucket_size:g} points, restore {restore_rate:g}/s",
        seconds=seconds,
        achieved=float(shop_progress["points"]),
        bound=bucket_size + restore_rate * seconds,
        limited_answers=shop_throttled,
        requests=shop_requests,
        orders_done=int(shop_progress["orders"]),
    )
    patches = {k: v for k, v in zal_calls.items() if k in _PATCHES}
    quota = ZALANDO_QUOTAS[zalando_limits]
    zalando = LimitResult(
        name="zalando-bound",
        limit=f"Zalando PATCH quota {quota}/min ({zalando_limits})",
        seconds=seconds,
        achieved=float(sum(v.get("204", 0) for v in patches.values())),
        bound=float(quota * windows),
        limited_answers=sum(v.get("429", 0) for v in zal_calls.values()),
        requests=sum(sum(v.values()) for v in zal_calls.values()),
        orders_done=int(zal_progress["exported"]),
    )
    return shopify, zalando
