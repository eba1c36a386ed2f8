"""A fake marketplace plugin: orders, acknowledgements, shipments and stock against the fake server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ordersyncd.plugin import (
    Address,
    ConnectionInfo,
    Customer,
    MarketplacePlugin,
    MissingCodes,
    Money,
    Order,
    OrderLine,
    Payment,
    RawOrder,
    Shipment,
    StockItemResult,
    StockItemStatus,
    StockLevel,
    StoreOrderRef,
    hookimpl,
)

from .common import FakeSettings, client_for, request, require


class FakeMarketplaceSettings(FakeSettings):
    require_return_tracking: bool = True
    #: Fault injection inside the plugin: while this file exists, fetch_orders blocks the event loop (a plugin
    #: doing blocking I/O), which is how the watchdog test wedges a worker.
    wedge_path: str = ""


class FakeMarketplace(MarketplacePlugin[FakeMarketplaceSettings]):
    Settings = FakeMarketplaceSettings
    secret_keys = ("token",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client: httpx.AsyncClient | None = None

    @hookimpl
    async def startup(self) -> None:
        self.client = client_for(self, self.name)

    @hookimpl
    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    @hookimpl
    async def check_credentials(self) -> str:
        await request(require(self.client), self.name, "GET", "/marketplace/orders", params={"per_page": 1})
        return "fake marketplace"

    @hookimpl
    async def fetch_orders(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[RawOrder]:
        while self.settings.wedge_path and Path(self.settings.wedge_path).exists():
            time.sleep(0.5)  # deliberately blocking: a wedged plugin
        page = 0
        while True:
            params: dict[str, Any] = {"until": until.isoformat(), "page": page, "per_page": 50}
            if since is not None:
                params["since"] = since.isoformat()
            body = await request(require(self.client), self.name, "GET", "/marketplace/orders", params=params)
            for payload in body["orders"]:
                yield RawOrder(order_id=payload["id"], modified_at=payload["modified_at"], payload=payload)
            if not body["has_more"]:
                return
            page += 1

    @hookimpl
    def map_order(self, connection: ConnectionInfo, raw: RawOrder) -> Order:
        p = raw.payload
        currency = p["currency"]
        address = Address(**p["address"])
        return Order(
            marketplace="fake",
            order_id=p["id"],
            number=p["number"],
            order_type=p.get("type", ""),
            created_at=p["created_at"],
            updated_at=p["modified_at"],
            customer=Customer(**p["customer"]),
            billing_address=address,
            shipping_address=address,
            lines=tuple(
                OrderLine(
                    line_id=line["line_id"],
                    sku=line["sku"],
                    quantity=line["quantity"],
                    unit_price=Money(amount=Decimal(line["unit_price"]), currency=currency),
                )
                for line in p["lines"]
            ),
            shipping_cost=Money(amount=Decimal(p["shipping"]), currency=currency),
            payment=Payment(**p["payment"]),
        )

    @hookimpl
    async def acknowledge_order(
        self, connection: ConnectionInfo, order: Order, store_order: StoreOrderRef
    ) -> None:
        await request(
            require(self.client),
            self.name,
            "POST",
            f"/marketplace/orders/{order.order_id}/ack",
            json={"store_order_number": store_order.number},
        )

    @hookimpl
    async def on_shipped(self, connection: ConnectionInfo, order: Order, shipment: Shipment) -> None:
        missing = [
            name
            for name, value in (
                ("tracking_code", shipment.tracking_code),
                ("return_tracking_code", shipment.return_tracking_code),
            )
            if not value and (name == "tracking_code" or self.settings.require_return_tracking)
        ]
        if missing:
            raise MissingCodes(missing)
        await request(
            require(self.client),
            self.name,
            "POST",
            f"/marketplace/orders/{order.order_id}/shipments",
            json={
                "shipment_id": shipment.shipment_id,
                "carrier": shipment.carrier,
                "tracking_code": shipment.tracking_code,
                "return_tracking_code": shipment.return_tracking_code,
            },
        )

    @hookimpl
    async def update_stock(
        self, connection: ConnectionInfo, levels: Sequence[StockLevel]
    ) -> list[StockItemResult]:
        body = await request(
            require(self.client),
            self.name,
            "POST",
            "/marketplace/stock",
            json=[{"sku": level.sku, "quantity": level.quantity} for level in levels],
        )
        return [
            StockItemResult(
                sku=item["sku"], status=StockItemStatus(item["status"]), reason=item.get("reason", "")
            )
            for item in body
        ]
