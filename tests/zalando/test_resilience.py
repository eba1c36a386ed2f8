"""429 storms, documented rate limits, 5xx, timeouts and malformed bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ordersyncd.plugin import PluginContext, RateLimited, TransientError
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
    create_app,
)

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _fetch(plugin: ZalandoMarketplace, until: datetime = T0 + timedelta(hours=1)) -> list[str]:
    return [raw.order_id async for raw in plugin.fetch_orders(connection(), T0 - timedelta(seconds=1), until)]


async def test_429_storm_waits_retry_after_each_time(
    plugin: ZalandoMarketplace, sim, clock: FakeClock
) -> None:
    orders = sim.state.generate_orders(3, start=T0)
    sim.state.throttle_next(6, retry_after=3)
    assert await _fetch(plugin) == [o.order_id for o in orders]
    assert clock.sleeps == [3.0] * 6
    throttled = [e for e in sim.recorder.exchanges if e.status == 429]
    assert len(throttled) == 6
    assert all(e.response_headers["retry-after"] == "3" for e in throttled)


async def test_long_429_storm_goes_to_the_core_as_rate_limited(
    plugin: ZalandoMarketplace, sim, clock
) -> None:
    sim.state.generate_orders(2, start=T0)
    sim.state.throttle_next(100, retry_after=30)
    with pytest.raises(RateLimited) as caught:
        await _fetch(plugin)
    assert caught.value.retry_after == 30
    assert clock.sleeps == [30.0, 30.0]  # max_rate_limit_wait = 60 s of waiting inline


async def test_documented_sandbox_list_limit_is_respected(make_plugin: PluginFactory, sim, clock) -> None:
    sim.state.set_rate_limits("sandbox")  # 10 order lists per minute
    orders = sim.state.generate_orders(25, start=T0)
    plugin = make_plugin(page_size=1, max_rate_limit_wait=600)
    await plugin.startup()
    start = clock.now
    assert await _fetch(plugin) == [o.order_id for o in orders]
    assert any(e.status == 429 for e in sim.recorder.exchanges)  # list calls are not paced by default
    assert clock.now - start >= 120  # 25 list calls at 10/min span three windows
    await plugin.shutdown()


async def test_paced_list_calls_stay_inside_the_sandbox_list_limit(
    make_plugin: PluginFactory, sim, clock
) -> None:
    sim.state.set_rate_limits("sandbox")  # 10 order lists per minute
    orders = sim.state.generate_orders(25, start=T0)
    plugin = make_plugin(page_size=1, max_rate_limit_wait=600, order_list_requests_per_minute=10)
    await plugin.startup()
    start = clock.now
    assert await _fetch(plugin) == [o.order_id for o in orders]
    lists = [e for e in sim.recorder.exchanges if e.path.endswith("/orders")]
    assert len(lists) == 25
    assert not any(e.status == 429 for e in sim.recorder.exchanges)  # paced, not throttled
    assert clock.now - start == pytest.approx(120)  # 10 now, 10 a minute later, 5 after two minutes
    await plugin.shutdown()


async def test_server_errors_are_transient(plugin: ZalandoMarketplace, sim) -> None:
    sim.state.generate_orders(1, start=T0)
    sim.faults.fail_next = 1
    with pytest.raises(TransientError, match="503"):
        await _fetch(plugin)
    assert sim.faults.injected["error"] == 1
    assert len(await _fetch(plugin)) == 1  # recovers on the next run


async def test_malformed_body_is_transient(plugin: ZalandoMarketplace, sim) -> None:
    sim.state.generate_orders(1, start=T0)
    sim.faults.garbage_rate = 1.0
    with pytest.raises(TransientError, match="not JSON"):
        await _fetch(plugin)
    sim.faults.reset()
    assert len(await _fetch(plugin)) == 1


async def test_timeout_on_loopback_is_transient(tmp_path: Path) -> None:
    app = create_app(seed=1)
    app.state.generate_orders(1, start=T0)
    with serve_asgi(app) as served:
        context = PluginContext(
            name="zal",
            kind="marketplace",
            state_dir=tmp_path,
            http_client_factory=lambda system, **kw: httpx.AsyncClient(**kw),
        )
        config = {
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "mode": "sandbox",
            "merchant_id": MERCHANT_A,
            "base_url": served.base_url,
            "timeout_seconds": 0.3,
        }
        plugin = ZalandoMarketplace(name="zal", config=config, context=context)
        assert plugin.validate_config() == []
        await plugin.startup()
        assert len(await _fetch(plugin)) == 1
        app.faults.timeout_rate, app.faults.hang_seconds = 1.0, 2.0
        with pytest.raises(TransientError, match="Timeout"):
            await _fetch(plugin)
        app.faults.reset()
        await plugin.shutdown()


async def test_latency_is_only_slower(plugin: ZalandoMarketplace, sim) -> None:
    sim.state.generate_orders(2, start=T0)
    sim.faults.latency = 0.01
    assert len(await _fetch(plugin)) == 2
