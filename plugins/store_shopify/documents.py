"""The GraphQL documents the plugin sends, and helpers for Shopify's search syntax.

Every document here is executed by the simulator against the official 2026-10 schema in the tests, so a
field Shopify does not have fails the suite. Estimated costs follow Shopify's calculation (object 1,
connection 2 + first * node cost, mutation 10) and are only used until Shopify reports the real cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = [
    "FIND_ORDER",
    "FULFILLMENT_DETAIL",
    "LOCATIONS",
    "ORDER_CREATE",
    "SHIPPED_ORDERS",
    "SHOP",
    "VARIANTS_BY_IDENTIFIER",
    "search_term",
    "search_time",
    "stock_document",
    "stock_variant_cost",
]

SHOP = """
query ShopInfo {
  shop { name myshopifyDomain }
}
"""

FIND_ORDER = """
query FindOrder($query: String!) {
  orders(first: 5, query: $query) {
    nodes { id name sourceIdentifier tags cancelledAt }
  }
}
"""
FIND_ORDER_COST = 2 + 5

VARIANTS_BY_IDENTIFIER = """
query VariantsByIdentifier($query: String!) {
  productVariants(first: 5, query: $query) {
    nodes { id sku barcode }
  }
}
"""
VARIANTS_COST = 2 + 5

ORDER_CREATE = """
mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name sourceIdentifier }
    userErrors { field message code }
  }
}
"""
ORDER_CREATE_COST = 10

#: Orders touched in a window, with their fulfillments' ids and states; details are read per fulfillment.
#: ``Order.fulfillments`` is a plain list: at most ``SHIPPED_ORDERS_FULFILLMENTS`` per order are seen.
SHIPPED_ORDERS_FULFILLMENTS = 10
SHIPPED_ORDERS = """
query ShippedOrders($query: String!, $after: String) {
  orders(first: 25, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name sourceIdentifier tags updatedAt
      fulfillments(first: 10) { id status }
    }
  }
}
"""
SHIPPED_ORDERS_COST = 2 + 25 * (1 + 10)

#: One fulfillment with its tracking and (a page of) its lines.
FULFILLMENT_DETAIL = """
query FulfillmentDetail($id: ID!, $after: String) {
  fulfillment(id: $id) {
    id status createdAt updatedAt
    trackingInfo(first: 5) { company number url }
    fulfillmentLineItems(first: 25, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { quantity lineItem { id sku customAttributes { key value } } }
    }
  }
}
"""
FULFILLMENT_DETAIL_COST = 1 + 5 + 2 + 25 * 3

LOCATIONS = """
query Locations($after: String) {
  locations(first: 50, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id name isActive }
  }
}
"""
LOCATIONS_COST = 2 + 50


def stock_variant_cost(locations: int) -> int:
    """Cost of one variant in :func:`stock_document`: variant, inventory item, one level per location."""
    return 2 + 2 * locations


def stock_document(locations: int) -> str:
    """A page of variants with the ``available`` quantity at ``locations`` locations (aliases l0, l1, …).

    Variables: ``first``, ``after`` and ``l0``… the location ids.
    """
    params = "".join(f", $l{i}: ID!" for i in range(locations))
    levels = " ".join(
        f'l{i}: inventoryLevel(locationId: $l{i}) {{ quantities(names: ["available"]) {{ name quantity }} }}'
        for i in range(locations)
    )
    return f"""
query StockPage($first: Int!, $after: String{params}) {{
  productVariants(first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id sku barcode inventoryItem {{ tracked {levels} }} }}
  }}
}}
"""


def search_term(field: str, value: str) -> str:
    """``field:"value"`` in Shopify's search syntax, quoted and escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field}:"{escaped}"'


def search_time(field: str, op: str, when: datetime) -> str:
    """A time comparison such as ``updated_at:>'2026-01-01T00:00:00Z'``."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{field}:{op}'{stamp}'"


def join_terms(terms: Sequence[str]) -> str:
    """Terms combined with AND."""
    return " AND ".join(terms)
