"""The in-memory shop behind the simulator: locations, products/variants, inventory, orders, fulfillments."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "Shop",
    "SimFulfillment",
    "SimLineItem",
    "SimLocation",
    "SimOrder",
    "SimTracking",
    "SimVariant",
    "gid",
    "parse_gid",
]


def gid(kind: str, number: int) -> str:
    """A Shopify global id, e.g. ``gid://shopify/Order/1001``."""
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str | int, kind: str) -> int | None:
    """The number in ``gid://shopify/{kind}/N`` (or a bare number); ``None`` when it is not one."""
    if isinstance(value, int):
        return value
    prefix = f"gid://shopify/{kind}/"
    text = value[len(prefix) :] if value.startswith(prefix) else value
    return int(text) if text.isdigit() else None


@dataclass
class SimLocation:
    id: int
    name: str
    active: bool = True


@dataclass
class SimVariant:
    id: int
    product_id: int
    inventory_item_id: int
    sku: str
    barcode: str
    title: str
    price: Decimal
    tracked: bool
    available: dict[int, int]
    updated_at: datetime


@dataclass
class SimLineItem:
    id: int
    variant_id: int | None
    sku: str
    title: str
    quantity: int
    price: Decimal
    properties: list[tuple[str, str]] = field(default_factory=list)
    tax_lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SimTracking:
    company: str
    number: str
    url: str | None = None


@dataclass
class SimFulfillment:
    id: int
    order_id: int
    status: str
    created_at: datetime
    updated_at: datetime
    tracking: list[SimTracking]
    lines: list[tuple[int, int]]
    location_id: int | None = None


@dataclass
class SimOrder:
    id: int
    name: str
    source_identifier: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    currency: str
    line_items: list[SimLineItem]
    email: str | None = None
    note: str | None = None
    taxes_included: bool = False
    financial_status: str = "PENDING"
    custom_attributes: list[tuple[str, str]] = field(default_factory=list)
    shipping_lines: list[dict[str, Any]] = field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    fulfillments: list[SimFulfillment] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    inventory_behaviour: str = "BYPASS"
    send_receipt: bool = False
    send_fulfillment_receipt: bool = False
    #: The ``order`` input exactly as received by ``orderCreate`` (for assertions).
    received_input: dict[str, Any] = field(default_factory=dict)

    def fulfilled_quantity(self, line_item_id: int) -> int:
        return sum(
            qty
            for f in self.fulfillments
            if f.status != "CANCELLED"
            for item_id, qty in f.lines
            if item_id == line_item_id
        )

    @property
    def display_fulfillment_status(self) -> str:
        shipped = sum(self.fulfilled_quantity(item.id) for item in self.line_items)
        ordered = sum(item.quantity for item in self.line_items)
        if shipped == 0:
            return "UNFULFILLED"
        return "FULFILLED" if shipped >= ordered else "PARTIALLY_FULFILLED"


class UserError(Exception):
    """An ``orderCreate`` user error: field path, message, code."""

    def __init__(self, fields: Sequence[str], message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.fields = list(fields)
        self.message = message
        self.code = code

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.fields, "message": self.message, "code": self.code}


class Shop:
    """All data of one simulated shop. Thread-safe (the simulator may be served from a thread)."""

    def __init__(
        self,
        name: str = "ordersyncd simulator",
        domain: str = "simulator.myshopify.com",
        currency: str = "EUR",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.domain = domain
        self.currency = currency
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self._next_id = 1000
        self._next_number = 1001
        self.lock = threading.RLock()
        self.locations: dict[int, SimLocation] = {}
        self.variants: dict[int, SimVariant] = {}
        self.orders: dict[int, SimOrder] = {}
        #: Every ``orderCreate`` call, successful or not (for assertions on duplicates).
        self.create_calls = 0

    # ------------------------------------------------------------------------------------- basics

    def now(self) -> datetime:
        """The shop's clock, strictly increasing (so ``updated_at`` orders every change)."""
        with self.lock:
            stamp = max(self.clock(), self._last + timedelta(microseconds=1))
            self._last = stamp
            return stamp

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_location(self, name: str = "Warehouse", active: bool = True) -> SimLocation:
        """Add a location (its stock counts when the plugin is configured for it)."""
        with self.lock:
            location = SimLocation(id=self._id(), name=name, active=active)
            self.locations[location.id] = location
            return location

    def _location(self, location: int | str | None) -> int:
        if location is None:
            active = [loc.id for loc in self.locations.values() if loc.active]
            if not active:
                return self.add_location().id
            return active[0]
        number = parse_gid(location, "Location")
        if number is None or number not in self.locations:
            raise KeyError(f"unknown location {location!r}")
        return number

    def add_variant(
        self,
        sku: str = "",
        barcode: str = "",
        *,
        title: str = "",
        price: Decimal | str = "10.00",
        inventory: int | Mapping[int | str, int] = 0,
        tracked: bool = True,
    ) -> SimVariant:
        """Add a product with one variant; ``inventory`` is a quantity at the first location or a
        mapping location id → available quantity."""
        with self.lock:
            levels = (
                {self._location(None): inventory}
                if isinstance(inventory, int)
                else {self._location(loc): qty for loc, qty in inventory.items()}
            )
            variant = SimVariant(
                id=self._id(),
                product_id=self._id(),
                inventory_item_id=self._id(),
                sku=sku,
                barcode=barcode,
                title=title or sku or barcode or "Product",
                price=Decimal(price),
                tracked=tracked,
                available=levels,
                updated_at=self.now(),
            )
            self.variants[variant.id] = variant
            return variant

    def variant_by(self, *, sku: str = "", barcode: str = "") -> SimVariant:
        """The variant with this SKU or barcode (KeyError when none)."""
        for variant in self.variants.values():
            if (sku and variant.sku == sku) or (barcode and variant.barcode == barcode):
                return variant
        raise KeyError(sku or barcode)

    def order(self, order: int | str | SimOrder) -> SimOrder:
        """An order by id, gid, name (``#1001``), source identifier, marketplace order id (the part of
        the source identifier after ``connection:``) or the order itself."""
        if isinstance(order, SimOrder):
            return order
        number = parse_gid(order, "Order")
        if number is not None and number in self.orders:
            return self.orders[number]
        text = str(order)
        for candidate in self.orders.values():
            source = candidate.source_identifier or ""
            if text in (candidate.name, source) or source.endswith(f":{text}"):
                return candidate
        raise KeyError(f"unknown order {order!r}")

    def orders_with_source(self, source_identifier: str) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.source_identifier == source_identifier]

    def find_fulfillment(self, fulfillment: int | str) -> tuple[SimOrder, SimFulfillment]:
        number = parse_gid(fulfillment, "Fulfillment")
        for order in self.orders.values():
            for item in order.fulfillments:
                if item.id == number:
                    return order, item
        raise KeyError(f"unknown fulfillment {fulfillment!r}")

    # ------------------------------------------------------------------------------------- merchant actions

    def fulfill(
        self,
        order: int | str | SimOrder,
        lines: Mapping[str, int] | Sequence[tuple[str, int]] | None = None,
        *,
        tracking_numbers: Sequence[str] = (),
        company: str = "DHL",
        urls: Sequence[str] = (),
        location: int | str | None = None,
    ) -> SimFulfillment:
        """Play the merchant: fulfil ``lines`` (SKU or line item gid → quantity, as a mapping or pairs;
        default: everything not yet fulfilled) with tracking numbers in the given order
        (``trackingInfo[0]``, ``[1]``, …). ``order``: see :meth:`order`."""
        with self.lock:
            target = self.order(order)
            chosen: list[tuple[int, int]] = []
            if lines is None:
                for item in target.line_items:
                    remaining = item.quantity - target.fulfilled_quantity(item.id)
                    if remaining > 0:
                        chosen.append((item.id, remaining))
            else:
                pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
                for key, quantity in pairs:
                    item = self._line_item(target, key)
                    remaining = item.quantity - target.fulfilled_quantity(item.id)
                    if quantity <= 0 or quantity > remaining:
                        raise ValueError(f"cannot fulfil {quantity} of {key!r}: {remaining} remaining")
                    chosen.append((item.id, quantity))
            if not chosen:
                raise ValueError("nothing left to fulfil")
            stamp = self.now()
            fulfillment = SimFulfillment(
                id=self._id(),
                order_id=target.id,
                status="SUCCESS",
                created_at=stamp,
                updated_at=stamp,
                tracking=_tracking(company, tracking_numbers, urls),
                lines=chosen,
                location_id=self._location(location) if location is not None or self.locations else None,
            )
            target.fulfillments.append(fulfillment)
            target.updated_at = stamp
            return fulfillment

    def _line_item(self, order: SimOrder, key: str) -> SimLineItem:
        number = parse_gid(key, "LineItem") if key.startswith("gid://") else None
        for item in order.line_items:
            if item.id == number or (number is None and item.sku == key):
                return item
        raise KeyError(f"order {order.name} has no line {key!r}")

    def update_tracking(
        self,
        fulfillment: int | str,
        tracking_numbers: Sequence[str],
        *,
        company: str | None = None,
        urls: Sequence[str] = (),
    ) -> SimFulfillment:
        """Replace a fulfillment's tracking (like ``fulfillmentTrackingInfoUpdate``)."""
        with self.lock:
            order, item = self.find_fulfillment(fulfillment)
            old_company = item.tracking[0].company if item.tracking else "DHL"
            item.tracking = _tracking(company or old_company, tracking_numbers, urls)
            item.updated_at = order.updated_at = self.now()
            return item

    def cancel_fulfillment(self, fulfillment: int | str) -> SimFulfillment:
        """Cancel a fulfillment (like ``fulfillmentCancel``): its lines become unfulfilled again."""
        with self.lock:
            order, item = self.find_fulfillment(fulfillment)
            item.status = "CANCELLED"
            item.updated_at = order.updated_at = self.now()
            return item

    def cancel_order(self, order: int | str | SimOrder, reason: str = "OTHER") -> SimOrder:
        """Cancel an order (like ``orderCancel``)."""
        with self.lock:
            target = self.order(order)
            target.cancelled_at = target.updated_at = self.now()
            target.cancel_reason = reason
            return target

    # ------------------------------------------------------------------------------------- orderCreate

    def create_order(self, data: Mapping[str, Any], options: Mapping[str, Any] | None) -> SimOrder:
        """``orderCreate``: validate like Shopify does (the subset the simulator knows), claim inventory,
        store the order. Raises :class:`UserError` for invalid input."""
        options = options or {}
        with self.lock:
            self.create_calls += 1
            currency = data.get("currency") or self.currency
            items_input = data.get("lineItems") or []
            if not items_input:
                raise UserError(["order", "lineItems"], "Line items can't be blank")
            if data.get("taxLines") and any(item.get("taxLines") for item in items_input):
                raise UserError(
                    ["order", "taxLines"], "Tax lines must be on the order or on line items, not both"
                )
            processed = _time(data.get("processedAt")) or self.now()
            if processed > self.now() + timedelta(minutes=1):
                raise UserError(
                    ["order", "processedAt"], "Processed at can't be in the future", "PROCESSED_AT_INVALID"
                )
            behaviour = str(options.get("inventoryBehaviour") or "BYPASS")
            line_items: list[SimLineItem] = []
            claims: list[tuple[SimVariant, int]] = []
            for index, item in enumerate(items_input):
                where = ["order", "lineItems", str(index)]
                price_set = item.get("priceSet") or {}
                money = price_set.get("shopMoney") or {}
                if money and money.get("currencyCode") != currency:
                    raise UserError([*where, "priceSet"], "Currency must match the order's currency")
                variant: SimVariant | None = None
                if item.get("variantId"):
                    number = parse_gid(str(item["variantId"]), "ProductVariant")
                    variant = self.variants.get(number) if number is not None else None
                    if variant is None:
                        raise UserError([*where, "variantId"], "Product variant does not exist")
                elif not item.get("title") or not money:
                    raise UserError(where, "A custom line item needs a title and a priceSet")
                quantity = int(item["quantity"])
                if quantity <= 0:
                    raise UserError([*where, "quantity"], "Quantity must be greater than 0")
                price = Decimal(str(money["amount"])) if money else (variant.price if variant else Decimal(0))
                properties = [(p["name"], p["value"]) for p in item.get("properties") or ()]
                line_items.append(
                    SimLineItem(
                        id=self._id(),
                        variant_id=variant.id if variant else None,
                        sku=str(item.get("sku") or (variant.sku if variant else "")),
                        title=str(item.get("title") or (variant.title if variant else "")),
                        quantity=quantity,
                        price=price,
                        properties=properties,
                        tax_lines=list(item.get("taxLines") or ()),
                    )
                )
                if variant is not None and variant.tracked and behaviour != "BYPASS":
                    claims.append((variant, quantity))
            for variant, quantity in claims:
                location = next(iter(variant.available), None)
                available = variant.available.get(location, 0) if location is not None else 0
                if behaviour == "DECREMENT_OBEYING_POLICY" and available < quantity:
                    raise UserError(
                        ["order", "lineItems"], "Inventory could not be claimed", "INVENTORY_CLAIM_FAILED"
                    )
            for variant, quantity in claims:
                location = next(iter(variant.available), None)
                if location is not None:
                    variant.available[location] -= quantity
                    variant.updated_at = self.now()
            stamp = self.now()
            order = SimOrder(
                id=self._id(),
                name=f"#{self._next_number}",
                source_identifier=data.get("sourceIdentifier"),
                tags=_tags(data.get("tags") or ()),
                created_at=stamp,
                updated_at=stamp,
                processed_at=processed,
                currency=currency,
                line_items=line_items,
                email=data.get("email"),
                note=data.get("note"),
                taxes_included=bool(data.get("taxesIncluded")),
                financial_status=str(data.get("financialStatus") or "PENDING"),
                custom_attributes=[(a["key"], a["value"]) for a in data.get("customAttributes") or ()],
                shipping_lines=list(data.get("shippingLines") or ()),
                shipping_address=data.get("shippingAddress"),
                billing_address=data.get("billingAddress"),
                inventory_behaviour=behaviour,
                send_receipt=bool(options.get("sendReceipt")),
                send_fulfillment_receipt=bool(options.get("sendFulfillmentReceipt")),
                received_input=dict(data),
            )
            self._next_number += 1
            self.orders[order.id] = order
            return order


def _tracking(company: str, numbers: Iterable[str], urls: Sequence[str]) -> list[SimTracking]:
    return [
        SimTracking(company=company, number=number, url=urls[i] if i < len(urls) else None)
        for i, number in enumerate(numbers)
    ]


def _tags(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        for tag in str(value).split(","):
            tag = tag.strip()
            if tag and tag.lower() not in seen:
                seen[tag.lower()] = tag
    return list(seen.values())


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
