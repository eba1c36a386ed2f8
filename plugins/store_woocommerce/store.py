"""The WooCommerce store plugin: orders in via ``POST /wc/v3/orders``, shipped orders with their tracking
and stock out, over the WooCommerce REST API (``wc/v3``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ordersyncd.plugin import (
    ConfigProblem,
    ConnectionInfo,
    Order,
    PluginContext,
    Shipment,
    StockLevel,
    StoreOrderRef,
    StorePlugin,
    TransientError,
    hookimpl,
    string_table_problems,
)

from .attempts import AttemptLog
from .auth import BasicAuth, OAuth1Signer, RequestAuth
from .catalogue import CatalogueItem, ProductResolver, walk_catalogue
from .client import PER_PAGE, WooClient
from .errors import SYSTEM, WooCommerceError
from .order_payload import CONNECTION_META, ORDER_KEY_META, order_body, order_key
from .settings import WooCommerceSettings
from .shipments import (
    TrackingItem,
    meta_value,
    shipment_from_order,
    tracking_from_items,
    tracking_from_meta_keys,
)

__all__ = ["WooCommerceStore", "format_gmt"]

log = logging.getLogger(__name__)

#: Error codes after which cached product resolutions are dropped (a product may have gone).
PRODUCT_ERROR_CODES = frozenset(
    {
        "woocommerce_rest_invalid_product_id",
        "woocommerce_rest_product_invalid_id",
        "woocommerce_rest_invalid_variation_id",
        "woocommerce_rest_required_product_reference",
    }
)


def format_gmt(moment: datetime, *, round_up: bool = False) -> str:
    """A UTC time as WooCommerce's date filters take it with ``dates_are_gmt=true`` (whole seconds)."""
    moment = moment.astimezone(UTC)
    if round_up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


class WooCommerceStore(StorePlugin[WooCommerceSettings]):
    """WooCommerce (REST API ``wc/v3``) as the store of one or more connections.

    Every imported order carries the meta ``ordersyncd_order_key = "{connection}:{marketplace order id}"``
    and ``ordersyncd_connection``; each line item carries ``ordersyncd_line_id``.
    """

    Settings = WooCommerceSettings
    secret_keys = ("consumer_secret",)

    def __init__(self, *, name: str, config: Mapping[str, Any], context: PluginContext) -> None:
        super().__init__(name=name, config=config, context=context)
        self._http: httpx.AsyncClient | None = None
        self._client: WooClient | None = None
        self._resolver: ProductResolver | None = None
        self.attempts = AttemptLog(context.state_dir / "woocommerce-create-attempts.sqlite3")
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: Shipped orders still without tracking: (connection, WooCommerce order id) → first seen.
        self._awaiting_tracking: dict[tuple[str, int], datetime] = {}

    # ----------------------------------------------------------------------------------------- lifecycle

    @hookimpl
    def validate_config(self) -> list[ConfigProblem]:
        problems = super().validate_config()
        if problems:
            return problems
        return [ConfigProblem(path=key, message=msg) for key, msg in self.settings.config_problems()]

    @hookimpl
    def validate_connection(self, connection: ConnectionInfo) -> list[ConfigProblem]:
        return string_table_problems(connection.options, "carrier_map")

    def _auth(self) -> RequestAuth:
        settings = self.settings
        if settings.auth_method == "basic":
            return BasicAuth(settings.consumer_key, settings.consumer_secret)
        return OAuth1Signer(settings.consumer_key, settings.consumer_secret, settings.oauth_signature_method)

    @hookimpl
    async def startup(self) -> None:
        settings = self.settings
        timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self._http = self.context.http_client(SYSTEM, base_url=settings.api_root, timeout=timeout)
        self._client = WooClient(self._http, self._auth())
        self._resolver = ProductResolver(
            self._client,
            settings.product_identifier,
            settings.ean_meta_key,
            settings.catalogue_cache_seconds,
        )

    @hookimpl
    async def shutdown(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._client = self._resolver = None

    @property
    def client(self) -> WooClient:
        """The REST client (after ``startup``)."""
        if self._client is None:
            raise RuntimeError(f"{self.name}: used before startup")
        return self._client

    @property
    def resolver(self) -> ProductResolver:
        """The product resolver (after ``startup``)."""
        if self._resolver is None:
            raise RuntimeError(f"{self.name}: used before startup")
        return self._resolver

    @hookimpl
    async def check_credentials(self) -> str:
        status = await self.client.json("GET", "wc/v3/system_status", operation="system status")
        environment = status.get("environment") if isinstance(status, Mapping) else None
        version = environment.get("version") if isinstance(environment, Mapping) else None
        auth = self.settings.auth_method
        return f"WooCommerce {version or '(version unknown)'} at {self.settings.store_url} ({auth} auth)"

    # ----------------------------------------------------------------------------------------- orders

    @hookimpl
    async def find_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef | None:
        """Scan the orders created since the first create attempt (less a clock-skew margin) for the
        order key; without a recorded attempt, since the marketplace order's creation (bounded by
        ``find_order_lookback_days``). Unsure (scan cut off) → :class:`TransientError`."""
        settings = self.settings
        key = order_key(connection, order)
        first = await self.attempts.first(key)
        if first is None:
            floor = self.now() - timedelta(days=settings.find_order_lookback_days)
            first = max(order.created_at, floor)
        start = first - timedelta(seconds=settings.find_order_margin_seconds)
        params = {
            "after": format_gmt(start),
            "dates_are_gmt": "true",
            "orderby": "date",
            "order": "asc",
            "include_meta": ORDER_KEY_META,
        }
        pages = 0
        async for page in self.client.pages(
            "wc/v3/orders", params, max_pages=settings.find_order_max_pages, operation="find order"
        ):
            pages += 1
            for node in page.items:
                if meta_value(node, ORDER_KEY_META) == key:
                    return _ref(node)
            total = page.total_pages
            more = total > pages if total is not None else len(page.items) >= PER_PAGE
            if more and pages >= settings.find_order_max_pages:
                raise TransientError(
                    f"{SYSTEM}: order {key} not among the first {pages * PER_PAGE} orders created since "
                    f"{format_gmt(start)}; raise find_order_max_pages"
                )
        return None

    @hookimpl
    async def create_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef:
        items: dict[str, CatalogueItem] = {}
        for line in order.lines:
            items[line.line_id] = await self.resolver.resolve(line)
        body = order_body(connection, order, self.settings, items)
        await self.attempts.record(order_key(connection, order), self.now())
        try:
            created = await self.client.json("POST", "wc/v3/orders", json=body, operation="create order")
        except WooCommerceError as error:
            if error.code in PRODUCT_ERROR_CODES:
                self.resolver.forget()
            raise
        if not isinstance(created, Mapping) or not created.get("id"):
            raise TransientError(f"{SYSTEM}: create order answered without an order id")
        return _ref(created)

    # ----------------------------------------------------------------------------------------- shipments

    def _carriers(self, connection: ConnectionInfo) -> dict[str, str]:
        table = dict(self.settings.carrier_map)
        table.update(connection.options.get("carrier_map") or {})
        return table

    async def _tracking(self, order: Mapping[str, Any]) -> list[TrackingItem]:
        settings = self.settings
        if settings.tracking_source == "meta_keys":
            assert settings.tracking_number_meta_key is not None
            return tracking_from_meta_keys(
                order,
                settings.tracking_number_meta_key,
                settings.return_tracking_number_meta_key,
                settings.carrier_meta_key,
            )
        if settings.tracking_source == "tracking_items_meta":
            return tracking_from_items(meta_value(order, settings.tracking_items_meta_key))
        path = f"{settings.tracking_namespace}/orders/{int(order['id'])}/shipment-trackings"
        return tracking_from_items(await self.client.json("GET", path, operation="shipment trackings"))

    def _shipment_of(
        self, connection: ConnectionInfo, node: Mapping[str, Any], tracking: list[TrackingItem]
    ) -> Shipment:
        key = str(meta_value(node, ORDER_KEY_META) or "")
        return shipment_from_order(
            node,
            order_id=key[len(connection.name) + 1 :],
            tracking=tracking,
            carriers=self._carriers(connection),
        )

    def _ours(self, connection: ConnectionInfo, node: Mapping[str, Any]) -> bool:
        key = str(meta_value(node, ORDER_KEY_META) or "")
        return (
            meta_value(node, CONNECTION_META) == connection.name
            and key.startswith(f"{connection.name}:")
            and len(key) > len(connection.name) + 1
        )

    @hookimpl
    async def find_shipments(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[Shipment]:
        """Orders of this connection in a shipped status (``completed``) modified in ``(since, until]``,
        with their tracking. Adding tracking may not change an order's modification date, so shipped
        orders seen without tracking are re-read on later polls for ``tracking_wait_hours``."""
        settings = self.settings
        if since is None:
            since = until - timedelta(days=settings.shipment_lookback_days)
        params = {
            "status": ",".join(settings.shipped_statuses),
            "modified_after": format_gmt(since),
            "modified_before": format_gmt(until, round_up=True),
            "dates_are_gmt": "true",
            "order": "asc",
        }
        seen: set[int] = set()
        async for page in self.client.pages("wc/v3/orders", params, operation="shipped orders"):
            for node in page.items:
                if node.get("status") not in settings.shipped_statuses or not self._ours(connection, node):
                    continue
                seen.add(int(node["id"]))
                tracking = await self._tracking(node)
                waiting = (connection.name, int(node["id"]))
                if tracking:
                    self._awaiting_tracking.pop(waiting, None)
                else:
                    self._awaiting_tracking.setdefault(waiting, self.now())
                yield self._shipment_of(connection, node, tracking)
        async for shipment in self._recheck(connection, seen):
            yield shipment

    async def _recheck(self, connection: ConnectionInfo, seen: set[int]) -> AsyncIterator[Shipment]:
        expiry = self.now() - timedelta(hours=self.settings.tracking_wait_hours)
        for waiting, first_seen in list(self._awaiting_tracking.items()):
            name, store_id = waiting
            if name != connection.name or store_id in seen:
                continue
            if first_seen < expiry:
                self._awaiting_tracking.pop(waiting, None)
                continue
            node = await self.client.json("GET", f"wc/v3/orders/{store_id}", operation="shipped order")
            if not isinstance(node, Mapping) or node.get("status") not in self.settings.shipped_statuses:
                self._awaiting_tracking.pop(waiting, None)
                continue
            tracking = await self._tracking(node)
            if tracking:
                self._awaiting_tracking.pop(waiting, None)
                yield self._shipment_of(connection, node, tracking)

    # ----------------------------------------------------------------------------------------- stock

    @hookimpl
    async def read_stock(self, connection: ConnectionInfo) -> AsyncIterator[StockLevel]:
        """``stock_quantity`` of every stock-managed product and variation that has the product
        identification attribute (SKU or EAN), 100 per page."""
        settings = self.settings
        async for item in walk_catalogue(self.client, settings.ean_meta_key):
            identifier = item.sku if settings.product_identifier == "sku" else item.ean
            if not identifier or not item.manage_stock or item.stock_quantity is None:
                continue
            yield StockLevel(sku=item.sku, ean=item.ean, quantity=max(0, item.stock_quantity))


def _ref(node: Mapping[str, Any]) -> StoreOrderRef:
    return StoreOrderRef(store_order_id=str(node["id"]), number=str(node.get("number") or node["id"]))
