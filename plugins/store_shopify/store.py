"""The Shopify store plugin: orders in via ``orderCreate``, fulfillments and stock out, over Admin GraphQL."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ordersyncd.plugin import (
    ConfigProblem,
    ConnectionInfo,
    Order,
    OrderLine,
    PermanentOrderError,
    PluginContext,
    Shipment,
    StockLevel,
    StoreOrderRef,
    StorePlugin,
    TransientError,
    hookimpl,
    string_table_problems,
)

from . import documents as docs
from .auth import SYSTEM, ClientCredentialsToken, StaticToken, TokenSource
from .graphql_client import GraphQLClient, QueryTooCostly
from .order_input import connection_tag, order_create_variables, source_identifier
from .settings import ShopifySettings
from .shipments import IGNORED_STATUSES, fulfillment_lines, shipment_from_fulfillment
from .throttle import CostBucket

__all__ = ["ShopifyStore"]

log = logging.getLogger(__name__)

#: ``orderCreate`` user error codes that do not condemn the order (the shop itself is unavailable).
TRANSIENT_USER_ERRORS = frozenset({"SHOP_DORMANT"})
#: How many of the most recent orders ``find_order`` scans when the search index has no hit (yet).
RECENT_ORDERS_SCANNED = 50
RECENT_ORDERS = """
query RecentOrders {
  orders(first: 50, sortKey: CREATED_AT, reverse: true) {
    nodes { id name sourceIdentifier }
  }
}
"""


class ShopifyStore(StorePlugin[ShopifySettings]):
    """Shopify (Admin GraphQL API) as the store of one or more connections.

    Every imported order carries ``sourceIdentifier = "{connection}:{marketplace order id}"`` (the order
    key) and the tags ``{marketplace}`` and ``ordersyncd:{connection}``; both are used to find it again.
    """

    Settings = ShopifySettings
    secret_keys = ("access_token", "client_secret")

    def __init__(self, *, name: str, config: Mapping[str, Any], context: PluginContext) -> None:
        super().__init__(name=name, config=config, context=context)
        self._http: httpx.AsyncClient | None = None
        self._graphql: GraphQLClient | None = None
        self._tokens: TokenSource | None = None
        self._variants: dict[str, tuple[str, float]] = {}
        self.clock: Callable[[], float] = time.monotonic

    # ----------------------------------------------------------------------------------------- lifecycle

    @hookimpl
    def validate_config(self) -> list[ConfigProblem]:
        problems = super().validate_config()
        if problems:
            return problems
        return [ConfigProblem(path=path, message=message) for path, message in self.settings.auth_problems()]

    @hookimpl
    def validate_connection(self, connection: ConnectionInfo) -> list[ConfigProblem]:
        return string_table_problems(connection.options, "carrier_map")

    @hookimpl
    async def startup(self) -> None:
        settings = self.settings
        self._http = self.context.http_client(SYSTEM, base_url=settings.admin_url, timeout=settings.timeout)
        if settings.access_token is not None:
            self._tokens = StaticToken(settings.access_token)
        else:
            assert settings.client_id is not None
            assert settings.client_secret is not None
            self._tokens = ClientCredentialsToken(
                self._http,
                settings.client_id,
                settings.client_secret,
                settings.token_refresh_margin,
                self.clock,
            )
        self._graphql = GraphQLClient(
            self._http, settings.graphql_path, self._tokens, CostBucket(), settings.max_throttle_retries
        )

    @hookimpl
    async def shutdown(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._graphql = self._tokens = None

    @property
    def graphql(self) -> GraphQLClient:
        """The GraphQL client (after ``startup``)."""
        if self._graphql is None:
            raise RuntimeError(f"{self.name}: used before startup")
        return self._graphql

    @hookimpl
    async def check_credentials(self) -> str:
        data = await self.graphql.execute("ShopInfo", docs.SHOP, cost=1)
        shop = data["shop"]
        return f"Shopify shop {shop['name']} ({shop['myshopifyDomain']}), API {self.settings.api_version}"

    # ----------------------------------------------------------------------------------------- orders

    async def _search_order(self, key: str) -> StoreOrderRef | None:
        data = await self.graphql.execute(
            "FindOrder",
            docs.FIND_ORDER,
            {"query": docs.search_term("source_identifier", key)},
            cost=docs.FIND_ORDER_COST,
        )
        for node in data["orders"]["nodes"]:
            if node.get("sourceIdentifier") == key:
                return StoreOrderRef(store_order_id=node["id"], number=node["name"])
        return None

    @hookimpl
    async def find_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef | None:
        """Search by ``source_identifier``; when the search has no hit (its index may lag behind a create
        that happened seconds ago), scan the most recent orders directly."""
        key = source_identifier(connection, order)
        found = await self._search_order(key)
        if found is not None:
            return found
        data = await self.graphql.execute("RecentOrders", RECENT_ORDERS, cost=2 + RECENT_ORDERS_SCANNED)
        for node in data["orders"]["nodes"]:
            if node.get("sourceIdentifier") == key:
                return StoreOrderRef(store_order_id=node["id"], number=node["name"])
        return None

    def _identifier(self, line: OrderLine) -> str:
        value = line.sku if self.settings.product_identifier == "sku" else line.ean
        if not value:
            attribute = "SKU" if self.settings.product_identifier == "sku" else "EAN (barcode)"
            raise PermanentOrderError(
                f"line {line.line_id}: no {attribute} (the product identification attribute)"
            )
        return value

    async def _variant_id(self, value: str) -> str:
        field = self.settings.product_identifier
        cached = self._variants.get(value)
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        data = await self.graphql.execute(
            "VariantsByIdentifier",
            docs.VARIANTS_BY_IDENTIFIER,
            {"query": docs.search_term(field, value)},
            cost=docs.VARIANTS_COST,
        )
        matches: list[str] = [
            str(node["id"]) for node in data["productVariants"]["nodes"] if node.get(field) == value
        ]
        if not matches:
            self._variants.pop(value, None)
            raise PermanentOrderError(f"unknown product: no Shopify variant with {field} {value!r}")
        if len(matches) > 1:
            count = len(matches)
            raise PermanentOrderError(f"ambiguous product: {count} Shopify variants with {field} {value!r}")
        self._variants[value] = (matches[0], now + self.settings.variant_cache_seconds)
        return matches[0]

    @hookimpl
    async def create_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef:
        # No search here: the core calls find_order first whenever an earlier attempt was recorded, so a
        # first attempt costs exactly one orderCreate (plus variant look-ups, cached).
        variant_ids = {line.line_id: await self._variant_id(self._identifier(line)) for line in order.lines}
        variables = order_create_variables(connection, order, self.settings, variant_ids)
        data = await self.graphql.execute(
            "OrderCreate", docs.ORDER_CREATE, variables, cost=docs.ORDER_CREATE_COST
        )
        payload = data.get("orderCreate") or {}
        errors = payload.get("userErrors") or []
        if errors:
            if any("lineItems" in (error.get("field") or ()) for error in errors):
                self._variants.clear()  # a variant may have been deleted: look them up again next time
            text = "; ".join(_user_error(error) for error in errors)
            if all(error.get("code") in TRANSIENT_USER_ERRORS for error in errors):
                raise TransientError(f"{SYSTEM}: orderCreate: {text}")
            raise PermanentOrderError(f"{SYSTEM} rejected the order: {text}")
        created = payload.get("order")
        if not created:
            raise TransientError(f"{SYSTEM}: orderCreate returned neither an order nor errors")
        return StoreOrderRef(store_order_id=created["id"], number=created["name"])

    # ----------------------------------------------------------------------------------------- shipments

    def _carriers(self, connection: ConnectionInfo) -> dict[str, str]:
        table = dict(self.settings.carrier_map)
        table.update(connection.options.get("carrier_map") or {})
        return table

    def cost_limit(self) -> float:
        """The most a single query may request: Shopify's single-query maximum (1000), and no more than the
        bucket holds once an answer has told its size (a query requesting more can never run)."""
        bucket = self.graphql.bucket
        if bucket.known and bucket.maximum > 0:
            return min(float(docs.MAX_QUERY_COST), bucket.maximum)
        return float(docs.MAX_QUERY_COST)

    @hookimpl
    async def find_shipments(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[Shipment]:
        """Fulfillments of this connection's orders updated in ``(since, until]``.

        One ``ShippedOrders`` query per page of orders reads their fulfillments with tracking and lines
        inline; only an order with more fulfillments or a fulfillment with more lines than read inline costs
        further queries. The window is widened to whole seconds (Shopify's search resolution); the core
        deduplicates.
        """
        if since is None:
            since = until - timedelta(days=self.settings.shipment_lookback_days)
        upper = until.astimezone(UTC)
        if upper.microsecond:
            upper = upper.replace(microsecond=0) + timedelta(seconds=1)
        query = docs.join_terms(
            [
                docs.search_term("tag", connection_tag(connection)),
                docs.search_time("updated_at", ">", since),
                docs.search_time("updated_at", "<=", upper),
            ]
        )
        prefix = f"{connection.name}:"
        carriers = self._carriers(connection)
        seen: set[str] = set()
        after: str | None = None
        while True:
            page = await self._shipped_orders(query, after)
            for node in page["nodes"]:
                identifier = node.get("sourceIdentifier") or ""
                tags = node.get("tags") or ()
                if not identifier.startswith(prefix) or connection_tag(connection) not in tags:
                    continue
                order_id = identifier[len(prefix) :]
                fulfillments: list[dict[str, Any]] = node.get("fulfillments") or []
                for fulfillment in fulfillments:
                    if fulfillment.get("status") in IGNORED_STATUSES or fulfillment["id"] in seen:
                        continue
                    shipment = await self._inline_shipment(fulfillment, node["id"], order_id, carriers)
                    if shipment is not None:
                        seen.add(shipment.shipment_id)
                        yield shipment
                if len(fulfillments) < docs.SHIPPED_FULFILLMENTS:
                    continue
                # The list may be truncated: read every fulfillment of this order, details of the others.
                inline = {fulfillment["id"] for fulfillment in fulfillments}
                for fulfillment in await self._order_fulfillments(node["id"], node["name"]):
                    fid = fulfillment["id"]
                    if fid in inline or fid in seen or fulfillment.get("status") in IGNORED_STATUSES:
                        continue
                    shipment = await self._shipment(fid, node["id"], order_id, carriers)
                    if shipment is not None:
                        seen.add(shipment.shipment_id)
                        yield shipment
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    async def _shipped_orders(self, query: str, after: str | None) -> dict[str, Any]:
        """One page of ``ShippedOrders``, as many orders as fit :meth:`cost_limit`."""
        while True:
            first = docs.shipped_orders_page_size(self.cost_limit())
            try:
                data = await self.graphql.execute(
                    "ShippedOrders",
                    docs.SHIPPED_ORDERS,
                    {"query": query, "first": first, "after": after},
                    cost=docs.shipped_orders_cost(first),
                    cost_key=f"ShippedOrders/{first}",
                )
            except QueryTooCostly:
                if docs.shipped_orders_page_size(self.cost_limit()) < first:
                    continue  # the answer told a smaller bucket: ask for fewer orders
                raise
            page: dict[str, Any] = data["orders"]
            return page

    async def _order_fulfillments(self, order_id: str, name: str) -> list[dict[str, Any]]:
        """Every fulfillment (id, status) of one order, as many as one query within :meth:`cost_limit` reads."""
        while True:
            first = docs.order_fulfillments_first(self.cost_limit())
            try:
                data = await self.graphql.execute(
                    "OrderFulfillments",
                    docs.ORDER_FULFILLMENTS,
                    {"id": order_id, "first": first},
                    cost=1 + first,
                    cost_key=f"OrderFulfillments/{first}",
                )
            except QueryTooCostly:
                if docs.order_fulfillments_first(self.cost_limit()) < first:
                    continue
                raise
            order = data.get("order") or {}
            found: list[dict[str, Any]] = order.get("fulfillments") or []
            if len(found) >= first:
                log.warning(
                    "shopify order %s has %d+ fulfillments; later ones are not read", name, len(found)
                )
            return found

    async def _inline_shipment(
        self,
        fulfillment: Mapping[str, Any],
        store_order_id: str,
        order_id: str,
        carriers: Mapping[str, str],
    ) -> Shipment | None:
        """The shipment of a fulfillment read inline; its further lines (if any) are read from the cursor."""
        lines = fulfillment["fulfillmentLineItems"]
        nodes: list[Mapping[str, Any]] = list(lines["nodes"])
        if lines["pageInfo"]["hasNextPage"]:
            rest = await self._fulfillment_pages(fulfillment["id"], lines["pageInfo"]["endCursor"])
            if rest is None:
                return None
            nodes.extend(rest[1])
        return shipment_from_fulfillment(
            fulfillment,
            order_id=order_id,
            store_order_id=store_order_id,
            lines=fulfillment_lines(nodes),
            carriers=carriers,
        )

    async def _shipment(
        self, fulfillment_id: str, store_order_id: str, order_id: str, carriers: Mapping[str, str]
    ) -> Shipment | None:
        """The shipment of a fulfillment not read inline (all of it with ``FulfillmentDetail``)."""
        found = await self._fulfillment_pages(fulfillment_id, None)
        if found is None:
            return None
        fulfillment, nodes = found
        return shipment_from_fulfillment(
            fulfillment,
            order_id=order_id,
            store_order_id=store_order_id,
            lines=fulfillment_lines(nodes),
            carriers=carriers,
        )

    async def _fulfillment_pages(
        self, fulfillment_id: str, after: str | None
    ) -> tuple[dict[str, Any], list[Mapping[str, Any]]] | None:
        """A fulfillment (its first page read) and its line nodes from ``after`` on; ``None`` if it is gone."""
        fulfillment: dict[str, Any] | None = None
        nodes: list[Mapping[str, Any]] = []
        while True:
            data = await self.graphql.execute(
                "FulfillmentDetail",
                docs.FULFILLMENT_DETAIL,
                {"id": fulfillment_id, "after": after},
                cost=docs.FULFILLMENT_DETAIL_COST,
            )
            page = data.get("fulfillment")
            if not page:
                return None
            fulfillment = fulfillment or page
            lines = page["fulfillmentLineItems"]
            nodes.extend(lines["nodes"])
            if not lines["pageInfo"]["hasNextPage"]:
                return fulfillment, nodes
            after = lines["pageInfo"]["endCursor"]

    # ----------------------------------------------------------------------------------------- stock

    async def _location_ids(self) -> tuple[str, ...]:
        if self.settings.location_ids:
            return self.settings.location_ids
        found: list[str] = []
        after: str | None = None
        while True:
            data = await self.graphql.execute(
                "Locations", docs.LOCATIONS, {"after": after}, cost=docs.LOCATIONS_COST
            )
            page = data["locations"]
            found.extend(node["id"] for node in page["nodes"] if node.get("isActive"))
            if not page["pageInfo"]["hasNextPage"]:
                return tuple(found)
            after = page["pageInfo"]["endCursor"]

    def stock_budget(self) -> int:
        """Requested cost of one stock page: ``stock_cost_budget``, no more than :meth:`cost_limit`."""
        return int(min(self.settings.stock_cost_budget, self.cost_limit()))

    def stock_page_size(self, locations: int) -> int:
        """Variants per stock page so that one page costs at most :meth:`stock_budget` points."""
        budget = self.stock_budget()
        return max(1, min(250, (budget - 2) // docs.stock_variant_cost(locations)))

    @hookimpl
    async def read_stock(self, connection: ConnectionInfo) -> AsyncIterator[StockLevel]:
        """``available`` quantity summed over the configured (default: all active) locations, for every
        tracked variant that has the product identification attribute."""
        locations = await self._location_ids()
        if not locations:
            log.warning("shopify store %s: no active location, no stock to read", self.name)
            return
        document = docs.stock_document(len(locations))
        first = self.stock_page_size(len(locations))
        field = self.settings.product_identifier
        after: str | None = None
        while True:
            variables: dict[str, Any] = {"first": first, "after": after}
            variables.update({f"l{i}": location for i, location in enumerate(locations)})
            key = f"StockPage/{len(locations)}/{first}"
            try:
                data = await self.graphql.execute(
                    "StockPage",
                    document,
                    variables,
                    cost=2 + first * docs.stock_variant_cost(len(locations)),
                    cost_key=key,
                )
            except QueryTooCostly:
                smaller = self.stock_page_size(len(locations))
                if smaller < first:  # the answer told a smaller bucket: ask for fewer variants
                    first = smaller
                    continue
                raise
            page = data["productVariants"]
            for node in page["nodes"]:
                level = _stock_level(node, field, len(locations))
                if level is not None:
                    yield level
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]
            budget = self.stock_budget()
            reported = self.graphql.bucket.last_cost.get(key, 0.0)
            if reported > budget:  # Shopify counts more than our estimate: shrink the page to fit
                first = max(1, math.floor(first * budget / reported))


def _user_error(error: Mapping[str, Any]) -> str:
    where = ".".join(error.get("field") or ()) or "order"
    return f"{where}: {error.get('message')} ({error.get('code')})"


def _stock_level(node: Mapping[str, Any], field: str, locations: int) -> StockLevel | None:
    sku = node.get("sku") or ""
    barcode = node.get("barcode") or ""
    if not (sku if field == "sku" else barcode):
        return None
    item = node.get("inventoryItem") or {}
    if not item.get("tracked"):
        return None
    quantity = 0
    for i in range(locations):
        level = item.get(f"l{i}")
        for entry in (level or {}).get("quantities") or ():
            if entry.get("name") == "available":
                quantity += int(entry.get("quantity") or 0)
    return StockLevel(sku=sku, ean=barcode, quantity=max(0, quantity))
