"""Every document the plugin sends is checked against Shopify's official 2026-10 schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graphql import parse, validate

from ordersyncd.plugin import ConnectionInfo
from ordersyncd_plugins.store_shopify import ShopifyStore, documents
from ordersyncd_plugins.store_shopify import store as store_module
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, load_schema

from .conftest import make_order

STATIC_DOCUMENTS = {
    "SHOP": documents.SHOP,
    "FIND_ORDER": documents.FIND_ORDER,
    "VARIANTS_BY_IDENTIFIER": documents.VARIANTS_BY_IDENTIFIER,
    "ORDER_CREATE": documents.ORDER_CREATE,
    "SHIPPED_ORDERS": documents.SHIPPED_ORDERS,
    "ORDER_FULFILLMENTS": documents.ORDER_FULFILLMENTS,
    "FULFILLMENT_DETAIL": documents.FULFILLMENT_DETAIL,
    "LOCATIONS": documents.LOCATIONS,
    "RECENT_ORDERS": store_module.RECENT_ORDERS,
    "STOCK_1": documents.stock_document(1),
    "STOCK_3": documents.stock_document(3),
}


@pytest.mark.parametrize("name", sorted(STATIC_DOCUMENTS))
def test_document_is_valid_against_the_official_schema(name: str) -> None:
    assert validate(load_schema(), parse(STATIC_DOCUMENTS[name])) == []


def test_the_schema_check_is_real() -> None:
    # the US spelling is not in Shopify's schema (OrderCreateOptionsInput.inventoryBehaviour is British)
    us_spelling = "mutation { orderCreate(order: {}, options: {inventoryBehavior: BYPASS}) { order { id } } }"
    [error] = validate(load_schema(), parse(us_spelling))
    assert "inventoryBehavior" in error.message
    wrong_field = "query { orders(first: 1) { nodes { id trackingNumber } } }"
    [error] = validate(load_schema(), parse(wrong_field))
    assert "trackingNumber" in error.message


@pytest.mark.anyio
async def test_a_full_run_sends_only_schema_valid_documents(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    """Every hook against the simulator, which executes each document against the schema."""
    assert "simulator" in await store.check_credentials()
    skus = [f"WIDE-{i}" for i in range(6)]
    for sku in skus:
        sim.shop.add_variant(sku, inventory=5)
    order = make_order(lines=[("SKU-1", 4, "49.95"), *((sku, 1, "1.00") for sku in skus)])
    ref = await store.create_order(connection, order)
    assert await store.find_order(connection, make_order("missing")) is None
    # more lines than read inline (FulfillmentDetail), more fulfillments than read inline (OrderFulfillments)
    sim.fulfill(ref.store_order_id, {"SKU-1": 1, **dict.fromkeys(skus, 1)}, tracking_numbers=["T1", "R1"])
    for number in (2, 3, 4):
        sim.fulfill(ref.store_order_id, {"SKU-1": 1} if number < 4 else None, tracking_numbers=[f"T{number}"])
    until = datetime.now(UTC) + timedelta(minutes=1)
    assert len([s async for s in store.find_shipments(connection, None, until)]) == 4
    assert len([level async for level in store.read_stock(connection)]) == 8

    graphql_calls = sim.recorder.calls("POST", "/admin/api/2026-10/graphql.json")
    operations = {call.json()["query"].split("(")[0].split("{")[0].strip() for call in graphql_calls}
    assert operations >= {
        "query ShopInfo",
        "query FindOrder",
        "query RecentOrders",
        "query VariantsByIdentifier",
        "mutation OrderCreate",
        "query ShippedOrders",
        "query OrderFulfillments",
        "query FulfillmentDetail",
        "query Locations",
        "query StockPage",
    }
    for call in graphql_calls:
        body = call.response_json()
        assert call.status == 200
        assert "errors" not in body, (call.json()["query"], body["errors"])
        assert body["data"] is not None
