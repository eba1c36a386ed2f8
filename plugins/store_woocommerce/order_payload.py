"""Turn a marketplace :class:`Order` into the body of ``POST /wc/v3/orders``.

WooCommerce recomputes taxes on create from the store's tax settings, treating line and shipping totals as
net amounts. Marketplace prices are gross, so where a tax rate is known (the line's own, else the
configured rate of the destination country) the net amount is sent; without a rate the gross amount is sent
as it is (stores without taxes).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ordersyncd.plugin import Address, ConnectionInfo, Order

from .catalogue import CatalogueItem
from .settings import WooCommerceSettings

__all__ = [
    "CONNECTION_META",
    "LINE_ID_META",
    "ORDER_KEY_META",
    "STOCK_REDUCED_META",
    "order_body",
    "order_key",
]

#: Order meta holding the order key ``"{connection}:{marketplace order id}"`` (no leading underscore, so it
#: is visible in the admin and in REST answers).
ORDER_KEY_META = "ordersyncd_order_key"
#: Order meta naming the connection that imported the order.
CONNECTION_META = "ordersyncd_connection"
#: Line item meta carrying ``OrderLine.line_id``.
LINE_ID_META = "ordersyncd_line_id"
#: Internal order property: set, WooCommerce does not reduce stock for the order again.
STOCK_REDUCED_META = "_order_stock_reduced"

#: Amounts are sent with four decimals: WooCommerce keeps them and rounds the taxes it computes.
_PRECISION = Decimal("0.0001")


def order_key(connection: ConnectionInfo, order: Order) -> str:
    """The order key stamped on the WooCommerce order: ``"{connection}:{marketplace order id}"``."""
    return f"{connection.name}:{order.order_id}"


def _amount(value: Decimal) -> str:
    return str(value.quantize(_PRECISION, ROUND_HALF_UP))


def net_of(gross: Decimal, rate: Decimal | None) -> Decimal:
    """``gross`` without the tax at ``rate`` percent (unchanged without a rate)."""
    if rate is None:
        return gross
    return gross * Decimal(100) / (Decimal(100) + rate)


def _street(address: Address) -> tuple[str, str, str]:
    """``(company, address_1, address_2)`` with pick-up points and pack stations spelled out."""
    street = " ".join(part for part in (address.street, address.house_number) if part)
    if address.kind == "pack_station":
        extra = f"Postnummer {address.customer_number}" if address.customer_number else address.address_line2
        return address.company, f"Packstation {address.pickup_point_id}", extra
    if address.kind == "pickup_point":
        company = address.pickup_point_name or address.company
        return company, f"Pickup point {address.pickup_point_id}", street
    return address.company, street, address.address_line2


def _address(address: Address) -> dict[str, str]:
    company, line1, line2 = _street(address)
    return {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": company,
        "address_1": line1,
        "address_2": line2,
        "city": address.city,
        "state": address.state,
        "postcode": address.postal_code,
        "country": address.country_code,
        "phone": address.phone,
    }


def _title(order: Order, settings: WooCommerceSettings) -> str:
    return settings.payment_method_titles.get(order.marketplace, order.marketplace.capitalize())


def _meta(connection: ConnectionInfo, order: Order) -> list[dict[str, str]]:
    values = {
        ORDER_KEY_META: order_key(connection, order),
        CONNECTION_META: connection.name,
        "marketplace": order.marketplace,
        "marketplace_order_id": order.order_id,
        "marketplace_order_number": order.number,
        "marketplace_order_type": order.order_type,
        "marketplace_payment_method": order.payment.method,
    }
    for key, value in order.attributes.items():
        values.setdefault(f"marketplace_{key}", value)
    meta = [{"key": key, "value": value} for key, value in values.items() if value]
    if not order.update_store_inventory:
        meta.append({"key": STOCK_REDUCED_META, "value": "yes"})
    return meta


def order_body(
    connection: ConnectionInfo,
    order: Order,
    settings: WooCommerceSettings,
    items: Mapping[str, CatalogueItem],
) -> dict[str, Any]:
    """The ``POST /wc/v3/orders`` body; ``items`` maps each ``OrderLine.line_id`` to its product."""
    country_rate = settings.tax_rate_for(order.shipping_address.country_code)
    line_items = []
    rates: list[Decimal] = []
    for line in order.lines:
        rate = line.tax_rate if line.tax_rate is not None else country_rate
        if rate is not None:
            rates.append(rate)
        total = _amount(net_of(line.total.amount, rate))
        line_items.append(
            {
                **items[line.line_id].reference,
                "quantity": line.quantity,
                "subtotal": total,
                "total": total,
                "meta_data": [{"key": LINE_ID_META, "value": line.line_id}],
            }
        )
    shipping_rate = country_rate if country_rate is not None else (max(rates) if rates else None)
    billing = _address(order.billing_address)
    billing["email"] = order.customer.email
    if not billing["phone"]:
        billing["phone"] = order.customer.phone
    body: dict[str, Any] = {
        "status": settings.order_status,
        "currency": order.currency,
        "customer_id": 0,
        "set_paid": order.payment.paid,
        "payment_method": order.marketplace,
        "payment_method_title": _title(order, settings),
        "transaction_id": order.payment.transaction_id,
        "billing": billing,
        "shipping": _address(order.shipping_address),
        "customer_note": order.attributes.get("customer_note", ""),
        "line_items": line_items,
        "shipping_lines": [
            {
                "method_id": settings.shipping_method_id,
                "method_title": order.delivery.method or "Shipping",
                "total": _amount(net_of(order.shipping_cost.amount, shipping_rate)),
            }
        ],
        "meta_data": _meta(connection, order),
    }
    if order.discount is not None and order.discount.amount:
        body["fee_lines"] = [
            {
                "name": f"{_title(order, settings)} discount",
                "total": _amount(-order.discount.amount),  # untaxed fee: the gross discount
                "tax_status": "none",
            }
        ]
    return body
