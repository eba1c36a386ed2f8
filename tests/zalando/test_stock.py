"""update_stock: batching, channels, per-item results, retries of FAILED, client-side budget."""

from __future__ import annotations

import pytest

from ordersyncd.plugin import StockItemStatus, StockLevel
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.simulator import SALES_CHANNELS
from ordersyncd_plugins.marketplace_zalando.stock import WindowBudget

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio

LIVE = {SALES_CHANNELS["de"], SALES_CHANNELS["fr"]}


def _ean(n: int) -> str:
    return f"{4000000000000 + n}"


async def test_every_live_channel_gets_each_ean(plugin: ZalandoMarketplace, sim) -> None:
    results = await plugin.update_stock(connection(), [StockLevel(sku="A", ean=_ean(1), quantity=5)])
    assert [r.status for r in results] == [StockItemStatus.ACCEPTED]
    assert sim.state.stock_levels == {(channel, _ean(1)): 5 for channel in LIVE}
    (request,) = [e for e in sim.recorder.exchanges if e.path.endswith("/stocks")]
    assert request.headers["content-type"] == "application/json"


async def test_configured_channels_limit_the_push(make_plugin: PluginFactory, sim) -> None:
    plugin = make_plugin(sales_channels=[SALES_CHANNELS["fr"], SALES_CHANNELS["ch"]])  # ch is not live
    await plugin.startup()
    await plugin.update_stock(connection(), [StockLevel(ean=_ean(1), quantity=2)])
    assert sim.state.stock_levels == {(SALES_CHANNELS["fr"], _ean(1)): 2}
    await plugin.shutdown()


async def test_per_item_results(plugin: ZalandoMarketplace, sim) -> None:
    sim.state.set_stock_outcome(_ean(2), "REJECTED", 101, "invalid quantity for article")
    sim.state.set_stock_outcome(_ean(3), "ACCEPTED", 104, "article not onboarded yet")
    sim.state.set_stock_outcome(_ean(4), "FAILED", 102, times=2)  # fails on both channels once
    sim.state.set_stock_outcome(_ean(5), "FAILED", 102)  # always
    sim.state.set_stock_outcome(_ean(6), "WEIRD", 999)
    levels = [StockLevel(sku=f"S{n}", ean=_ean(n), quantity=n) for n in range(1, 7)] + [
        StockLevel(sku="noean", quantity=1)
    ]
    results = await plugin.update_stock(connection(), levels)
    assert [r.status for r in results] == [
        StockItemStatus.ACCEPTED,
        StockItemStatus.REJECTED,
        StockItemStatus.PENDING,
        StockItemStatus.ACCEPTED,
        StockItemStatus.FAILED,
        StockItemStatus.FAILED,
        StockItemStatus.REJECTED,
    ]
    assert "invalid quantity" in results[1].reason
    assert "WEIRD" in results[5].reason
    assert results[6].sku == "noean"
    sent = [item for request in sim.state.stock_requests for item in request]
    count = {n: sum(1 for i in sent if i["ean"] == _ean(n)) for n in range(1, 7)}
    # Only FAILED items are re-sent, at most twice: 2 channels x (1 + retries until accepted or given up).
    assert count == {1: 2, 2: 2, 3: 2, 4: 4, 5: 6, 6: 6}
    assert (SALES_CHANNELS["de"], _ean(4)) in sim.state.stock_levels


async def test_batches_of_at_most_1000_and_one_item_per_channel_and_ean(
    plugin: ZalandoMarketplace, sim
) -> None:
    levels = [StockLevel(ean=_ean(n), quantity=n % 7) for n in range(1200)]
    levels.append(StockLevel(ean=_ean(5), quantity=99))  # same EAN again: the later level wins
    results = await plugin.update_stock(connection(), levels)
    sizes = [len(request) for request in sim.state.stock_requests]
    assert max(sizes) <= 1000
    assert sum(sizes) == 2400
    for request in sim.state.stock_requests:
        keys = [(i["sales_channel_id"], i["ean"]) for i in request]
        assert len(keys) == len(set(keys))
    assert results[5].status is StockItemStatus.REJECTED
    assert results[-1].status is StockItemStatus.ACCEPTED
    assert sim.state.stock_levels[(SALES_CHANNELS["de"], _ean(5))] == 99


async def test_budget_keeps_within_2000_items_and_60_requests_per_minute(
    plugin: ZalandoMarketplace, sim, clock: FakeClock
) -> None:
    start = clock.now
    levels = [StockLevel(ean=_ean(n), quantity=1) for n in range(3000)]  # 6000 items over 2 channels
    results = await plugin.update_stock(connection(), levels)
    assert all(r.status is StockItemStatus.ACCEPTED for r in results)
    stock_calls = [e for e in sim.recorder.exchanges if e.path.endswith("/stocks")]
    assert all(e.status == 207 for e in stock_calls)  # the simulator's 2000 items/min limit was never hit
    assert clock.now - start >= 120  # 6000 items need at least three minute-windows


async def test_window_budget_counts_requests(clock: FakeClock) -> None:
    budget = WindowBudget(requests=3, items=100, window=60, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(4):
        await budget.acquire(1)
    assert clock.sleeps == [60]
    with pytest.raises(ValueError, match="budget"):
        await budget.acquire(101)
