"""Turn a marketplace :class:`Order` into ``orderCreate`` variables (``OrderCreateOrderInput`` + options)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ordersyncd.plugin import Address, ConnectionInfo, Money, Order, OrderLine, PermanentOrderError

from .settings import ShopifySettings

__all__ = ["LINE_ID_PROPERTY", "connection_tag", "order_create_variables", "source_identifier"]

#: Line item property carrying ``OrderLine.line_id``; the leading underscore hides it from customers.
LINE_ID_PROPERTY = "_ordersyncd_line_id"

_CENT = Decimal("0.01")
#: Shopify rejects phone numbers that are not E.164; others are left out rather than failing the order.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def source_identifier(connection: ConnectionInfo, order: Order) -> str:
    """The order key stamped on the Shopify order: ``"{connection}:{marketplace order id}"``."""
    return f"{connection.name}:{order.order_id}"


def connection_tag(connection: ConnectionInfo) -> str:
    """The tag that marks orders imported through ``connection``."""
    return f"ordersyncd:{connection.name}"


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": str(amount.quantize(_CENT, ROUND_HALF_UP)), "currencyCode": currency}}


def _included_tax(gross: Decimal, rate: Decimal) -> Decimal:
    """The tax contained in a gross amount at ``rate`` percent."""
    return (gross * rate / (Decimal(100) + rate)).quantize(_CENT, ROUND_HALF_UP)


def _added_tax(net: Decimal, rate: Decimal) -> Decimal:
    return (net * rate / Decimal(100)).quantize(_CENT, ROUND_HALF_UP)


def _address(address: Address) -> dict[str, Any]:
    street = " ".join(part for part in (address.street, address.house_number) if part)
    address2 = address.address_line2
    company = address.company
    if address.kind == "pack_station":
        street = f"Packstation {address.pickup_point_id}"
        address2 = f"Postnummer {address.customer_number}" if address.customer_number else address2
    elif address.kind == "pickup_point":
        company = address.pickup_point_name or company
        address2 = " ".join(part for part in (address.street, address.house_number) if part)
        street = f"Pickup point {address.pickup_point_id}"
    result: dict[str, Any] = {
        "lastName": address.last_name,
        "address1": street,
        "zip": address.postal_code,
        "city": address.city,
        "countryCode": address.country_code,
    }
    phone = address.phone.replace(" ", "")
    optional = {
        "firstName": address.first_name,
        "address2": address2,
        "company": company,
        "phone": phone if _E164.match(phone) else "",
        "provinceCode": address.state,
    }
    result.update({key: value for key, value in optional.items() if value})
    return result


class _Taxes:
    def __init__(self, settings: ShopifySettings, order: Order) -> None:
        self.settings = settings
        self.country_rate = settings.tax_rate_for(order.shipping_address.country_code)

    def rate(self, line: OrderLine) -> Decimal | None:
        return line.tax_rate if line.tax_rate is not None else self.country_rate

    def lines(self, amount: Decimal, rate: Decimal | None, currency: str) -> list[dict[str, Any]]:
        if rate is None:
            return []
        tax = _included_tax(amount, rate) if self.settings.taxes_included else _added_tax(amount, rate)
        return [
            {
                "title": self.settings.tax_title,
                "rate": str((rate / Decimal(100)).normalize()),
                "priceSet": _money(tax, currency),
            }
        ]


def _custom_attributes(order: Order) -> list[dict[str, str]]:
    attributes = {
        "Marketplace": order.marketplace,
        "Marketplace order number": order.number,
        "Marketplace order id": order.order_id,
    }
    if order.order_type:
        attributes["Order type"] = order.order_type
    if order.payment.transaction_id:
        attributes["Payment transaction id"] = order.payment.transaction_id
    attributes["Payment method"] = order.payment.method
    promise = order.delivery
    stamps = (promise.earliest, promise.latest)
    window = " to ".join(stamp.isoformat() for stamp in stamps if stamp is not None)
    described = ", ".join(part for part in (window, promise.method, promise.option) if part)
    if described:
        attributes["Delivery promise"] = described
    for key, value in order.attributes.items():
        attributes.setdefault(key, value)
    return [{"key": key, "value": value} for key, value in attributes.items() if value]


def order_create_variables(
    connection: ConnectionInfo,
    order: Order,
    settings: ShopifySettings,
    variant_ids: Mapping[str, str],
) -> dict[str, Any]:
    """Variables of the ``OrderCreate`` mutation.

    ``variant_ids`` maps each ``OrderLine.line_id`` to the Shopify variant id it was resolved to.
    """
    currency = order.currency
    taxes = _Taxes(settings, order)
    line_items = []
    rates: list[Decimal] = []
    for line in order.lines:
        variant_id = variant_ids.get(line.line_id)
        if variant_id is None:
            raise PermanentOrderError(f"line {line.line_id}: no Shopify variant resolved")
        rate = taxes.rate(line)
        if rate is not None:
            rates.append(rate)
        item: dict[str, Any] = {
            "variantId": variant_id,
            "quantity": line.quantity,
            "priceSet": _money(line.unit_price.amount, currency),
            "requiresShipping": True,
            "properties": [{"name": LINE_ID_PROPERTY, "value": line.line_id}],
        }
        if line.sku:
            item["sku"] = line.sku
        tax_lines = taxes.lines(line.total.amount, rate, currency)
        if tax_lines:
            item["taxLines"] = tax_lines
        line_items.append(item)
    shipping_rate = taxes.country_rate if taxes.country_rate is not None else (max(rates) if rates else None)
    shipping: dict[str, Any] = {
        "title": order.delivery.method or "Shipping",
        "priceSet": _money(order.shipping_cost.amount, currency),
    }
    shipping_taxes = taxes.lines(order.shipping_cost.amount, shipping_rate, currency)
    if shipping_taxes and order.shipping_cost.amount:
        shipping["taxLines"] = shipping_taxes
    tags = [order.marketplace, connection_tag(connection)]
    if order.order_type:
        tags.append(f"{order.marketplace}:{order.order_type}")
    payload: dict[str, Any] = {
        "sourceIdentifier": source_identifier(connection, order),
        "currency": currency,
        "processedAt": order.created_at.isoformat(),
        "tags": tags,
        "customAttributes": _custom_attributes(order),
        "note": f"{order.marketplace} order {order.number}",
        "lineItems": line_items,
        "shippingLines": [shipping],
        "taxesIncluded": settings.taxes_included,
        "financialStatus": "PAID" if order.payment.paid else "PENDING",
        "shippingAddress": _address(order.shipping_address),
        "billingAddress": _address(order.billing_address),
    }
    if order.customer.email:
        payload["email"] = order.customer.email
    customer_phone = order.customer.phone.replace(" ", "")
    if _E164.match(customer_phone):
        payload["phone"] = customer_phone
    if order.discount is not None and order.discount.amount:
        payload["discountCode"] = {"itemFixedDiscountCode": _discount(order, order.discount)}
    decrement = order.update_store_inventory
    options = {
        "inventoryBehaviour": "DECREMENT_IGNORING_POLICY" if decrement else "BYPASS",
        "sendReceipt": settings.notify_customer,
        "sendFulfillmentReceipt": settings.notify_customer,
    }
    return {"order": payload, "options": options}


def _discount(order: Order, discount: Money) -> dict[str, Any]:
    return {"code": f"{order.marketplace}-discount", "amountSet": _money(discount.amount, discount.currency)}
