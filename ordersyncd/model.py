"""Domain model shared by the core and every plugin.

Every value object is an immutable pydantic model validated on construction: a plugin that builds an
:class:`Order` from a marketplace payload gets a :class:`pydantic.ValidationError` naming the field and the
reason when the payload is malformed, and the core quarantines that one order with that reason.

Money is always :class:`decimal.Decimal` with an ISO 4217 currency; datetimes are timezone-aware.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CURRENCIES",
    "Address",
    "ConnectionInfo",
    "Customer",
    "DeliveryPromise",
    "MerchantAccount",
    "Money",
    "Order",
    "OrderLine",
    "Payment",
    "RawOrder",
    "Shipment",
    "ShipmentLine",
    "StockItemResult",
    "StockItemStatus",
    "StockLevel",
    "StoreOrderRef",
    "SyncLevel",
]

# ISO 4217 active codes (2024 list, funds codes left out).
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
    CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
    GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
    LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)

_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a timezone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class SyncLevel(StrEnum):
    """What a connection synchronizes."""

    ORDERS_AND_STOCK = "orders_and_stock"
    STOCK_ONLY = "stock_only"


class Money(_Value):
    """An amount in one currency. ``amount`` is a Decimal, never a float."""

    amount: Decimal
    currency: str

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money amounts must be Decimal or decimal strings, not float")
        return value

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown currency {value!r} (expected an ISO 4217 code such as EUR)")
        return value

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class Address(_Value):
    """A postal address, a pick-up point or a parcel locker (pack station).

    For ``kind="pickup_point"`` and ``kind="pack_station"`` the point's identifier is in ``pickup_point_id``;
    for a pack station the customer's carrier account number (DHL "Postnummer") is in ``customer_number``.
    """

    kind: Literal["street", "pickup_point", "pack_station"] = "street"
    first_name: str = ""
    last_name: NonEmptyStr
    company: str = ""
    street: NonEmptyStr
    house_number: str = ""
    address_line2: str = ""
    postal_code: NonEmptyStr
    city: NonEmptyStr
    state: str = ""
    country_code: str
    phone: str = ""
    pickup_point_id: str = ""
    pickup_point_name: str = ""
    customer_number: str = ""

    @field_validator("country_code")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _COUNTRY.match(value):
            raise ValueError(f"country_code must be an ISO 3166-1 alpha-2 code, got {value!r}")
        return value

    @model_validator(mode="after")
    def _pickup(self) -> Address:
        if self.kind != "street" and not self.pickup_point_id:
            raise ValueError(f"a {self.kind} address needs pickup_point_id")
        return self


class Customer(_Value):
    """How to reach the buyer. Personal data: logged only at debug level."""

    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    marketplace_customer_id: str = ""


class OrderLine(_Value):
    """One product in an order, with its quantity.

    ``marketplace_line_ids`` keeps every marketplace line id behind the quantity (Zalando has one line per
    unit), so per-line updates (shipped, cancelled, returned) can be sent back.
    """

    line_id: NonEmptyStr
    marketplace_line_ids: tuple[str, ...] = ()
    sku: str = ""
    ean: str = ""
    marketplace_article_id: str = ""
    title: str = ""
    quantity: int = Field(gt=0)
    unit_price: Money
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _identified(self) -> OrderLine:
        if not (self.sku or self.ean or self.marketplace_article_id):
            raise ValueError("an order line needs a sku, ean or marketplace_article_id")
        if self.marketplace_line_ids and len(self.marketplace_line_ids) != self.quantity:
            raise ValueError("marketplace_line_ids must hold one id per unit when given")
        return self

    @property
    def total(self) -> Money:
        return Money(amount=self.unit_price.amount * self.quantity, currency=self.unit_price.currency)


class Payment(_Value):
    """How the buyer paid. ``transaction_id`` lets payments be matched to orders."""

    method: NonEmptyStr
    transaction_id: str = ""
    paid: bool = True


class DeliveryPromise(_Value):
    """What was promised to the buyer: delivery window and the chosen delivery option."""

    earliest: AwareDatetime | None = None
    latest: AwareDatetime | None = None
    method: str = ""
    option: str = ""


class Order(_Value):
    """A marketplace order, normalized. Built by a marketplace plugin's ``map_order`` hook.

    The order key is ``(connection, order_id)``; ``number`` is the customer-facing number, which need not
    be unique (Zalando reuses them).
    """

    marketplace: NonEmptyStr
    order_id: NonEmptyStr
    number: NonEmptyStr
    order_type: str = ""
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    customer: Customer
    billing_address: Address
    shipping_address: Address
    lines: tuple[OrderLine, ...] = Field(min_length=1)
    shipping_cost: Money
    discount: Money | None = None
    payment: Payment
    delivery: DeliveryPromise = DeliveryPromise()
    update_store_inventory: bool = True
    attributes: Mapping[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_currency(self) -> Order:
        currencies = {line.unit_price.currency for line in self.lines} | {self.shipping_cost.currency}
        if self.discount is not None:
            currencies.add(self.discount.currency)
        if len(currencies) != 1:
            raise ValueError(f"all amounts of an order must share one currency, got {sorted(currencies)}")
        return self

    @property
    def currency(self) -> str:
        return self.shipping_cost.currency

    @property
    def total(self) -> Money:
        amount = sum((line.total.amount for line in self.lines), Decimal(0)) + self.shipping_cost.amount
        if self.discount is not None:
            amount -= self.discount.amount
        return Money(amount=amount, currency=self.currency)


class RawOrder(_Value):
    """An order as fetched, before mapping: persisted by the core before anything else happens."""

    order_id: NonEmptyStr
    modified_at: AwareDatetime | None = None
    payload: Mapping[str, Any]


class StoreOrderRef(_Value):
    """The store's order created for a marketplace order: its id and the number shown to people."""

    store_order_id: NonEmptyStr
    number: NonEmptyStr


class ShipmentLine(_Value):
    """Which order line (``OrderLine.line_id``) and how many units a shipment carries."""

    line_id: NonEmptyStr
    quantity: int = Field(gt=0)


class Shipment(_Value):
    """A shipment reported by the store for one marketplace order.

    ``shipment_id`` is the store's own id (stable across tracking edits); the core deduplicates on it and
    on the codes it carries. ``tracking_code`` is the carrier's shipping code and ``return_tracking_code``
    the code of the prepaid return label.
    """

    shipment_id: NonEmptyStr
    order_id: NonEmptyStr
    store_order_id: str = ""
    lines: tuple[ShipmentLine, ...] = ()
    carrier: str = ""
    tracking_code: str = ""
    return_tracking_code: str = ""
    tracking_url: str = ""
    shipped_at: AwareDatetime | None = None


class StockLevel(_Value):
    """Available units of one product in the store."""

    sku: str = ""
    ean: str = ""
    quantity: int = Field(ge=0)

    @model_validator(mode="after")
    def _identified(self) -> StockLevel:
        if not (self.sku or self.ean):
            raise ValueError("a stock level needs a sku or ean")
        return self


class StockItemStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # permanent for this value: unknown product, validation
    FAILED = "failed"  # transient: retry later
    PENDING = "pending"  # accepted but waiting (e.g. product onboarding); re-send later


class StockItemResult(_Value):
    """The marketplace's answer for one pushed stock item."""

    sku: str = ""
    ean: str = ""
    status: StockItemStatus
    reason: str = ""


class MerchantAccount(_Value):
    """A merchant account the marketplace credentials may act for."""

    merchant_id: NonEmptyStr
    name: str = ""
    live: bool = False
    sales_channels: tuple[str, ...] = ()


class ConnectionInfo(_Value):
    """What a plugin hook learns about the connection it serves."""

    name: NonEmptyStr
    account: NonEmptyStr
    store: NonEmptyStr
    level: SyncLevel = SyncLevel.ORDERS_AND_STOCK
    order_types: tuple[str, ...] = ()
    options: Mapping[str, Any] = Field(default_factory=dict)
