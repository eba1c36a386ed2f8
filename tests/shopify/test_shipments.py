"""find_shipments: fulfillments → shipments (codes, lines, carriers, windows, edits, cancellations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ordersyncd.plugin import ConnectionInfo, Shipment, ShipmentLine
from ordersyncd_plugins.store_shopify import ShopifyStore
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, SimOrder

from .conftest import StoreFactory, make_order

pytestmark = pytest.mark.anyio


async def shipments(
    store: ShopifyStore,
    connection: ConnectionInfo,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Shipment]:
    until = until or datetime.now(UTC) + timedelta(days=30)
    return [s async for s in store.find_shipments(connection, since, until)]


def set_clock(sim: ShopifySimulator, when: datetime) -> None:
    """Move the shop's clock (it stays strictly increasing)."""
    sim.shop.clock = lambda: when


async def imported(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo, order_id: str = "10401234567"
) -> SimOrder:
    lines = [("SKU-1", 2, "49.95"), ("SKU-2", 1, "19.95")]
    ref = await store.create_order(connection, make_order(order_id, lines))
    return sim.shop.order(ref.store_order_id)


async def test_two_tracking_numbers_give_shipping_and_return_code(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = await imported(sim, store, connection)
    fulfillment = sim.fulfill(order, tracking_numbers=["00340434161234567890", "RET-998877"], company="DHL")

    [shipment] = await shipments(store, connection)
    assert shipment.shipment_id == f"gid://shopify/Fulfillment/{fulfillment.id}"
    assert shipment.order_id == "10401234567"
    assert shipment.store_order_id == f"gid://shopify/Order/{order.id}"
    assert shipment.tracking_code == "00340434161234567890"
    assert shipment.return_tracking_code == "RET-998877"
    assert shipment.carrier == "DHL"
    assert sorted(shipment.lines, key=lambda line: line.line_id) == [
        ShipmentLine(line_id="L1", quantity=2),
        ShipmentLine(line_id="L2", quantity=1),
    ]
    assert shipment.shipped_at is not None


async def test_one_tracking_number_leaves_the_return_code_empty(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = await imported(sim, store, connection)
    sim.fulfill(order, tracking_numbers=["ONLY-ONE"])
    [shipment] = await shipments(store, connection)
    assert (shipment.tracking_code, shipment.return_tracking_code) == ("ONLY-ONE", "")


async def test_partial_fulfillments_are_partial_shipments(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = await imported(sim, store, connection)
    first = sim.fulfill(order, {"SKU-1": 1}, tracking_numbers=["A1", "R1"])
    second = sim.fulfill(order, {"SKU-1": 1, "SKU-2": 1}, tracking_numbers=["A2", "R2"])

    found = {s.shipment_id: s for s in await shipments(store, connection)}
    assert found[f"gid://shopify/Fulfillment/{first.id}"].lines == (ShipmentLine(line_id="L1", quantity=1),)
    assert set(found[f"gid://shopify/Fulfillment/{second.id}"].lines) == {
        ShipmentLine(line_id="L1", quantity=1),
        ShipmentLine(line_id="L2", quantity=1),
    }
    assert found[f"gid://shopify/Fulfillment/{second.id}"].tracking_code == "A2"


async def test_cancelled_fulfillments_are_ignored(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = await imported(sim, store, connection)
    wrong = sim.fulfill(order, tracking_numbers=["WRONG", "WRONG-RET"])
    sim.shop.cancel_fulfillment(wrong.id)
    assert await shipments(store, connection) == []
    right = sim.fulfill(order, tracking_numbers=["RIGHT", "RIGHT-RET"])
    [shipment] = await shipments(store, connection)
    assert shipment.shipment_id == f"gid://shopify/Fulfillment/{right.id}"


async def test_tracking_edits_are_picked_up_in_a_later_window(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    set_clock(sim, start)
    order = await imported(sim, store, connection)
    fulfillment = sim.fulfill(order, tracking_numbers=["OUT-1"])
    cursor = start + timedelta(minutes=5)
    [before] = await shipments(store, connection, until=cursor)
    assert before.return_tracking_code == ""

    # nothing changed in the next window
    assert await shipments(store, connection, since=cursor, until=cursor + timedelta(minutes=5)) == []
    set_clock(sim, cursor + timedelta(minutes=7))
    sim.shop.update_tracking(fulfillment.id, ["OUT-1", "RET-1"])
    window = (cursor + timedelta(minutes=5), cursor + timedelta(minutes=10))
    [after] = await shipments(store, connection, *window)
    assert after.shipment_id == before.shipment_id
    assert (after.tracking_code, after.return_tracking_code) == ("OUT-1", "RET-1")


async def test_only_this_connections_orders(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    other = ConnectionInfo(name="idealo-shop", account="idealo", store="shop")
    mine = await imported(sim, store, connection, "MINE")
    theirs = await imported(sim, store, other, "THEIRS")
    manual = sim.shop.create_order(
        {
            "lineItems": [
                {
                    "variantId": f"gid://shopify/ProductVariant/{sim.shop.variant_by(sku='SKU-1').id}",
                    "quantity": 1,
                }
            ],
            "tags": ["ordersyncd:zalando-shop"],
        },
        None,
    )  # a merchant's order carrying our tag but no order key
    for order in (mine, theirs, manual):
        sim.fulfill(order, tracking_numbers=["T", "R"])
    assert [s.order_id for s in await shipments(store, connection)] == ["MINE"]
    assert [s.order_id for s in await shipments(store, other)] == ["THEIRS"]


async def test_carrier_names_are_mapped(sim: ShopifySimulator, make_store: StoreFactory) -> None:
    store = await make_store(sim, carrier_map={"DHL Express": "DHL_EXPRESS", "Hermes": "HERMES"})
    connection = ConnectionInfo(
        name="zalando-shop", account="zalando-de", store="shop", options={"carrier_map": {"GLS": "GLS_DE"}}
    )
    for index, company in enumerate(["dhl express", "GLS", "Hermes", "Some Courier"]):
        order = await imported(sim, store, connection, f"O{index}")
        sim.fulfill(order, tracking_numbers=[f"T{index}", f"R{index}"], company=company)
    found = {s.order_id: s.carrier for s in await shipments(store, connection)}
    assert found == {"O0": "DHL_EXPRESS", "O1": "GLS_DE", "O2": "HERMES", "O3": "Some Courier"}


async def test_window_and_paging(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    set_clock(sim, start)
    orders = [await imported(sim, store, connection, f"P{i}") for i in range(30)]
    for order in orders[:3]:
        sim.fulfill(order, tracking_numbers=["OLD", "OLDR"])
    cursor = start + timedelta(minutes=1)
    set_clock(sim, cursor + timedelta(seconds=30))
    for order in orders[3:]:
        sim.fulfill(order, tracking_numbers=["NEW", "NEWR"])
    recent = await shipments(store, connection, since=cursor)
    # 27 orders over two pages of 25; the first three are outside the window
    assert sorted(s.order_id for s in recent) == sorted(f"P{i}" for i in range(3, 30))
    assert len({s.shipment_id for s in recent}) == 27
    assert len(await shipments(store, connection)) == 30


async def test_many_lines_are_paged(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    skus = [f"MANY-{i}" for i in range(15)]
    for sku in skus:
        sim.shop.add_variant(sku, inventory=3)
    ref = await store.create_order(connection, make_order("BIG", [(sku, 1, "1.00") for sku in skus]))
    sim.fulfill(ref.store_order_id, tracking_numbers=["T", "R"])
    [shipment] = await shipments(store, connection)
    assert {line.line_id for line in shipment.lines} == {f"L{i + 1}" for i in range(15)}
