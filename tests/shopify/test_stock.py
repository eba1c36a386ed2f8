"""read_stock: available quantities at the configured locations, paged within the cost budget."""

from __future__ import annotations

import pytest

from ordersyncd.plugin import ConnectionInfo, StockLevel
from ordersyncd_plugins.store_shopify import ShopifyStore
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator

from .conftest import StoreFactory

pytestmark = pytest.mark.anyio


async def levels(store: ShopifyStore, connection: ConnectionInfo) -> dict[str, int]:
    return {level.sku or level.ean: level.quantity async for level in store.read_stock(connection)}


def stock_requests(sim: ShopifySimulator) -> list[dict[str, object]]:
    return [
        e.response_json()["extensions"]["cost"]
        for e in sim.recorder.exchanges
        if "StockPage" in (e.json() or {}).get("query", "")
    ]


async def test_reads_every_identified_tracked_variant(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    sim.shop.add_variant("", "4000000000001", inventory=3)  # no SKU: skipped in SKU mode
    sim.shop.add_variant("UNTRACKED", inventory=7, tracked=False)
    sim.shop.add_variant("NEGATIVE", inventory=-2)
    found = [level async for level in store.read_stock(connection)]
    assert StockLevel(sku="SKU-1", ean="4006381333931", quantity=10) in found
    assert {level.sku for level in found} == {"SKU-1", "SKU-2", "NEGATIVE"}
    assert next(level for level in found if level.sku == "NEGATIVE").quantity == 0


async def test_barcode_mode_reads_variants_with_a_barcode(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    sim.shop.add_variant("", "4000000000001", inventory=3)
    sim.shop.add_variant("NO-BARCODE", inventory=3)
    store = await make_store(sim, product_identifier="barcode")
    assert await levels(store, connection) == {"SKU-1": 10, "SKU-2": 5, "4000000000001": 3}


async def test_sums_configured_locations_only(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    first = next(iter(sim.shop.locations))
    second = sim.shop.add_location("Second").id
    closed = sim.shop.add_location("Closed", active=False).id
    sim.shop.add_variant("MULTI", inventory={first: 2, second: 3, closed: 100})

    all_active = await make_store(sim)
    assert (await levels(all_active, connection))["MULTI"] == 5
    only_second = await make_store(sim, location_ids=[str(second)])
    assert await levels(only_second, connection) == {"SKU-1": 0, "SKU-2": 0, "MULTI": 3}


async def test_pages_stay_within_the_cost_budget(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    for index in range(60):
        sim.shop.add_variant(f"BULK-{index:03}", inventory=index)
    store = await make_store(sim, stock_cost_budget=100)
    found = await levels(store, connection)
    assert len(found) == 62
    assert found["BULK-042"] == 42
    costs = stock_requests(sim)
    assert len(costs) == 3  # 24 variants per page: (100 - 2) // 4
    assert store.stock_page_size(1) == 24
    assert all(int(str(cost["requestedQueryCost"])) <= 100 for cost in costs)
    assert sim.stats.throttled == 0


async def test_page_shrinks_when_shopify_counts_more_than_the_estimate(
    sim: ShopifySimulator,
    make_store: StoreFactory,
    connection: ConnectionInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for index in range(60):
        sim.shop.add_variant(f"BULK-{index:03}", inventory=1)
    store = await make_store(sim, stock_cost_budget=100)
    # Pretend our per-variant estimate is half of what Shopify charges
    monkeypatch.setattr(type(store), "stock_page_size", lambda self, locations: 48)
    found = await levels(store, connection)
    assert len(found) == 62
    costs = [int(str(cost["requestedQueryCost"])) for cost in stock_requests(sim)]
    assert costs[0] > 100
    assert all(cost <= 100 for cost in costs[1:])
