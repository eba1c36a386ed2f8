"""Shipped orders with their tracking (outbound and return), and stock read page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ordersyncd.plugin import ConnectionInfo, Shipment, StockLevel
from ordersyncd_plugins.store_woocommerce import WooCommerceStore
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator

from .conftest import StoreFactory, make_order

pytestmark = pytest.mark.anyio


async def shipments(
    store: WooCommerceStore, connection: ConnectionInfo, since: datetime | None = None
) -> list[Shipment]:
    until = datetime.now(UTC) + timedelta(seconds=1)
    return [s async for s in store.find_shipments(connection, since, until)]


async def test_completed_order_with_two_tracking_items_gives_shipping_and_return_codes(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    store = await make_store(sim, carrier_map={"dhl": "DHL_DE"})
    ref = await store.create_order(
        connection, make_order("Z-1", lines=(("SKU-1", 2, "10"), ("SKU-2", 1, "5")))
    )
    await store.create_order(connection, make_order("Z-2"))  # not shipped
    sim.state.ship(int(ref.store_order_id), [("dhl", "00340434161234567890"), ("dhl", "RET-1")])

    found = await shipments(store, connection)
    assert len(found) == 1
    shipment = found[0]
    assert (shipment.order_id, shipment.store_order_id) == ("Z-1", ref.store_order_id)
    assert (shipment.tracking_code, shipment.return_tracking_code) == ("00340434161234567890", "RET-1")
    assert shipment.carrier == "DHL_DE"
    assert {(line.line_id, line.quantity) for line in shipment.lines} == {("L1", 2), ("L2", 1)}
    assert shipment.shipped_at is not None
    paths = {e.path for e in sim.recorder.exchanges}
    assert f"/wp-json/wc-shipment-tracking/v3/orders/{ref.store_order_id}/shipment-trackings" in paths


async def test_orders_of_another_connection_are_not_reported(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    other = ConnectionInfo(name="idealo-shop", account="idealo", store="shop")
    ref = await store.create_order(other, make_order("I-1"))
    sim.state.ship(int(ref.store_order_id), [("DHL", "123")])
    assert await shipments(store, connection) == []
    assert [s.order_id for s in await shipments(store, other)] == ["I-1"]


async def test_tracking_added_later_without_a_modification_is_found_on_a_later_poll(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    ref = await store.create_order(connection, make_order("Z-3"))
    sim.state.ship(int(ref.store_order_id), [])
    first = await shipments(store, connection)
    assert [(s.tracking_code, s.return_tracking_code) for s in first] == [("", "")]
    later = datetime.now(UTC) + timedelta(seconds=2)
    sim.state.add_tracking(int(ref.store_order_id), "OUT-9", "DHL")
    sim.state.add_tracking(int(ref.store_order_id), "RET-9", "DHL")
    # the window no longer covers the order's modification date: only the re-check finds it
    second = [s async for s in store.find_shipments(connection, later, later + timedelta(minutes=1))]
    assert [(s.tracking_code, s.return_tracking_code) for s in second] == [("OUT-9", "RET-9")]
    third = [s async for s in store.find_shipments(connection, later, later + timedelta(minutes=1))]
    assert third == []


async def test_tracking_items_from_order_meta(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    store = await make_store(sim, tracking_source="tracking_items_meta")
    ref = await store.create_order(connection, make_order("Z-4"))
    sim.state.ship(int(ref.store_order_id), [("GLS", "G-1"), ("GLS", "G-RET")])
    found = await shipments(store, connection)
    assert [(s.carrier, s.tracking_code, s.return_tracking_code) for s in found] == [("GLS", "G-1", "G-RET")]
    assert not any("shipment-trackings" in e.path for e in sim.recorder.exchanges)


async def test_tracking_from_configured_meta_keys_and_shipped_status(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    store = await make_store(
        sim,
        tracking_source="meta_keys",
        tracking_number_meta_key="ywot_tracking_code",
        return_tracking_number_meta_key="return_code",
        carrier_meta_key="ywot_carrier_name",
        shipped_statuses=["completed", "wc-shipped"],
    )
    ref = await store.create_order(connection, make_order("Z-5"))
    oid = int(ref.store_order_id)
    meta: list[dict[str, Any]] = [
        {"key": "ywot_tracking_code", "value": "Y-1"},
        {"key": "return_code", "value": "Y-RET"},
        {"key": "ywot_carrier_name", "value": "Hermes"},
    ]
    sim.state.update_order(oid, {"meta_data": meta})
    sim.state.orders[oid]["status"] = "shipped"  # a custom status registered by a plugin
    found = await shipments(store, connection)
    assert [(s.carrier, s.tracking_code, s.return_tracking_code) for s in found] == [
        ("Hermes", "Y-1", "Y-RET")
    ]


async def test_stock_of_products_and_variations_across_pages(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    for i in range(150):
        sim.state.add_product(f"BULK-{i:03}", stock=i)
    sim.state.add_product("UNTRACKED", manage_stock=False)
    sim.state.add_product("", ean="4000000000024", stock=3)  # no SKU: not reported with sku identifier
    sim.state.add_product("NEGATIVE", stock=-2)
    sim.state.add_variable(
        "Shirt",
        [{"sku": "SHIRT-S", "stock": 4}, {"sku": "SHIRT-M", "manage_stock": "parent"}],
        manage_stock=True,
        stock=7,
    )
    levels = {level.sku: level async for level in store.read_stock(connection)}
    assert len(levels) == 2 + 150 + 1 + 2
    assert levels["BULK-149"] == StockLevel(sku="BULK-149", quantity=149)
    assert levels["SKU-1"] == StockLevel(sku="SKU-1", ean="4006381333931", quantity=10)
    assert levels["NEGATIVE"].quantity == 0
    assert (levels["SHIRT-S"].quantity, levels["SHIRT-M"].quantity) == (4, 7)
    assert "UNTRACKED" not in levels and "" not in levels
    product_pages = [
        e for e in sim.recorder.calls("GET", "/wp-json/wc/v3/products") if e.path.endswith("/products")
    ]
    assert [dict(e.query)["page"] for e in product_pages] == ["1", "2"]
    assert all(dict(e.query)["per_page"] == "100" for e in product_pages)
    assert product_pages[0].response_headers["x-wp-totalpages"] == "2"


async def test_stock_by_ean(make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo):
    store = await make_store(sim, product_identifier="ean")
    sim.state.add_product("NO-EAN", stock=1)
    levels = [level async for level in store.read_stock(connection)]
    assert sorted(level.ean for level in levels) == ["4006381333931", "4006381333948"]
