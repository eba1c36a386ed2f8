"""Turn an idealo Merchant Order API v2 order into the core's :class:`Order`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ordersyncd.plugin import (
    Address,
    Customer,
    DeliveryPromise,
    Money,
    Order,
    OrderLine,
    Payment,
    PermanentOrderError,
)

from .settings import TaxSettings

__all__ = ["IMPORTABLE_STATUS", "STATUSES", "build_order", "money", "parse_time"]

MARKETPLACE = "idealo"
#: Order statuses of the v2 API; only PROCESSING orders are imported.
STATUSES = frozenset({"PROCESSING", "COMPLETED", "REVOKING", "REVOKED", "PARTIALLY_REVOKED"})
IMPORTABLE_STATUS = "PROCESSING"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any, what: str) -> datetime:
    """An idealo timestamp (UTC ``Z``, any fractional precision) as an aware datetime."""
    if not isinstance(value, str) or not value:
        raise PermanentOrderError(f"idealo: {what} is missing")
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PermanentOrderError(f"idealo: {what} {value!r} is not an ISO-8601 timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def money(value: Any, currency: str, what: str) -> Money:
    """A money value from an idealo decimal string (numbers are accepted, through their text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PermanentOrderError(f"idealo: {what} is missing or not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PermanentOrderError(f"idealo: {what} {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise PermanentOrderError(f"idealo: {what} {value!r} is not a non-negative amount")
    return Money(amount=amount, currency=currency)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _address(data: Any, what: str, *, phone: str, line2_is_company: bool) -> tuple[Address, str]:
    if not isinstance(data, Mapping):
        raise PermanentOrderError(f"idealo: {what} is missing")
    missing = [
        key
        for key in ("lastName", "addressLine1", "postalCode", "city", "countryCode")
        if not _text(data.get(key))
    ]
    if missing:
        raise PermanentOrderError(f"idealo: {what} lacks {', '.join(missing)}")
    line2 = _text(data.get("addressLine2"))
    company = ""
    if line2_is_company and line2 and not line2.lower().startswith("c/o"):
        company, line2 = line2, ""
    try:
        address = Address(
            first_name=_text(data.get("firstName")),
            last_name=_text(data.get("lastName")),
            company=company,
            street=_text(data.get("addressLine1")),
            address_line2=line2,
            postal_code=_text(data.get("postalCode")),
            city=_text(data.get("city")),
            country_code=_text(data.get("countryCode")).upper(),
            phone=phone,
        )
    except ValueError as error:
        raise PermanentOrderError(f"idealo: {what} is invalid: {error}") from None
    return address, _text(data.get("salutation"))


def _delivery(payload: Mapping[str, Any]) -> tuple[DeliveryPromise, dict[str, str]]:
    fulfillment = payload.get("fulfillment")
    fulfillment = fulfillment if isinstance(fulfillment, Mapping) else {}
    method = _text(fulfillment.get("method"))
    options = []
    for option in fulfillment.get("options") or []:
        if isinstance(option, Mapping) and _text(option.get("forwardOption")):
            price = _text(str(option.get("price") or ""))
            options.append(_text(option.get("forwardOption")) + (f" ({price})" if price else ""))
    attributes: dict[str, str] = {}
    texts = []
    for item in payload.get("lineItems") or []:
        text = _text(item.get("merchantDeliveryText")) if isinstance(item, Mapping) else ""
        if text and text not in texts:
            texts.append(text)
    if texts:
        attributes["Delivery time"] = "; ".join(t.replace("+", " ") for t in texts)
    return DeliveryPromise(method=method, option=", ".join(options)), attributes


def build_order(
    payload: Mapping[str, Any], *, tax: TaxSettings | None, address_line2_is_company: bool = False
) -> Order:
    """The :class:`Order` for an idealo order payload.

    Raises :class:`PermanentOrderError` naming the problem when the payload cannot become a store order:
    a missing address line, postal code or name, a line without SKU or price, amounts that do not add up
    to ``grossPrice``, a status other than PROCESSING, or no tax rate when a tax table is configured.
    """
    order_id = _text(payload.get("idealoOrderId"))
    if not order_id:
        raise PermanentOrderError("idealo: the order has no idealoOrderId")
    status = _text(payload.get("status"))
    if status != IMPORTABLE_STATUS:
        known = "an unknown status" if status not in STATUSES else "status"
        raise PermanentOrderError(
            f"idealo: order {order_id} has {known} {status or '(none)'}; only PROCESSING orders are imported"
        )
    currency = _text(payload.get("currency")) or "EUR"
    customer_data = payload.get("customer")
    customer_data = customer_data if isinstance(customer_data, Mapping) else {}
    phone = _text(customer_data.get("phone"))
    billing, salutation = _address(
        payload.get("billingAddress"),
        "billingAddress",
        phone=phone,
        line2_is_company=address_line2_is_company,
    )
    shipping, _ = _address(
        payload.get("shippingAddress") or payload.get("billingAddress"),
        "shippingAddress",
        phone=phone,
        line2_is_company=address_line2_is_company,
    )
    items = payload.get("lineItems")
    if not isinstance(items, list) or not items:
        raise PermanentOrderError(f"idealo: order {order_id} has no line items")
    lines = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise PermanentOrderError(f"idealo: line {index} of order {order_id} is malformed")
        sku = _text(item.get("sku"))
        if not sku:
            raise PermanentOrderError(f"idealo: line {index} of order {order_id} has no sku")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise PermanentOrderError(f"idealo: line {index} ({sku}) has no valid quantity")
        rate = None
        if tax is not None:
            rate = tax.rate_for(shipping.country_code, sku)
            if rate is None:
                product_class = tax.product_classes.get(sku, tax.default_class)
                raise PermanentOrderError(
                    f"idealo: no tax rate for {shipping.country_code}/{product_class} (SKU {sku}); "
                    "add it to the tax table (tax.rates) of the account or connection"
                )
        lines.append(
            OrderLine(
                line_id=str(index),
                sku=sku,
                title=_text(item.get("title")),
                quantity=quantity,
                unit_price=money(item.get("price"), currency, f"price of line {index} ({sku})"),
                tax_rate=rate,
            )
        )
    shipping_cost = money(payload.get("shippingCosts") or "0", currency, "shippingCosts")
    goods = sum((line.total.amount for line in lines), Decimal(0))
    for field, expected in (("offersPrice", goods), ("grossPrice", goods + shipping_cost.amount)):
        if payload.get(field) is not None:
            stated = money(payload.get(field), currency, field).amount
            if stated != expected:
                raise PermanentOrderError(
                    f"idealo: order {order_id}: {field} {stated} does not match the lines "
                    f"({expected}); not imported so no wrong amount reaches the store"
                )
    payment_data = payload.get("payment")
    payment_data = payment_data if isinstance(payment_data, Mapping) else {}
    method = _text(payment_data.get("paymentMethod"))
    if not method:
        raise PermanentOrderError(f"idealo: order {order_id} names no payment method")
    delivery, attributes = _delivery(payload)
    attributes["idealo status"] = status
    if salutation:
        attributes["Salutation"] = salutation
    voucher = payload.get("voucher")
    if isinstance(voucher, Mapping) and _text(voucher.get("code")):
        attributes["Voucher (already in the prices)"] = _text(voucher.get("code"))
    if delivery.option:
        attributes["Delivery options"] = delivery.option
    created = parse_time(payload.get("created"), "created")
    updated = parse_time(payload["updated"], "updated") if payload.get("updated") else None
    return Order(
        marketplace=MARKETPLACE,
        order_id=order_id,
        number=order_id,
        created_at=created,
        updated_at=updated,
        customer=Customer(
            email=_text(customer_data.get("email")),
            phone=phone,
            first_name=billing.first_name,
            last_name=billing.last_name,
        ),
        billing_address=billing,
        shipping_address=shipping,
        lines=tuple(lines),
        shipping_cost=shipping_cost,
        payment=Payment(method=method, transaction_id=_text(payment_data.get("transactionId")), paid=True),
        delivery=delivery,
        attributes=attributes,
    )
