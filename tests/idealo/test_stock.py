"""Stock as offer checkout limits through PWS 2.0: only changes, per-offer errors, unaddressable SKUs."""

from __future__ import annotations

import pytest

from ordersyncd.plugin import StockItemStatus, StockLevel
from ordersyncd_plugins.marketplace_idealo import IdealoMarketplace
from ordersyncd_plugins.marketplace_idealo.simulator import SHOP_ID, IdealoSimulator

from .conftest import PluginFactory, connection

pytestmark = pytest.mark.anyio


def patches(sim: IdealoSimulator) -> list[tuple[str, object]]:
    return [(e.path, e.json()) for e in sim.recorder.calls("PATCH", f"/shop/{SHOP_ID}/offer/")]


async def test_checkout_limits_are_patched_only_when_they_change(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    levels = [StockLevel(sku="IDL-100", quantity=7), StockLevel(sku="IDL-101", quantity=0)]
    results = await plugin.update_stock(connection(), levels)
    assert [(r.sku, r.status) for r in results] == [
        ("IDL-100", StockItemStatus.ACCEPTED),
        ("IDL-101", StockItemStatus.ACCEPTED),
    ]
    assert sorted(patches(sim)) == [
        (f"/shop/{SHOP_ID}/offer/IDL-100", {"sku": "IDL-100", "checkoutLimitPerPeriod": 7}),
        (f"/shop/{SHOP_ID}/offer/IDL-101", {"sku": "IDL-101", "checkoutLimitPerPeriod": 0}),
    ]
    assert sim.state.offers["IDL-101"]["checkoutLimitPerPeriod"] == 0
    again = await plugin.update_stock(connection(), [*levels[:1], StockLevel(sku="IDL-101", quantity=3)])
    assert [r.reason for r in again] == ["unchanged", ""]
    assert patches(sim)[-1] == (
        f"/shop/{SHOP_ID}/offer/IDL-101",
        {"sku": "IDL-101", "checkoutLimitPerPeriod": 3},
    )
    assert len(patches(sim)) == 3
    token_calls = sim.recorder.calls("POST", "/mer/businessaccount/api/v1/oauth/token")
    assert len(token_calls) == 1 and token_calls[0].body == b"grant_type=client_credentials"


async def test_what_was_published_survives_a_restart(make_plugin: PluginFactory, sim: IdealoSimulator):
    for _ in range(2):
        plugin = make_plugin()
        await plugin.startup()
        try:
            await plugin.update_stock(connection(), [StockLevel(sku="IDL-102", quantity=4)])
        finally:
            await plugin.shutdown()
    assert len(patches(sim)) == 1


async def test_unlisted_offers_bad_values_and_unaddressable_skus_are_reported_per_item(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    levels = [
        StockLevel(sku="NOT-LISTED", quantity=2),
        StockLevel(sku="A/B", quantity=1),
        StockLevel(sku="50%", quantity=1),
        StockLevel(ean="4006381333931", quantity=1),
        StockLevel(sku="IDL-103", quantity=5),
    ]
    sim.faults.only_paths = (f"/shop/{SHOP_ID}/offer/IDL-103",)
    sim.faults.fail_next = 1
    results = await plugin.update_stock(connection(), levels)
    statuses = [(r.status, r.reason) for r in results]
    assert statuses[0][0] is StockItemStatus.REJECTED and "not listed at idealo" in statuses[0][1]
    assert statuses[1][0] is StockItemStatus.REJECTED and "'/'" in statuses[1][1]
    assert statuses[2][0] is StockItemStatus.REJECTED and "'%'" in statuses[2][1]
    assert statuses[3][0] is StockItemStatus.REJECTED and "addressed by SKU" in statuses[3][1]
    assert statuses[4][0] is StockItemStatus.FAILED and "503" in statuses[4][1]
    sent = {path for path, _ in patches(sim)}
    assert sent == {f"/shop/{SHOP_ID}/offer/NOT-LISTED"}  # the bad SKUs never reached the wire
    sim.faults.only_paths = ()
    retried = await plugin.update_stock(connection(), levels[4:])
    assert (
        retried[0].status is StockItemStatus.ACCEPTED
        and sim.state.offers["IDL-103"]["checkoutLimitPerPeriod"] == 5
    )


async def test_delete_mode_takes_offers_down_at_zero_and_puts_them_back(
    make_plugin: PluginFactory, sim: IdealoSimulator
):
    plugin = make_plugin(offers_at_zero="delete")
    await plugin.startup()
    try:
        original = dict(sim.state.offers["IDL-104"])
        await plugin.update_stock(connection(), [StockLevel(sku="IDL-104", quantity=0)])
        assert "IDL-104" not in sim.state.offers
        result = await plugin.update_stock(connection(), [StockLevel(sku="IDL-104", quantity=2)])
        assert result[0].status is StockItemStatus.ACCEPTED
        assert sim.state.offers["IDL-104"] == {**original, "checkoutLimitPerPeriod": 2}
    finally:
        await plugin.shutdown()


async def test_without_offer_credentials_stock_is_rejected_not_sent(
    make_plugin: PluginFactory, sim: IdealoSimulator
):
    plugin = make_plugin(offers_client_id=None, offers_client_secret=None)
    await plugin.startup()
    try:
        results = await plugin.update_stock(connection(), [StockLevel(sku="IDL-100", quantity=1)])
        assert results[0].status is StockItemStatus.REJECTED and "offers_client_id" in results[0].reason
        assert patches(sim) == []
    finally:
        await plugin.shutdown()
