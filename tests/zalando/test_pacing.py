"""Client-side pacing of the documented quotas: the sliding window itself, then the plugin against the
simulator's fixed one-minute windows (on the shared fake clock)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from ordersyncd.plugin import RateLimited, StoreOrderRef
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.quota import SlidingWindow, quota_of

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MID = "6f1c6a2e-2f7a-4c52-9d0e-1b1a2c3d4e5f"


class YieldingClock(FakeClock):
    """A fake clock whose sleep also lets other tasks run."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await anyio.lowlevel.checkpoint()


# ---------------------------------------------------------------------------------------------- the window


@pytest.mark.parametrize(
    ("method", "path", "params", "quota"),
    [
        ("PATCH", f"/merchants/{MID}/orders/o1", None, "patch"),
        ("PATCH", f"/merchants/{MID}/orders/o1/items/i1/lines/l1", None, "patch"),
        ("GET", f"/merchants/{MID}/orders", {"include": "order_items"}, "orders_list"),
        ("GET", f"/merchants/{MID}/orders", {"order_number": "10101"}, None),
        ("GET", f"/merchants/{MID}/orders/o1", None, None),
        ("POST", f"/merchants/{MID}/stocks", None, None),
        ("GET", "/auth/me", None, None),
    ],
)
def test_quota_of_names_the_paced_quotas(
    method: str, path: str, params: dict[str, str] | None, quota: str | None
) -> None:
    assert quota_of(method, path, params) == quota


async def test_window_admits_the_limit_then_waits_until_a_minute_after_each_answer() -> None:
    clock = FakeClock()
    window = SlidingWindow(3)
    answered_at = [1000.0, 1015.0, 1020.0]  # the second answer took 5 s to arrive
    for sent_at, answered in zip([1000.0, 1010.0, 1020.0], answered_at, strict=True):
        clock.now = sent_at
        assert await window.acquire(clock.monotonic, clock.sleep, max_wait=60) == 0
        clock.now = answered
        window.release(clock.monotonic())
    clock.now = 1030.0
    assert await window.acquire(clock.monotonic, clock.sleep, max_wait=60) == 30  # until 1000 + 60
    window.release(clock.monotonic())
    assert await window.acquire(clock.monotonic, clock.sleep, max_wait=60) == 15  # until 1015 + 60, not 1070
    window.release(clock.monotonic())
    assert clock.sleeps == [30, 15]


async def test_a_wait_beyond_max_wait_is_rate_limited_and_takes_nothing() -> None:
    clock = FakeClock()
    window = SlidingWindow(1)
    await window.acquire(clock.monotonic, clock.sleep, max_wait=60)
    window.release(clock.monotonic())
    with pytest.raises(RateLimited) as caught:
        await window.acquire(clock.monotonic, clock.sleep, max_wait=10)
    assert caught.value.retry_after == 60
    assert clock.sleeps == []
    assert await window.acquire(clock.monotonic, clock.sleep, max_wait=60) == 60  # the slot was not taken


async def test_requests_in_flight_keep_their_slot_until_answered() -> None:
    clock = YieldingClock()
    window = SlidingWindow(1)
    await window.acquire(clock.monotonic, clock.sleep, max_wait=60)  # in flight, not answered
    waited: list[float] = []

    async def second() -> None:
        waited.append(await window.acquire(clock.monotonic, clock.sleep, max_wait=600))

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert waited == []  # blocked while the first request is in flight
        clock.now += 5
        window.release(clock.monotonic())  # answered 5 s after it was sent
    assert waited == [65]
    assert clock.sleeps == [60]


async def test_waiting_requests_are_served_in_order() -> None:
    window = SlidingWindow(1, window=0.05)
    order: list[int] = []

    async def request(number: int) -> None:
        await window.acquire(time.monotonic, anyio.sleep, max_wait=5)
        order.append(number)
        window.release(time.monotonic())

    await window.acquire(time.monotonic, anyio.sleep, max_wait=5)
    window.release(time.monotonic())
    async with anyio.create_task_group() as tg:
        for number in range(4):
            tg.start_soon(request, number)
            await anyio.lowlevel.checkpoint()
    assert order == [0, 1, 2, 3]


def test_an_announced_quota_only_ever_lowers_the_limit() -> None:
    window = SlidingWindow(2000)
    assert window.announce(0) is False
    assert window.announce(3000) is False
    assert window.announce(40) is True
    assert window.limit == 40
    window.configured = 100  # reconfigured: the announced 40 still binds
    assert window.limit == 40
    assert window.announce(60) is False


# ---------------------------------------------------------------------------------------------- the plugin


async def _imported_orders(plugin: ZalandoMarketplace, sim, count: int) -> list:
    sim.state.generate_orders(count, start=T0)
    raws = [
        raw
        async for raw in plugin.fetch_orders(connection(), T0 - timedelta(seconds=1), T0 + timedelta(hours=1))
    ]
    return [plugin.map_order(connection(), raw) for raw in raws]


def _answers(sim, method: str) -> list[int]:
    return [e.status for e in sim.recorder.exchanges if e.method == method]


@pytest.mark.parametrize("offset", [0.0, 20.0, 59.5])
async def test_sandbox_patch_quota_is_never_exceeded_whatever_the_window_alignment(
    make_plugin: PluginFactory, sim, clock: FakeClock, offset: float
) -> None:
    sim.state.set_rate_limits("sandbox")  # fixed windows from now: 40 PATCH per minute
    clock.now += offset
    plugin = make_plugin(mode="sandbox")
    await plugin.startup()
    orders = await _imported_orders(plugin, sim, 90)
    start = clock.now
    for n, order in enumerate(orders):
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id=str(n), number=f"W{n}")
        )
    assert len(sim.state.exports) == 90
    assert _answers(sim, "PATCH") == [204] * 90  # not one 429
    assert clock.now - start == pytest.approx(120)  # 40 now, 40 a minute later, 10 after two minutes
    await plugin.shutdown()


async def test_connections_of_one_account_share_its_quota(make_plugin: PluginFactory, sim, clock) -> None:
    sim.state.set_rate_limits("sandbox")
    first, second = make_plugin(), make_plugin()
    await first.startup()
    await second.startup()
    orders = await _imported_orders(first, sim, 50)
    for n, order in enumerate(orders):
        plugin = first if n % 2 else second
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id=str(n), number=f"W{n}")
        )
    assert _answers(sim, "PATCH") == [204] * 50
    await first.shutdown()
    await second.shutdown()


async def test_configured_quota_replaces_the_documented_one(make_plugin: PluginFactory, sim, clock) -> None:
    plugin = make_plugin(mode="production", patch_requests_per_minute=10)  # the simulator allows 2000
    await plugin.startup()
    orders = await _imported_orders(plugin, sim, 15)
    start = clock.now
    done_at = []
    for n, order in enumerate(orders):
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id=str(n), number=f"W{n}")
        )
        done_at.append(clock.now - start)
    assert done_at == [0] * 10 + [60] * 5
    await plugin.shutdown()


async def test_a_429_announcing_a_smaller_quota_paces_to_it(make_plugin: PluginFactory, sim, clock) -> None:
    sim.state.set_rate_limits("sandbox")  # 40 PATCH/min, but the account says production (2000)
    plugin = make_plugin(mode="production")
    await plugin.startup()
    orders = await _imported_orders(plugin, sim, 90)
    for n, order in enumerate(orders):
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id=str(n), number=f"W{n}")
        )
    assert len(sim.state.exports) == 90
    assert _answers(sim, "PATCH").count(429) == 1  # the first one teaches the client the quota
    await plugin.shutdown()


async def test_a_pacing_wait_beyond_max_rate_limit_wait_goes_to_the_core(
    make_plugin: PluginFactory, sim, clock
) -> None:
    sim.state.set_rate_limits("sandbox")
    plugin = make_plugin(mode="sandbox", max_rate_limit_wait=30)
    await plugin.startup()
    orders = await _imported_orders(plugin, sim, 41)
    for n, order in enumerate(orders[:40]):
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id=str(n), number=f"W{n}")
        )
    with pytest.raises(RateLimited) as caught:
        await plugin.acknowledge_order(
            connection(), orders[40], StoreOrderRef(store_order_id="40", number="W40")
        )
    assert caught.value.retry_after == pytest.approx(60)
    assert _answers(sim, "PATCH") == [204] * 40  # the 41st was never sent
    assert clock.sleeps == []
    await plugin.shutdown()
