"""The GraphQL documents the plugin sends, and helpers for Shopify's search syntax.

Every document here is executed by the simulator against the official 2026-10 schema in the tests, so a
field Shopify does not have fails the suite. Estimated costs follow Shopify's calculation (object 1,
connection 2 + first * node cost, mutation 10) and are only used until Shopify reports the real cost.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = [
    "FIND_ORDER",
    "FULFILLMENT_DETAIL",
    "LOCATIONS",
    "MAX_QUERY_COST",
    "ORDER_CREATE",
    "ORDER_FULFILLMENTS",
    "SHIPPED_ORDERS",
    "SHIPPED_ORDER_COST",
    "SHOP",
    "VARIANTS_BY_IDENTIFIER",
    "fulfillment_cost",
    "order_fulfillments_first",
    "search_term",
    "search_time",
    "shipped_orders_cost",
    "shipped_orders_page_size",
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

#: What ``ShippedOrders`` reads inline per order and fulfillment. Enough for nearly every order; more is read
#: separately: an order whose list is full (``SHIPPED_FULFILLMENTS`` entries) with ``ORDER_FULFILLMENTS``,
#: a fulfillment with more lines with ``FULFILLMENT_DETAIL`` from the cursor. Two tracking entries: the first
#: is the shipping code, the second the return code (see :mod:`.shipments`).
SHIPPED_FULFILLMENTS = 3
SHIPPED_TRACKING = 2
SHIPPED_LINES = 5
#: Shopify's maximum requested cost of a single query, and its maximum page size.
MAX_QUERY_COST = 1000
MAX_PAGE = 250


def _fulfillment_fields(tracking: int, lines: int, *, after: bool, indent: int) -> str:
    """The fields of a fulfillment both documents read (lines from ``$after`` when ``after``)."""
    cursor = ", after: $after" if after else ""
    fields = f"""id status createdAt updatedAt
trackingInfo(first: {tracking}) {{ company number url }}
fulfillmentLineItems(first: {lines}{cursor}) {{
  pageInfo {{ hasNextPage endCursor }}
  nodes {{ quantity lineItem {{ id sku customAttributes {{ key value }} }} }}
}}"""
    return textwrap.indent(fields, " " * indent).strip()


def fulfillment_cost(tracking: int, lines: int) -> int:
    """Requested cost of one fulfillment as :func:`_fulfillment_fields` reads it: the object (1), the tracking
    list (``tracking * 1``), the line connection (``2 + lines * 3``: line, line item, its attributes list)."""
    return 1 + tracking + 2 + lines * 3


#: Requested cost of one order in ``SHIPPED_ORDERS``: the order (1) and its fulfillments list.
SHIPPED_ORDER_COST = 1 + SHIPPED_FULFILLMENTS * fulfillment_cost(SHIPPED_TRACKING, SHIPPED_LINES)

#: Orders touched in a window with their fulfillments, tracking and lines (``$first`` orders per page, see
#: :func:`shipped_orders_page_size`).
SHIPPED_ORDERS = f"""
query ShippedOrders($query: String!, $first: Int!, $after: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name sourceIdentifier tags updatedAt
      fulfillments(first: {SHIPPED_FULFILLMENTS}) {{
        {_fulfillment_fields(SHIPPED_TRACKING, SHIPPED_LINES, after=False, indent=8)}
      }}
    }}
  }}
}}
"""


def shipped_orders_cost(first: int) -> int:
    """Requested cost of a ``SHIPPED_ORDERS`` page of ``first`` orders."""
    return 2 + first * SHIPPED_ORDER_COST


def shipped_orders_page_size(limit: float) -> int:
    """The most orders per ``SHIPPED_ORDERS`` page whose requested cost stays within ``limit`` (at least 1)."""
    return max(1, min(MAX_PAGE, int((limit - 2) // SHIPPED_ORDER_COST)))


#: All fulfillments of one order (ids and states), for an order whose ``SHIPPED_ORDERS`` list was full.
#: Requested cost ``1 + first``.
ORDER_FULFILLMENTS = """
query OrderFulfillments($id: ID!, $first: Int!) {
  order(id: $id) {
    fulfillments(first: $first) { id status }
  }
}
"""


def order_fulfillments_first(limit: float) -> int:
    """``first`` for ``ORDER_FULFILLMENTS`` within ``limit`` (requested cost ``1 + first``)."""
    return max(1, min(MAX_PAGE, int(limit) - 1))


#: One fulfillment with its tracking and (a page of) its lines, from ``$after``.
FULFILLMENT_DETAIL_LINES = 25
FULFILLMENT_DETAIL = f"""
query FulfillmentDetail($id: ID!, $after: String) {{
  fulfillment(id: $id) {{
    {_fulfillment_fields(SHIPPED_TRACKING, FULFILLMENT_DETAIL_LINES, after=True, indent=4)}
  }}
}}
"""
FULFILLMENT_DETAIL_COST = fulfillment_cost(SHIPPED_TRACKING, FULFILLMENT_DETAIL_LINES)

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
