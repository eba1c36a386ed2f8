"""Read a shipped WooCommerce order (and its tracking items) as a :class:`Shipment`.

WooCommerce core has no tracking field. Tracking comes from the Shipment Tracking extension or Advanced
Shipment Tracking (REST route or the ``_wc_shipment_tracking_items`` order meta), or from plain order meta
keys another plugin writes. Convention (as for Shopify): the **first** tracking item is the shipping code,
the **second** the return tracking code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ordersyncd.plugin import Shipment, ShipmentLine

from .order_payload import LINE_ID_META

__all__ = [
    "TrackingItem",
    "map_carrier",
    "meta_value",
    "parse_wc_datetime",
    "shipment_from_order",
    "shipment_lines",
    "tracking_from_items",
    "tracking_from_meta_keys",
]


@dataclass(frozen=True)
class TrackingItem:
    """One tracking number with its provider, link and shipping date."""

    number: str
    provider: str = ""
    link: str = ""
    shipped_at: datetime | None = None


def meta_value(node: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in a WooCommerce object's ``meta_data`` (``None`` when absent)."""
    for entry in node.get("meta_data") or ():
        if isinstance(entry, Mapping) and entry.get("key") == key:
            return entry.get("value")
    return None


def parse_wc_datetime(value: Any) -> datetime | None:
    """A WooCommerce GMT date (``"2026-11-20T10:00:00"``), a ``YYYY-MM-DD`` date or a unix timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def map_carrier(provider: str, table: Mapping[str, str]) -> str:
    """The marketplace's carrier value for a tracking provider: exact match, then case-insensitive;
    unmapped names pass through unchanged."""
    if provider in table:
        return table[provider]
    folded = provider.casefold()
    for name, value in table.items():
        if name.casefold() == folded:
            return value
    return provider


def tracking_from_items(items: Any) -> list[TrackingItem]:
    """Tracking items of the Shipment Tracking REST route or of the ``_wc_shipment_tracking_items`` meta."""
    if isinstance(items, Mapping):  # PHP arrays with non-sequential keys serialise as objects
        items = list(items.values())
    found: list[TrackingItem] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        number = str(item.get("tracking_number") or "").strip()
        if not number:
            continue
        provider = str(item.get("tracking_provider") or item.get("custom_tracking_provider") or "").strip()
        link = str(item.get("tracking_link") or item.get("custom_tracking_link") or "").strip()
        found.append(TrackingItem(number, provider, link, parse_wc_datetime(item.get("date_shipped"))))
    return found


def tracking_from_meta_keys(
    order: Mapping[str, Any], number_key: str, return_key: str | None, carrier_key: str | None
) -> list[TrackingItem]:
    """Tracking written by other plugins into plain order meta keys (outbound first, then return)."""
    carrier = str(meta_value(order, carrier_key) or "").strip() if carrier_key else ""
    found = []
    for key in (number_key, return_key):
        number = str(meta_value(order, key) or "").strip() if key else ""
        if number:
            found.append(TrackingItem(number, carrier))
    return found


def shipment_lines(order: Mapping[str, Any]) -> list[ShipmentLine]:
    """Every line imported by ordersyncd (line item meta ``ordersyncd_line_id``) with its quantity."""
    quantities: dict[str, int] = {}
    for item in order.get("line_items") or ():
        if not isinstance(item, Mapping):
            continue
        line_id = str(meta_value(item, LINE_ID_META) or "")
        quantity = int(item.get("quantity") or 0)
        if line_id and quantity > 0:
            quantities[line_id] = quantities.get(line_id, 0) + quantity
    return [ShipmentLine(line_id=line_id, quantity=qty) for line_id, qty in quantities.items()]


def shipment_from_order(
    order: Mapping[str, Any],
    *,
    order_id: str,
    tracking: Iterable[TrackingItem],
    carriers: Mapping[str, str],
) -> Shipment:
    """The shipment of a shipped (completed) order: all its lines, first tracking item outbound, second
    return. The shipment id is the WooCommerce order id (one shipment per order)."""
    items = list(tracking)
    first = items[0] if items else None
    second = items[1] if len(items) > 1 else None
    provider = (first.provider if first else "") or (second.provider if second else "")
    shipped_at = (first.shipped_at if first else None) or parse_wc_datetime(order.get("date_completed_gmt"))
    return Shipment(
        shipment_id=str(order["id"]),
        order_id=order_id,
        store_order_id=str(order["id"]),
        lines=tuple(shipment_lines(order)),
        carrier=map_carrier(provider, carriers) if provider else "",
        tracking_code=first.number if first else "",
        return_tracking_code=second.number if second else "",
        tracking_url=first.link if first else "",
        shipped_at=shipped_at,
    )
