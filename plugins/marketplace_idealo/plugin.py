"""The idealo Checkout (Direktkauf) marketplace plugin."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from importlib import metadata
from typing import Any, ClassVar

import anyio
import structlog
from pydantic import ValidationError

from ordersyncd.plugin import (
    ConfigProblem,
    ConnectionInfo,
    MarketplacePlugin,
    MerchantAccount,
    Money,
    Order,
    PluginContext,
    RawOrder,
    Shipment,
    StockItemResult,
    StockItemStatus,
    StockLevel,
    StoreOrderRef,
    TransientError,
    hookimpl,
    problems_from_validation_error,
)

from .client import IdealoClient
from .mapping import build_order
from .orders import acknowledge, list_orders, new_orders, read_order
from .returns import Refund, RevocationReason, ensure_refunded, list_refunds, revoke
from .settings import IdealoSettings, TaxSettings
from .shipping import report_shipment
from .stock import OfferStock

__all__ = ["IdealoMarketplace"]

log = structlog.get_logger("ordersyncd.plugins.idealo")

#: Statuses of orders a customer (or idealo) revoked after import.
REVOKED_STATUSES = ("REVOKING", "REVOKED", "PARTIALLY_REVOKED")


def _version() -> str:
    try:
        return metadata.version("ordersyncd")
    except metadata.PackageNotFoundError:
        return "0"


class IdealoMarketplace(MarketplacePlugin[IdealoSettings]):
    """Imports idealo Checkout orders, acknowledges them with the store's order number, reports shipments,
    revocations and refunds, and publishes stock as offer checkout limits (PWS 2.0).

    Test seams: ``sleep``, ``clock`` (monotonic seconds, for the unacknowledged sweep and token expiry) are
    instance attributes; replace them before ``startup``.
    """

    Settings: ClassVar[type[IdealoSettings]] = IdealoSettings
    secret_keys: ClassVar[tuple[str, ...]] = ("client_secret", "offers_client_secret")

    def __init__(self, *, name: str, config: Mapping[str, Any], context: PluginContext) -> None:
        super().__init__(name=name, config=config, context=context)
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.clock: Callable[[], float] = time.monotonic
        self._client: IdealoClient | None = None
        self._offers: IdealoClient | None = None
        self._stock: OfferStock | None = None
        self._swept_at: float | None = None

    # ------------------------------------------------------------------------------------------ config

    @hookimpl
    def validate_connection(self, connection: ConnectionInfo) -> list[ConfigProblem]:
        problems = []
        if connection.order_types:
            problems.append(ConfigProblem("order_types", "idealo has a single order type; leave it out"))
        tax = connection.options.get("tax")
        if tax is not None:
            try:
                TaxSettings.model_validate(tax)
            except ValidationError as error:
                problems.extend(problems_from_validation_error(error, "options.tax"))
        return problems

    def tax_for(self, connection: ConnectionInfo) -> TaxSettings | None:
        """The connection's tax table (``options.tax``) when given, else the account's."""
        tax = connection.options.get("tax")
        return TaxSettings.model_validate(tax) if tax is not None else self.settings.tax

    # ------------------------------------------------------------------------------------------ lifecycle

    def _headers(self) -> dict[str, str]:
        return {
            "ERP-Shop-System": "ordersyncd",
            "ERP-Shop-System-Version": _version(),
            "Integration-Partner": self.settings.integration_partner,
            "Interface-Version": "2",
        }

    def _new_client(self) -> IdealoClient:
        settings = self.settings
        http = self.context.http_client(
            "idealo", base_url=settings.api_base_url, timeout=settings.timeout_seconds
        )
        return IdealoClient(
            http,
            system="idealo",
            token_url="/api/v2/oauth/token",  # noqa: S106 - a path, not a secret
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            headers=self._headers(),
            max_rate_limit_wait=settings.max_rate_limit_wait,
            sleep=lambda seconds: self.sleep(seconds),
            clock=lambda: self.clock(),
        )

    def _new_offers_client(self) -> IdealoClient | None:
        settings = self.settings
        if settings.offers_client_id is None or settings.offers_client_secret is None:
            return None
        http = self.context.http_client(
            "idealo-offers", base_url=settings.offers_api_url, timeout=settings.timeout_seconds
        )
        headers = self._headers()
        return IdealoClient(
            http,
            system="idealo-offers",
            token_url=settings.offers_token_url,
            client_id=settings.offers_client_id,
            client_secret=settings.offers_client_secret,
            headers={
                "Partner-Merchant-Solution": headers["ERP-Shop-System"],
                "Partner-Merchant-Solution-Version": headers["ERP-Shop-System-Version"],
                "Integration-Partner": headers["Integration-Partner"],
                "Interface-Version": "2",
            },
            max_rate_limit_wait=settings.max_rate_limit_wait,
            sleep=lambda seconds: self.sleep(seconds),
            clock=lambda: self.clock(),
        )

    @hookimpl
    async def startup(self) -> None:
        self._client = self._new_client()
        self._offers = self._new_offers_client()
        if self._offers is not None:
            settings = self.settings
            self._stock = OfferStock(
                self._offers,
                self.context.state_dir,
                at_zero=settings.offers_at_zero,
                concurrency=settings.offers_concurrency,
                refresh_seconds=settings.offers_refresh_hours * 3600,
            )
            if settings.mode == "sandbox":
                log.warning(
                    "idealo offers API has no sandbox: stock changes the live listing", account=self.name
                )
        if self.settings.tax is None:
            log.warning(
                "idealo sends no tax: configure tax.rates, or the store's own rules decide", account=self.name
            )
        self._swept_at = None
        await self._client.shop_id()  # proves the credentials and learns the shop id

    @hookimpl
    async def shutdown(self) -> None:
        for client in (self._client, self._offers):
            if client is not None:
                await client.aclose()
        self._client = self._offers = self._stock = None

    @property
    def client(self) -> IdealoClient:
        """The order API client (after ``startup``)."""
        if self._client is None:
            raise TransientError(f"idealo: marketplace account {self.name!r} is not started")
        return self._client

    @hookimpl
    async def check_credentials(self) -> str:
        client = self._client or self._new_client()
        try:
            shop = await client.shop_id()
            described = (
                f"idealo order API client {self.settings.client_id} ({self.settings.mode}), shop {shop}"
            )
            offers = self._offers or self._new_offers_client()
            if offers is not None:
                try:
                    described += f"; offers API shop {await offers.shop_id()}"
                finally:
                    if offers is not self._offers:
                        await offers.aclose()
            return described
        finally:
            if client is not self._client:
                await client.aclose()

    @hookimpl
    async def list_merchants(self) -> list[MerchantAccount]:
        client = self._client or self._new_client()
        try:
            shop = await client.shop_id()
        finally:
            if client is not self._client:
                await client.aclose()
        return [
            MerchantAccount(
                merchant_id=shop, name=f"idealo shop {shop}", live=self.settings.mode == "production"
            )
        ]

    @hookimpl
    def merchant_settings(self, merchant: MerchantAccount) -> dict[str, object]:
        return {}  # the shop id comes with every token; nothing to configure

    # ------------------------------------------------------------------------------------------ orders

    def _sweep_due(self) -> bool:
        if self._swept_at is None:
            return True
        return self.clock() - self._swept_at >= self.settings.sweep_interval_seconds

    @hookimpl
    async def fetch_orders(
        self, connection: ConnectionInfo, since: datetime | None, until: datetime
    ) -> AsyncIterator[RawOrder]:
        """New orders, then (every ``sweep_interval_seconds``) every unacknowledged PROCESSING order.

        idealo hands new orders out only until they are acknowledged (perhaps only once), so the window is
        ignored; the core persists each order before it is created and acknowledged, and the sweep brings
        back any order fetched before a crash that the core never saw.
        """
        for raw in await new_orders(self.client):
            yield raw
        if self._sweep_due():
            started = self.clock()
            async for raw in list_orders(
                self.client, statuses=("PROCESSING",), acknowledged=False, page_size=self.settings.page_size
            ):
                yield raw
            self._swept_at = started

    @hookimpl
    def map_order(self, connection: ConnectionInfo, raw: RawOrder) -> Order:
        return build_order(
            raw.payload,
            tax=self.tax_for(connection),
            address_line2_is_company=self.settings.address_line2_is_company,
        )

    @hookimpl
    async def acknowledge_order(
        self, connection: ConnectionInfo, order: Order, store_order: StoreOrderRef
    ) -> None:
        await acknowledge(self.client, order.order_id, store_order.number)

    @hookimpl
    async def on_shipped(self, connection: ConnectionInfo, order: Order, shipment: Shipment) -> None:
        sent = await report_shipment(self.client, self.settings, order, shipment)
        log.info("idealo shipment", order_id=order.order_id, shipment_id=shipment.shipment_id, sent=sent)

    # ------------------------------------------------------------------------------------------ returns

    async def revoke(
        self,
        order_id: str,
        sku: str,
        *,
        remaining_quantity: int = 0,
        reason: RevocationReason | str = RevocationReason.MERCHANT_DECLINE,
        comment: str = "",
    ) -> bool:
        """Cancel or take back units of one SKU so that ``remaining_quantity`` stay (0 = all of it).

        ``reason``: ``CUSTOMER_REVOKE`` (withdrawal), ``MERCHANT_DECLINE`` (cannot deliver), ``RETOUR``
        (returned after shipping). Idempotent: returns ``False`` when idealo already has no more than
        ``remaining_quantity`` units of the SKU. Revoking does not refund (see :meth:`refund`).
        """
        return await revoke(
            self.client,
            order_id,
            sku,
            remaining_quantity=remaining_quantity,
            reason=RevocationReason(reason),
            comment=comment,
        )

    async def revoke_order(
        self, order: Order, *, reason: RevocationReason | str, comment: str = ""
    ) -> list[str]:
        """Revoke every SKU of the order entirely (one call per SKU); returns the SKUs sent."""
        sent = []
        for sku in dict.fromkeys(line.sku for line in order.lines):
            if await self.revoke(order.order_id, sku, remaining_quantity=0, reason=reason, comment=comment):
                sent.append(sku)
        return sent

    async def refund(self, order_id: str, total: Money) -> list[Refund]:
        """Make the order's refunded sum reach ``total`` (cumulative; repeating is harmless).

        Only for orders paid with ``IDEALO_CHECKOUT_PAYMENTS``; others raise ``PermanentOrderError``
        (refund them at their payment service). Returns the refunds created now (status ``OPEN`` at first;
        follow them with :meth:`refunds`).
        """
        return await ensure_refunded(self.client, order_id, total)

    async def refunds(self, order_id: str) -> list[Refund]:
        """The order's refunds and their current status."""
        return await list_refunds(self.client, order_id)

    async def revoked_orders(self, since: datetime) -> list[dict[str, Any]]:
        """Orders revoked or being revoked at idealo (customer withdrawals) changed since ``since``."""
        found = []
        async for raw in list_orders(
            self.client, statuses=REVOKED_STATUSES, since=since, page_size=self.settings.page_size
        ):
            found.append(dict(raw.payload))
        return found

    async def current(self, order_id: str) -> dict[str, Any]:
        """The order as idealo has it now (status, tracking, refunds, remaining quantities)."""
        return await read_order(self.client, order_id)

    # ------------------------------------------------------------------------------------------ stock

    @hookimpl
    async def update_stock(
        self, connection: ConnectionInfo, levels: Sequence[StockLevel]
    ) -> list[StockItemResult]:
        if self._stock is None:
            reason = "stock sync is off: offers_client_id/offers_client_secret are not configured"
            return [
                StockItemResult(sku=level.sku, ean=level.ean, status=StockItemStatus.REJECTED, reason=reason)
                for level in levels
            ]
        return await self._stock.push(levels)
