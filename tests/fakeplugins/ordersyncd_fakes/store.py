"""A fake store plugin: creates orders stamped with the order key, reports shipments, reads stock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from ordersyncd.plugin import (
    ConnectionInfo,
    Order,
    PermanentOrderError,
    Shipment,
    ShipmentLine,
    StockLevel,
    StoreOrderRef,
    StorePlugin,
    hookimpl,
)

from .common import FakeSettings, client_for, request, require


def order_key(connection: ConnectionInfo, order: Order) -> str:
    return f"{connection.name}:{order.order_id}"


class FakeStore(StorePlugin[FakeSettings]):
    Settings = FakeSettings
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
        await request(require(self.client), self.name, "GET", "/store/stock")
        return "fake store"

    @hookimpl
    async def find_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef | None:
        found = await request(
            require(self.client),
            self.name,
            "GET",
            "/store/orders",
            params={"key": order_key(connection, order)},
        )
        if not found:
            return None
        return StoreOrderRef(store_order_id=found[0]["id"], number=found[0]["number"])

    @hookimpl
    async def create_order(self, connection: ConnectionInfo, order: Order) -> StoreOrderRef:
        body = {
            "key": order_key(connection, order),
            "connection": connection.name,
            "marketplace_order_id": order.order_id,
            "update_inventory": order.update_store_inventory,
            "lines": [
                {
                    "line_id": line.line_id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "price": str(line.unit_price.amount),
                }
                for line in order.lines
            ],
        }
        try:
            created = await request(require(self.client), self.name, "POST", "/store/orders", json=body)
        except PermanentOrderError as error:
            raise PermanentOrderError(f"store refused the order: {error.message}") from error
        return StoreOrderRef(store_order_id=created["id"], number=created["number"])

    @hookimpl
    async def find_shipments(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[Shipment]:
        params = {"until": until.isoformat()}
        if since is not None:
            params["since"] = since.isoformat()
        for item in await request(require(self.client), self.name, "GET", "/store/shipments", params=params):
            numbers = item["tracking_numbers"]
            yield Shipment(
                shipment_id=item["shipment_id"],
                order_id=item["order_id"],
                store_order_id=item["store_order_id"],
                carrier=item["carrier"],
                tracking_code=numbers[0] if numbers else "",
                return_tracking_code=numbers[1] if len(numbers) > 1 else "",
                lines=tuple(ShipmentLine(**line) for line in item["lines"]),
            )

    @hookimpl
    async def read_stock(self, connection: ConnectionInfo) -> list[StockLevel]:
        items = await request(require(self.client), self.name, "GET", "/store/stock")
        return [StockLevel(sku=item["sku"], quantity=item["quantity"]) for item in items]
