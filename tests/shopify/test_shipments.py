"""find_shipments: fulfillments → shipments (codes, lines, carriers, windows, edits, cancellations)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import get_operation_ast, parse

from ordersyncd.plugin import ConnectionInfo, Shipment, ShipmentLine
from ordersyncd_plugins.store_shopify import ShopifyStore, documents
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, SimOrder, load_schema
from ordersyncd_plugins.store_shopify.simulator.cost import query_cost

from .conftest import StoreFactory, make_order

pytestmark = pytest.mark.anyio


async def shipments(
    store: ShopifyStore,
    connection: ConnectionInfo,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Shipment]:
    until = until or datetime.now(UTC) + timedelta(days=30)  # ahead of the simulator clocks tests set
    # Without ``since`` the store looks back 30 days from ``until``, i.e. from this call's own second: a
    # fulfillment made in the second before was missed whenever a second boundary fell in between. Look back
    # from well before anything the test made instead.
    since = since or until - timedelta(days=60)
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


def graphql_calls(sim: ShopifySimulator, since: int = 0) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(operation name, variables, extensions.cost) of every GraphQL call from exchange ``since`` on."""
    found = []
    for call in sim.recorder.exchanges[since:]:
        if not call.path.endswith("/graphql.json"):
            continue
        body = call.json()
        match = re.search(r"(?:query|mutation)\s+(\w+)", body["query"])
        assert match is not None
        answer = call.response_json() or {}
        found.append(
            (match.group(1), body.get("variables") or {}, answer.get("extensions", {}).get("cost", {}))
        )
    return found


def names(calls: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    return [name for name, _, _ in calls]


@pytest.mark.parametrize(("lines", "detail_calls"), [(15, 1), (40, 2)])
async def test_many_lines_are_read_on_from_the_inline_cursor(
    sim: ShopifySimulator,
    store: ShopifyStore,
    connection: ConnectionInfo,
    lines: int,
    detail_calls: int,
) -> None:
    skus = [f"MANY-{i}" for i in range(lines)]
    for sku in skus:
        sim.shop.add_variant(sku, inventory=3)
    ref = await store.create_order(connection, make_order("BIG", [(sku, 1, "1.00") for sku in skus]))
    fulfillment = sim.fulfill(ref.store_order_id, tracking_numbers=["T", "R"], company="GLS")
    start = len(sim.recorder.exchanges)
    [shipment] = await shipments(store, connection)
    assert {line.line_id for line in shipment.lines} == {f"L{i + 1}" for i in range(lines)}
    assert all(line.quantity == 1 for line in shipment.lines)
    assert (shipment.tracking_code, shipment.return_tracking_code, shipment.carrier) == ("T", "R", "GLS")
    calls = graphql_calls(sim, start)
    assert names(calls) == ["ShippedOrders"] + ["FulfillmentDetail"] * detail_calls
    # the detail read goes on after the lines read inline, it does not read them again
    assert all(
        variables["id"] == f"gid://shopify/Fulfillment/{fulfillment.id}" for _, variables, _ in calls[1:]
    )
    assert calls[1][1]["after"] is not None


async def test_simple_orders_cost_one_query_per_page_and_no_detail_reads(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    orders = [await imported(sim, store, connection, f"S{i}") for i in range(20)]
    for index, order in enumerate(orders):
        sim.fulfill(order, tracking_numbers=[f"T{index}", f"R{index}"])
    start = len(sim.recorder.exchanges)
    found = {s.order_id: s for s in await shipments(store, connection)}

    assert sorted(found) == sorted(f"S{i}" for i in range(20))
    assert all(s.tracking_code == f"T{s.order_id[1:]}" for s in found.values())
    assert all(s.return_tracking_code == f"R{s.order_id[1:]}" for s in found.values())
    assert all(len(s.lines) == 2 for s in found.values())
    page = documents.shipped_orders_page_size(1000)  # the simulator's bucket (2000) is above the query limit
    assert page == 16
    calls = graphql_calls(sim, start)
    assert names(calls) == ["ShippedOrders"] * math.ceil(20 / page)
    assert [variables["first"] for _, variables, _ in calls] == [page, page]
    assert all(cost["requestedQueryCost"] <= 1000 for _, _, cost in calls)


async def test_pages_shrink_to_fit_a_small_bucket(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    sim.set_throttle(bucket_size=200, restore_rate=2000)
    orders = [await imported(sim, store, connection, f"S{i}") for i in range(7)]
    for order in orders:
        sim.fulfill(order, tracking_numbers=["T", "R"])
    assert store.cost_limit() == 200
    start = len(sim.recorder.exchanges)
    assert len(await shipments(store, connection)) == 7

    calls = graphql_calls(sim, start)
    assert names(calls) == ["ShippedOrders"] * 3  # 3 orders per page: 2 + 3 * 61 = 185 <= 200
    assert [variables["first"] for _, variables, _ in calls] == [3, 3, 3]
    assert [cost["requestedQueryCost"] for _, _, cost in calls] == [185, 185, 185]
    assert sim.stats.throttled == 0


async def test_a_bucket_learned_from_a_throttled_page_shrinks_the_next_try(
    sim: ShopifySimulator, store: ShopifyStore, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    orders = [await imported(sim, store, connection, f"S{i}") for i in range(4)]
    for order in orders:
        sim.fulfill(order, tracking_numbers=["T", "R"])
    sim.set_throttle(bucket_size=200, restore_rate=2000)
    fresh = await make_store(sim)  # knows nothing about the bucket yet
    start = len(sim.recorder.exchanges)
    assert len(await shipments(fresh, connection)) == 4

    calls = graphql_calls(sim, start)
    assert names(calls) == ["ShippedOrders"] * 3
    assert [variables["first"] for _, variables, _ in calls] == [16, 3, 3]
    assert calls[0][2]["actualQueryCost"] is None  # THROTTLED: 978 points can never fit 200
    assert sim.stats.throttled == 1


async def test_an_order_with_more_fulfillments_than_read_inline(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    ref = await store.create_order(connection, make_order("MULTI", [("SKU-1", 5, "49.95")]))
    parts = [
        sim.fulfill(ref.store_order_id, {"SKU-1": 1}, tracking_numbers=[f"T{i}", f"R{i}"]) for i in range(5)
    ]
    sim.shop.cancel_fulfillment(parts[3].id)
    start = len(sim.recorder.exchanges)
    found = {s.shipment_id: s for s in await shipments(store, connection)}

    expected = [part for index, part in enumerate(parts) if index != 3]
    assert sorted(found) == sorted(f"gid://shopify/Fulfillment/{part.id}" for part in expected)
    for index, part in enumerate(parts):
        if index == 3:
            continue
        shipment = found[f"gid://shopify/Fulfillment/{part.id}"]
        assert (shipment.tracking_code, shipment.return_tracking_code) == (f"T{index}", f"R{index}")
        assert shipment.lines == (ShipmentLine(line_id="L1", quantity=1),)
    calls = graphql_calls(sim, start)
    # three read inline; the full list, then the details of the fifth (the fourth is cancelled)
    assert names(calls) == ["ShippedOrders", "OrderFulfillments", "FulfillmentDetail"]
    assert calls[2][1] == {"id": f"gid://shopify/Fulfillment/{parts[4].id}", "after": None}


@pytest.mark.parametrize("limit", [1000, 500, 200, 100])
def test_shipped_orders_cost_as_the_simulator_counts_it(limit: int) -> None:
    schema = load_schema()
    document = parse(documents.SHIPPED_ORDERS)
    operation = get_operation_ast(document)
    assert operation is not None
    first = documents.shipped_orders_page_size(limit)

    def cost(size: int) -> int:
        return query_cost(schema, document, operation, {"query": "", "first": size})

    assert cost(first) == documents.shipped_orders_cost(first) <= min(limit, 1000)
    assert cost(first + 1) > limit  # the largest page that fits
    detail = parse(documents.FULFILLMENT_DETAIL)
    detail_operation = get_operation_ast(detail)
    assert detail_operation is not None
    assert query_cost(schema, detail, detail_operation, {"id": "x"}) == documents.FULFILLMENT_DETAIL_COST
    listing = parse(documents.ORDER_FULFILLMENTS)
    listing_operation = get_operation_ast(listing)
    assert listing_operation is not None
    size = documents.order_fulfillments_first(limit)
    assert query_cost(schema, listing, listing_operation, {"id": "x", "first": size}) == 1 + size <= limit
