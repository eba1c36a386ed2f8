"""The simulator itself: Shopify-like rejections, auth, cost limits, search, control API."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from ordersyncd.testing import asgi_client
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, create_app
from ordersyncd_plugins.store_shopify.simulator.search import Term, parse_query

from .conftest import TOKEN

pytestmark = pytest.mark.anyio

URL = "/admin/api/2026-10/graphql.json"


async def post(
    sim: ShopifySimulator, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> httpx.Response:
    headers = kw.pop("headers", {"X-Shopify-Access-Token": TOKEN})
    async with asgi_client(sim) as client:
        return await client.post(
            kw.pop("url", URL), json={"query": query, "variables": variables or {}}, headers=headers
        )


async def test_unknown_field_is_rejected_like_shopify(sim: ShopifySimulator) -> None:
    response = await post(sim, "query { shop { name nonsenseField } }")
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert "nonsenseField" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_invalid_variables_are_rejected(sim: ShopifySimulator) -> None:
    query = "mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { userErrors { message } } }"
    response = await post(sim, query, {"o": {"lineItems": [{"quantity": 1, "inventoryBehavior": "BYPASS"}]}})
    body = response.json()
    assert body["data"] is None
    assert "inventoryBehavior" in body["errors"][0]["message"]
    assert sim.shop.orders == {}


async def test_access_token_is_checked(sim: ShopifySimulator) -> None:
    response = await post(sim, "query { shop { name } }", headers={"X-Shopify-Access-Token": "shpat_nope"})
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


async def test_connection_needs_first_or_last(sim: ShopifySimulator) -> None:
    body = (await post(sim, "query { orders { nodes { id } } }")).json()
    assert "first or last" in body["errors"][0]["message"]


async def test_single_query_cost_limit(sim: ShopifySimulator) -> None:
    query = "query { orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }"
    body = (await post(sim, query)).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_cost_extension_and_throttled_shape() -> None:
    sim = create_app(access_tokens=(TOKEN,), bucket_size=10, restore_rate=0.001)
    query = "query { orders(first: 5) { nodes { id } } }"
    first = (await post(sim, query)).json()
    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 7
    assert cost["actualQueryCost"] == 2  # no orders: the unused part is refunded
    assert cost["throttleStatus"]["maximumAvailable"] == 10
    assert cost["throttleStatus"]["currentlyAvailable"] == 8
    second = (await post(sim, "query { productVariants(first: 9) { nodes { id } } }")).json()
    assert second["errors"] == [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ]
    assert "data" not in second
    assert second["extensions"]["cost"]["requestedQueryCost"] == 11
    assert sim.stats.throttled == 1


async def test_orders_are_searchable_by_source_identifier_tag_and_updated_at(sim: ShopifySimulator) -> None:
    variant = sim.shop.variant_by(sku="SKU-1")
    line = {"variantId": f"gid://shopify/ProductVariant/{variant.id}", "quantity": 1}
    a = sim.shop.create_order({"lineItems": [line], "sourceIdentifier": "c:1", "tags": ["x", "mp"]}, None)
    b = sim.shop.create_order({"lineItems": [line], "sourceIdentifier": "c:2", "tags": ["y"]}, None)
    query = "query($q: String) { orders(first: 10, query: $q) { nodes { name } } }"

    async def names(search: str) -> list[str]:
        return [n["name"] for n in (await post(sim, query, {"q": search})).json()["data"]["orders"]["nodes"]]

    assert await names('source_identifier:"c:2"') == [b.name]
    assert await names("tag:mp") == [a.name]
    stamp = b.updated_at.isoformat().replace("+00:00", "Z")
    assert await names(f"updated_at:>='{stamp}'") == [b.name]
    assert await names(f"updated_at:<'{stamp}' AND tag:x") == [a.name]


def test_search_parser() -> None:
    assert parse_query("tag:'a b' AND updated_at:>'2026-01-01T00:00:00Z' -tag:z") == [
        Term("tag", "=", "a b"),
        Term("updated_at", ">", "2026-01-01T00:00:00Z"),
        Term("tag", "=", "z", negated=True),
    ]
    assert parse_query('source_identifier:"c:\\"1"') == [Term("source_identifier", "=", 'c:"1')]


async def test_pagination_with_cursors(sim: ShopifySimulator) -> None:
    for index in range(5):
        sim.shop.add_variant(f"P{index}")
    query = "query($a: String) { productVariants(first: 4, after: $a) { pageInfo { hasNextPage endCursor } nodes { sku } } }"
    first = (await post(sim, query)).json()["data"]["productVariants"]
    second = (await post(sim, query, {"a": first["pageInfo"]["endCursor"]})).json()["data"]["productVariants"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasNextPage"] is False
    skus = [n["sku"] for n in first["nodes"] + second["nodes"]]
    assert skus == ["SKU-1", "SKU-2", "P0", "P1", "P2", "P3", "P4"]


async def test_fault_injection(sim: ShopifySimulator) -> None:
    sim.faults.fail_next = 1
    assert (await post(sim, "query { shop { name } }")).status_code == 503
    sim.faults.garbage_rate = 1.0
    response = await post(sim, "query { shop { name } }")
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


async def test_control_api_fulfils_and_lists(sim: ShopifySimulator) -> None:
    variant = sim.shop.variant_by(sku="SKU-1")
    line = {"variantId": f"gid://shopify/ProductVariant/{variant.id}", "quantity": 2, "sku": "SKU-1"}
    order = sim.shop.create_order({"lineItems": [line]}, None)
    async with asgi_client(sim) as client:
        created = await client.post("/_simulator/variants", json={"sku": "NEW", "inventory": 4})
        assert created.status_code == 201
        fulfilled = await client.post(
            f"/_simulator/orders/{order.id}/fulfill",
            json={"lines": {"SKU-1": 1}, "tracking_numbers": ["A", "B"], "company": "GLS"},
        )
        assert fulfilled.status_code == 201
        too_many = await client.post(f"/_simulator/orders/{order.id}/fulfill", json={"lines": {"SKU-1": 5}})
        assert too_many.status_code == 422
        [listed] = (await client.get("/_simulator/orders")).json()
        await client.post("/_simulator/throttle", json={"bucket_size": 50, "restore_rate": 5})
    assert listed["fulfillment_status"] == "PARTIALLY_FULFILLED"
    assert listed["fulfillments"][0]["tracking_numbers"] == ["A", "B"]
    assert sim.shop.variant_by(sku="NEW").available
    assert sim.bucket.size == 50


def test_module_runs_as_a_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ordersyncd_plugins.store_shopify.simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "--port" in result.stdout


async def test_fulfil_by_marketplace_order_id_with_line_pairs(sim: ShopifySimulator) -> None:
    variant = sim.shop.variant_by(sku="SKU-2")
    line = {"variantId": f"gid://shopify/ProductVariant/{variant.id}", "quantity": 3, "sku": "SKU-2"}
    order = sim.shop.create_order({"lineItems": [line], "sourceIdentifier": "zalando-shop:10401234567"}, None)
    fulfillment = sim.fulfill("10401234567", [("SKU-2", 2)], tracking_numbers=["A"])
    assert order.fulfillments == [fulfillment]
    assert order.display_fulfillment_status == "PARTIALLY_FULFILLED"
    assert sim.fulfill(order.name).lines == [(order.line_items[0].id, 1)]
    with pytest.raises(KeyError):
        sim.fulfill("no-such-order")
