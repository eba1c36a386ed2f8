"""Turn a persisted zDirect order payload into the core's :class:`Order`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

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

from .orders import parse_time

__all__ = [
    "ACTIVE_LINE_STATUSES",
    "ORDER_TYPE_CODES",
    "build_order",
    "item_id_of",
    "merchant_order_id",
    "order_line_id",
    "unit_line_items",
]

#: zDirect ``order_type`` → the core's order type.
ORDER_TYPE_CODES = {"PartnerFulfilled": "FBR", "ZalandoFulfilled": "FBZ"}
#: Line statuses of units still to deliver (``canceled`` lines are not imported).
ACTIVE_LINE_STATUSES = {"initial", "reserved", "shipped", "returned"}
_ADDRESS_KINDS: dict[str, Literal["pickup_point", "pack_station"]] = {
    "PACK_STATION": "pack_station",
    "PICKUP_POINT": "pickup_point",
}


def merchant_order_id(number: str) -> str:
    """The store order number made alphanumeric, as zDirect requires for ``merchant_order_id``."""
    return "".join(ch for ch in number if ch.isascii() and ch.isalnum())


def order_line_id(item_id: str, group: int) -> str:
    """The :attr:`OrderLine.line_id` of an order item's price group: the item id for the first group,
    ``"{item_id}:{group}"`` for the further ones (units of one article sold at different prices)."""
    return item_id if group == 0 else f"{item_id}:{group}"


def item_id_of(line_id: str) -> str:
    """The zDirect order item id an :attr:`OrderLine.line_id` was built from (inverse of :func:`order_line_id`)."""
    item_id, colon, group = line_id.rpartition(":")
    return item_id if colon and item_id and group.isdigit() else line_id


def unit_line_items(order: Order) -> dict[str, str]:
    """Every unit line id of a mapped order → the order item id it belongs to (for the line PATCH path)."""
    return {unit: item_id_of(line.line_id) for line in order.lines for unit in line.marketplace_line_ids}


def _money(value: Any, where: str) -> Money:
    if not isinstance(value, Mapping):
        raise PermanentOrderError(f"zalando: {where} has no price")
    try:
        amount = Decimal(str(value.get("amount")))
    except InvalidOperation:
        raise PermanentOrderError(f"zalando: {where} has an invalid amount") from None
    return Money(amount=amount, currency=str(value.get("currency", "")))


def _address(raw: Any, where: str) -> Address:
    if not isinstance(raw, Mapping):
        raise PermanentOrderError(f"zalando: the order has no {where}")
    address_type = str(raw.get("address_type", ""))
    kind: Literal["street", "pickup_point", "pack_station"] = _ADDRESS_KINDS.get(address_type, "street")
    point = raw.get("service_point_details") or {}
    extra = [str(raw[k]) for k in ("address_line_2", "address_line_3") if raw.get(k)]
    return Address(
        kind=kind,
        first_name=str(raw.get("first_name", "")),
        last_name=str(raw.get("last_name", "")),
        street=str(raw.get("address_line_1", "")),
        address_line2=", ".join(extra),
        postal_code=str(raw.get("zip_code", "")),
        city=str(raw.get("city", "")),
        country_code=str(raw.get("country_code", "")).upper(),
        pickup_point_id=str(point.get("service_point_id", "")) if kind != "street" else "",
        pickup_point_name=str(point.get("service_point_name", "")) if kind != "street" else "",
        customer_number=str(point.get("service_point_member_id", "")) if kind == "pack_station" else "",
    )


def _lines(payload: Mapping[str, Any], identifier: str) -> list[OrderLine]:
    """One :class:`OrderLine` per article and unit price, keeping every unit line id."""
    lines_by_item: dict[str, list[Mapping[str, Any]]] = {}
    for line in payload.get("lines") or []:
        attributes = line.get("attributes") or {}
        item_id = str(attributes.get("order_item_id", ""))
        lines_by_item.setdefault(item_id, []).append(line)
    result: list[OrderLine] = []
    for item in payload.get("items") or []:
        item_id = str(item.get("id", ""))
        attributes = item.get("attributes") or {}
        groups: dict[Money, list[str]] = {}
        for line in lines_by_item.get(item_id, []):
            line_attributes = line.get("attributes") or {}
            if line_attributes.get("status") not in ACTIVE_LINE_STATUSES:
                continue
            price = _money(line_attributes.get("price"), f"order line {line.get('id')}")
            groups.setdefault(price, []).append(str(line.get("id")))
        external = str(attributes.get("external_id") or "")
        for index, (price, line_ids) in enumerate(groups.items()):
            result.append(
                OrderLine(
                    line_id=order_line_id(item_id, index),
                    marketplace_line_ids=tuple(line_ids),
                    sku=external if identifier == "sku" else "",
                    ean=external if identifier == "ean" else "",
                    marketplace_article_id=str(attributes.get("article_id") or ""),
                    title=str(attributes.get("description") or ""),
                    quantity=len(line_ids),
                    unit_price=price,
                )
            )
    return result


def build_order(payload: Mapping[str, Any], *, identifier: str, update_stock_for_fbz: bool) -> Order:
    """Map one payload (``{"order", "items", "lines"}`` as stored by ``fetch_orders``).

    ``identifier`` says which store field the item's ``external_id`` is (``sku`` or ``ean``); Zalando's own
    simple SKU (``article_id``) is kept as ``marketplace_article_id``.
    """
    order = payload.get("order")
    if not isinstance(order, Mapping):
        raise PermanentOrderError("zalando: the payload holds no order")
    attributes: Mapping[str, Any] = order.get("attributes") or {}
    order_type = ORDER_TYPE_CODES.get(str(attributes.get("order_type", "")))
    if order_type is None:
        raise PermanentOrderError(f"zalando: unknown order type {attributes.get('order_type')!r}")
    lines = _lines(payload, identifier)
    if not lines:
        raise PermanentOrderError("zalando: the order has no line left to deliver (all canceled)")
    currency = lines[0].unit_price.currency
    shipping = attributes.get("shipping_costs")
    shipping_cost = (
        _money(shipping, "shipping costs") if shipping else Money(amount=Decimal(0), currency=currency)
    )
    created = parse_time(attributes.get("order_date")) or parse_time(attributes.get("created_at"))
    if created is None:
        raise PermanentOrderError("zalando: the order has no order_date")
    billing = _address(attributes.get("billing_address"), "billing address")
    shipping_address = _address(attributes.get("shipping_address"), "shipping address")
    phone = attributes.get("customer_phone") or {}
    kept = {
        key: str(attributes[key])
        for key in (
            "sales_channel_id",
            "locale",
            "merchant_order_id",
            "status",
            "order_type",
            "stock_location_id",
        )
        if attributes.get(key) not in (None, "")
    }
    if "exported" in attributes:
        kept["exported"] = "true" if attributes["exported"] else "false"
    return Order(
        marketplace="zalando",
        order_id=str(order.get("id") or attributes.get("order_id")),
        number=str(attributes.get("order_number") or ""),
        order_type=order_type,
        created_at=created,
        updated_at=parse_time(attributes.get("modified_at")),
        customer=Customer(
            email=str(attributes.get("customer_email") or ""),
            phone=str(phone.get("number") or ""),
            first_name=billing.first_name,
            last_name=billing.last_name,
            marketplace_customer_id=str(attributes.get("customer_number") or ""),
        ),
        billing_address=billing,
        shipping_address=shipping_address,
        lines=tuple(lines),
        shipping_cost=shipping_cost,
        payment=Payment(method="zalando", paid=attributes.get("status") != "initial"),
        delivery=DeliveryPromise(latest=parse_time(attributes.get("delivery_end_date"))),
        update_store_inventory=order_type == "FBR" or update_stock_for_fbz,
        attributes=kept,
    )
