"""The Zalando Partner Program (zDirect) marketplace plugin."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import anyio
import structlog

from ordersyncd.plugin import (
    AuthenticationError,
    ConfigProblem,
    ConnectionInfo,
    MarketplacePlugin,
    MerchantAccount,
    MissingCodes,
    Order,
    PermanentOrderError,
    PluginContext,
    PluginError,
    RawOrder,
    Shipment,
    StockItemResult,
    StockLevel,
    StoreOrderRef,
    TransientError,
    hookimpl,
)

from .client import ZDirectClient
from .mapping import build_order, merchant_order_id, unit_line_items
from .orders import fetch_window
from .settings import ORDER_TYPES, ZalandoSettings
from .stock import StockPusher, WindowBudget
from .zss import ShippingDocument, fetch_documents

__all__ = ["ZalandoMarketplace"]

log = structlog.get_logger("ordersyncd.plugins.zalando")

#: Line statuses that already satisfy "shipped".
_SHIPPED = {"shipped", "returned"}
#: How long the merchant's sales channel list is reused.
CHANNEL_TTL = 3600.0


class ZalandoMarketplace(MarketplacePlugin[ZalandoSettings]):
    """Imports zDirect orders, exports them, reports both tracking codes and pushes stock.

    Test seams: ``sleep`` and ``clock`` (monotonic seconds) are instance attributes used for every wait
    (Retry-After, the shipping gap, the stock budget); replace them before ``startup``.
    """

    Settings: ClassVar[type[ZalandoSettings]] = ZalandoSettings
    secret_keys: ClassVar[tuple[str, ...]] = ("client_secret",)

    def __init__(self, *, name: str, config: Mapping[str, Any], context: PluginContext) -> None:
        super().__init__(name=name, config=config, context=context)
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.clock: Callable[[], float] = time.monotonic
        self._client: ZDirectClient | None = None
        self._budget: WindowBudget | None = None
        self._channels: tuple[str, ...] = ()
        self._channels_at = -CHANNEL_TTL

    # ------------------------------------------------------------------------------------------ config

    @hookimpl
    def validate_config(self) -> list[ConfigProblem]:
        problems = super().validate_config()
        if problems:
            return problems
        if self.settings.zss and "FBR" not in self.settings.order_types:
            problems.append(
                ConfigProblem("zss", "ZSS labels exist only for FBR orders; add FBR to order_types")
            )
        return problems

    @hookimpl
    def validate_connection(self, connection: ConnectionInfo) -> list[ConfigProblem]:
        problems = []
        for index, value in enumerate(connection.order_types):
            if value not in ORDER_TYPES:
                problems.append(
                    ConfigProblem(f"order_types[{index}]", f"unknown order type {value!r}; use FBR or FBZ")
                )
        if len(set(connection.order_types)) != len(connection.order_types):
            problems.append(ConfigProblem("order_types", "an order type is listed twice"))
        if self._settings is not None and self.settings.merchant_id is None:
            problems.append(
                ConfigProblem(
                    "account",
                    f"marketplace account {self.name!r} has no merchant_id; choose one with "
                    f"'ordersyncd zalando merchants {self.name} --select ID'",
                )
            )
        return problems

    def order_types(self, connection: ConnectionInfo) -> tuple[str, ...]:
        """The connection's order types when given, else the account default."""
        return tuple(connection.order_types) or tuple(self.settings.order_types)

    # ------------------------------------------------------------------------------------------ lifecycle

    def _new_client(self) -> ZDirectClient:
        settings = self.settings
        http = self.context.http_client(
            "zalando", base_url=settings.api_base_url, timeout=settings.timeout_seconds
        )
        return ZDirectClient(
            http,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            base_url=settings.api_base_url,
            max_rate_limit_wait=settings.max_rate_limit_wait,
            sleep=lambda seconds: self.sleep(seconds),
            clock=lambda: self.clock(),
            quotas=settings.request_quotas,
        )

    @property
    def client(self) -> ZDirectClient:
        if self._client is None:
            raise TransientError(f"zalando: marketplace account {self.name!r} is not started")
        return self._client

    @property
    def merchant_id(self) -> str:
        if self.settings.merchant_id is None:
            raise AuthenticationError(
                f"zalando: marketplace account {self.name!r} has no merchant_id; choose one with "
                f"'ordersyncd zalando merchants {self.name} --select ID'"
            )
        return self.settings.merchant_id

    @hookimpl
    async def startup(self) -> None:
        self._client = self._new_client()
        self._budget = WindowBudget(clock=lambda: self.clock(), sleep=lambda s: self.sleep(s))
        merchants = await self._merchant_ids(self._client)
        merchant = self.settings.merchant_id
        if merchant is None:
            log.warning("zalando account has no merchant_id", account=self.name, merchants=len(merchants))
            return
        if merchant not in merchants:
            raise AuthenticationError(
                f"zalando: the zDirect client {self.settings.client_id!r} may not act for merchant id "
                f"{merchant} (it may act for: {', '.join(merchants) or 'none'}); check merchant_id of "
                f"marketplace account {self.name!r}"
            )

    @hookimpl
    async def shutdown(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @hookimpl
    async def check_credentials(self) -> str:
        client = self._client or self._new_client()
        try:
            merchants = await self._merchant_ids(client)
        finally:
            if client is not self._client:
                await client.aclose()
        who = f"zDirect client {self.settings.client_id} ({self.settings.mode})"
        return f"{who}, merchants: {', '.join(merchants)}"

    # ------------------------------------------------------------------------------------------ merchants

    @staticmethod
    async def _merchant_ids(client: ZDirectClient) -> list[str]:
        body = await client.json("GET", "/auth/me", accept="application/json")
        bpids = body.get("bpids") if isinstance(body, dict) else None
        if isinstance(bpids, str):
            return [bpids]
        if isinstance(bpids, list):
            return [str(b) for b in bpids]
        raise TransientError("zalando: /auth/me did not name any merchant (bpids)")

    @staticmethod
    async def _sales_channels(client: ZDirectClient, merchant_id: str) -> list[dict[str, Any]]:
        body = await client.json(
            "GET", "/sales-channels", params={"merchant_ids": merchant_id}, accept="application/json"
        )
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise TransientError("zalando: the sales channel list is malformed")
        return [i for i in items if isinstance(i, dict) and i.get("sales_channel_id")]

    @hookimpl
    async def list_merchants(self) -> list[MerchantAccount]:
        client = self._client or self._new_client()
        try:
            accounts = []
            for merchant in await self._merchant_ids(client):
                channels = await self._sales_channels(client, merchant)
                live = [c for c in channels if c.get("live") is True]
                described = ", ".join(
                    f"{c.get('country_code', '?')} {c['sales_channel_id']} "
                    f"({'live' if c.get('live') else 'not live'})"
                    for c in channels
                )
                accounts.append(
                    MerchantAccount(
                        merchant_id=merchant,
                        name=described or "no sales channels",
                        live=bool(live),
                        sales_channels=tuple(str(c["sales_channel_id"]) for c in live),
                    )
                )
            return accounts
        finally:
            if client is not self._client:
                await client.aclose()

    @hookimpl
    def merchant_settings(self, merchant: MerchantAccount) -> dict[str, object]:
        return {"merchant_id": merchant.merchant_id, "sales_channels": list(merchant.sales_channels)}

    async def live_channels(self) -> tuple[str, ...]:
        """The sales channels stock goes to: the merchant's live channels (limited to ``sales_channels``)."""
        if self.clock() - self._channels_at < CHANNEL_TTL:
            return self._channels
        channels = await self._sales_channels(self.client, self.merchant_id)
        live = [str(c["sales_channel_id"]) for c in channels if c.get("live") is True]
        wanted = self.settings.sales_channels
        if wanted:
            for channel in wanted:
                if channel not in live:
                    log.warning("zalando sales channel not live for the merchant, skipped", channel=channel)
            live = [c for c in live if c in wanted]
        self._channels, self._channels_at = tuple(live), self.clock()
        return self._channels

    # ------------------------------------------------------------------------------------------ orders

    @hookimpl
    async def fetch_orders(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[RawOrder]:
        types = self.order_types(connection)
        wanted = {ORDER_TYPES[t] for t in types}
        start = since if since is not None else until - timedelta(days=self.settings.initial_lookback_days)
        async for raw in fetch_window(
            self.client,
            self.merchant_id,
            order_types=types,
            since=start,
            until=until,
            page_size=self.settings.page_size,
        ):
            order_type = ((raw.payload.get("order") or {}).get("attributes") or {}).get("order_type")
            if order_type in wanted:
                yield raw

    @hookimpl
    def map_order(self, connection: ConnectionInfo, raw: RawOrder) -> Order:
        order = build_order(
            raw.payload,
            identifier=self.settings.product_identification_attribute,
            update_stock_for_fbz=self.settings.update_stock_for_fbz,
        )
        if order.order_type not in self.order_types(connection):
            raise PermanentOrderError(
                f"zalando: {order.order_type} orders are not synchronized by this connection"
            )
        return order

    def _order_path(self, order_id: str) -> str:
        return f"/merchants/{self.merchant_id}/orders/{order_id}"

    @hookimpl
    async def acknowledge_order(
        self, connection: ConnectionInfo, order: Order, store_order: StoreOrderRef
    ) -> None:
        if order.order_type == "FBZ":
            return  # FBZ orders are read-only at Zalando
        value = merchant_order_id(store_order.number) or merchant_order_id(store_order.store_order_id)
        if not value:
            raise PermanentOrderError(
                f"zalando: store order number {store_order.number!r} has no letter or digit "
                "to use as merchant_order_id"
            )
        body = {"data": {"type": "Order", "id": order.order_id, "attributes": {"merchant_order_id": value}}}
        response = await self.client.request(
            "PATCH", self._order_path(order.order_id), json_body=body, expect=(403,)
        )
        if response.status_code == 403:
            current = await self._read_order(order.order_id)
            if (current.get("attributes") or {}).get("merchant_order_id") != value:
                raise PermanentOrderError(
                    f"zalando: exporting order {order.order_id} was refused (HTTP 403: not allowed for "
                    "this order, or the app lacks the orders/write scope)"
                )
        if self.settings.zss:
            try:
                await self.shipping_documents(order.order_id)
            except (
                PluginError
            ) as error:  # documents are generated asynchronously: fetched again when shipping
                log.info(
                    "zalando shipping documents not fetched yet", order_id=order.order_id, reason=str(error)
                )

    async def shipping_documents(self, order_id: str) -> list[ShippingDocument]:
        """Download the order's ZSS documents into the state directory (see :mod:`.zss`)."""
        return await fetch_documents(self.client, order_id, self.context.state_dir)

    async def _read_order(self, order_id: str, include: str = "") -> dict[str, Any]:
        params = {"include": include} if include else None
        body = await self.client.json("GET", self._order_path(order_id), params=params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise TransientError(f"zalando: order {order_id} could not be read")
        if include:
            data = {**data, "included": body.get("included") or []}
        return data

    async def _codes(self, order: Order, shipment: Shipment) -> tuple[str, str]:
        tracking, returning = shipment.tracking_code.strip(), shipment.return_tracking_code.strip()
        if self.settings.zss:
            for document in await self.shipping_documents(order.order_id):
                if document.type == "OUTBOUND_LABEL" and document.tracking_id:
                    tracking = document.tracking_id
                elif document.type == "RETURN_LABEL" and document.tracking_id:
                    returning = document.tracking_id
        missing = [
            name
            for name, code in (("tracking_code", tracking), ("return_tracking_code", returning))
            if not code
        ]
        if missing:
            raise MissingCodes(
                missing, f"zalando requires both codes; order {order.number} lacks {', '.join(missing)}"
            )
        return tracking, returning

    @hookimpl
    async def on_shipped(
        self, connection: ConnectionInfo, order: Order, shipment: Shipment, attempt: int
    ) -> None:
        if order.order_type == "FBZ":
            return  # shipped by Zalando; read-only
        tracking, returning = await self._codes(order, shipment)
        unseen = attempt == 1 and self._unseen(order, shipment)
        if unseen and await self._report_unread(order, shipment, tracking, returning):
            return
        await self._report_read_first(order, shipment, tracking, returning)

    @staticmethod
    def _unseen(order: Order, shipment: Shipment) -> bool:
        """Whether Zalando can hold nothing of this report but what the plugin sent itself: the order was not
        exported when it was imported (no other tool or person had claimed it, so none can have set tracking
        numbers, which Zalando would keep silently over ours) and the shipment covers the whole order (a
        partial one may follow another shipment of the order, whose units and codes must be read)."""
        if order.attributes.get("exported") != "false":
            return False
        if not shipment.lines:
            return True
        quantities: dict[str, int] = {}
        for part in shipment.lines:
            quantities[part.line_id] = quantities.get(part.line_id, 0) + part.quantity
        known = {line.line_id for line in order.lines}
        return set(quantities) <= known and all(
            quantities.get(line.line_id, 0) >= len(line.marketplace_line_ids) for line in order.lines
        )

    @staticmethod
    def _tracking_body(order: Order, tracking: str, returning: str) -> dict[str, Any]:
        attributes = {"tracking_number": tracking, "return_tracking_number": returning}
        return {"data": {"type": "Order", "id": order.order_id, "attributes": attributes}}

    async def _report_unread(self, order: Order, shipment: Shipment, tracking: str, returning: str) -> bool:
        """First report of a shipment nothing can have sent before: both tracking numbers, the shipping gap,
        then every unit line ``shipped``, without reading the order. False (read first, then) when Zalando
        refuses the tracking numbers or a line: the order is not what the import said."""
        response = await self.client.request(
            "PATCH",
            self._order_path(order.order_id),
            json_body=self._tracking_body(order, tracking, returning),
            expect=(403, 409, 422),
        )
        if response.status_code in (403, 409, 422):
            log.info(
                "zalando tracking numbers refused; reading the order",
                order_id=order.order_id,
                status=response.status_code,
            )
            return False
        await self.sleep(self.settings.shipping_gap_seconds)
        item_of = unit_line_items(order)
        for line_id in self._shipped_line_ids(order, shipment, {}):
            path = f"{self._order_path(order.order_id)}/items/{item_of[line_id]}/lines/{line_id}"
            body = {"data": {"type": "OrderLine", "id": line_id, "attributes": {"status": "shipped"}}}
            response = await self.client.request("PATCH", path, json_body=body, expect=(403, 409))
            if response.status_code in (403, 409):
                # Already moved by someone else: whoever did may have set other tracking numbers too.
                log.info(
                    "zalando line refused; reading the order",
                    order_id=order.order_id,
                    line_id=line_id,
                    status=response.status_code,
                )
                return False
        return True

    async def _report_read_first(
        self, order: Order, shipment: Shipment, tracking: str, returning: str
    ) -> None:
        """Read the order with its lines, send the tracking numbers unless Zalando has them, wait the shipping
        gap after sending them, and PATCH the shipment's lines that are not shipped yet."""
        current = await self._read_order(order.order_id, include="order_items,order_lines")
        attributes = current.get("attributes") or {}
        if attributes.get("order_type") == "ZalandoFulfilled":
            return
        if not attributes.get("exported"):
            raise TransientError(
                f"zalando: order {order.order_id} is not exported yet; it is shipped after export"
            )
        have = (attributes.get("tracking_number") or "", attributes.get("return_tracking_number") or "")
        if have != (tracking, returning):
            if (have[0] and have[0] != tracking) or (have[1] and have[1] != returning):
                raise PermanentOrderError(
                    f"zalando: order {order.number} already has other tracking numbers; zDirect keeps "
                    "the first values, so the new ones are not sent"
                )
            body = self._tracking_body(order, tracking, returning)
            await self.client.request("PATCH", self._order_path(order.order_id), json_body=body)
            await self.sleep(self.settings.shipping_gap_seconds)
        status_of: dict[str, tuple[str, str]] = {}
        for resource in current.get("included") or []:
            if isinstance(resource, dict) and resource.get("type") == "OrderLine":
                line = resource.get("attributes") or {}
                status_of[str(resource["id"])] = (str(line.get("order_item_id")), str(line.get("status")))
        for line_id in self._shipped_line_ids(order, shipment, status_of):
            item_id, status = status_of.get(line_id, ("", ""))
            if not item_id:
                raise PermanentOrderError(
                    f"zalando: order line {line_id} is not part of order {order.order_id}"
                )
            if status in _SHIPPED:
                continue
            await self._ship_line(order.order_id, item_id, line_id)

    @staticmethod
    def _shipped_line_ids(
        order: Order, shipment: Shipment, status_of: Mapping[str, tuple[str, str]]
    ) -> list[str]:
        """The unit line ids the shipment covers (all lines when it names none), not-yet-shipped first."""
        if not shipment.lines:
            return [lid for line in order.lines for lid in line.marketplace_line_ids]
        by_id = {line.line_id: line for line in order.lines}
        chosen: list[str] = []
        for part in shipment.lines:
            line = by_id.get(part.line_id)
            if line is None:
                raise PermanentOrderError(f"zalando: the shipment names unknown order line {part.line_id}")
            ordered = sorted(
                line.marketplace_line_ids, key=lambda lid: status_of.get(lid, ("", ""))[1] in _SHIPPED
            )
            chosen.extend(ordered[: part.quantity])
        return chosen

    async def _ship_line(self, order_id: str, item_id: str, line_id: str) -> None:
        path = f"{self._order_path(order_id)}/items/{item_id}/lines/{line_id}"
        body = {"data": {"type": "OrderLine", "id": line_id, "attributes": {"status": "shipped"}}}
        response = await self.client.request("PATCH", path, json_body=body, expect=(403, 409))
        if response.status_code in (403, 409):
            line = await self.client.json("GET", path)
            status = (((line or {}).get("data") or {}).get("attributes") or {}).get("status")
            if status not in _SHIPPED:
                raise PermanentOrderError(
                    f"zalando: line {line_id} of order {order_id} cannot be marked shipped "
                    f"(HTTP {response.status_code}, line status {status!r})"
                )

    # ------------------------------------------------------------------------------------------ stock

    @hookimpl
    async def update_stock(
        self, connection: ConnectionInfo, levels: Sequence[StockLevel]
    ) -> list[StockItemResult]:
        if self._budget is None:
            raise TransientError(f"zalando: marketplace account {self.name!r} is not started")
        pusher = StockPusher(self.client, self.merchant_id, self._budget)
        return await pusher.push(levels, await self.live_channels())
