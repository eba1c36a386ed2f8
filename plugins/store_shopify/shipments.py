"""Read Shopify fulfillments as :class:`Shipment`\\ s.

Convention (product brief): the **first** tracking number of a fulfillment is the shipping code, the
**second** the return tracking code. Cancelled (and failed) fulfillments are not shipments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ordersyncd.plugin import Shipment, ShipmentLine

from .order_input import LINE_ID_PROPERTY

__all__ = ["IGNORED_STATUSES", "fulfillment_lines", "map_carrier", "shipment_from_fulfillment"]

#: Fulfillment statuses that do not describe goods on their way.
IGNORED_STATUSES = frozenset({"CANCELLED", "ERROR", "FAILURE"})


def map_carrier(company: str, table: Mapping[str, str]) -> str:
    """The marketplace's carrier value for Shopify's ``company``: exact match, then case-insensitive;
    unmapped names pass through unchanged."""
    if company in table:
        return table[company]
    folded = company.casefold()
    for name, value in table.items():
        if name.casefold() == folded:
            return value
    return company


def fulfillment_lines(nodes: Iterable[Mapping[str, Any]]) -> list[ShipmentLine]:
    """Shipment lines from ``fulfillmentLineItems`` nodes; lines not imported by ordersyncd are skipped."""
    quantities: dict[str, int] = {}
    for node in nodes:
        line_item = node.get("lineItem") or {}
        line_id = ""
        for attribute in line_item.get("customAttributes") or ():
            if attribute.get("key") == LINE_ID_PROPERTY and attribute.get("value"):
                line_id = str(attribute["value"])
        quantity = node.get("quantity") or 0
        if line_id and quantity > 0:
            quantities[line_id] = quantities.get(line_id, 0) + int(quantity)
    return [ShipmentLine(line_id=line_id, quantity=qty) for line_id, qty in quantities.items()]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def shipment_from_fulfillment(
    fulfillment: Mapping[str, Any],
    *,
    order_id: str,
    store_order_id: str,
    lines: list[ShipmentLine],
    carriers: Mapping[str, str],
) -> Shipment | None:
    """The shipment a fulfillment describes, or ``None`` for a cancelled/failed one."""
    if fulfillment.get("status") in IGNORED_STATUSES:
        return None
    tracking = [info for info in fulfillment.get("trackingInfo") or () if info.get("number")]
    first = tracking[0] if tracking else {}
    second = tracking[1] if len(tracking) > 1 else {}
    company = str(first.get("company") or second.get("company") or "")
    return Shipment(
        shipment_id=str(fulfillment["id"]),
        order_id=order_id,
        store_order_id=store_order_id,
        lines=tuple(lines),
        carrier=map_carrier(company, carriers) if company else "",
        tracking_code=str(first.get("number") or ""),
        return_tracking_code=str(second.get("number") or ""),
        tracking_url=str(first.get("url") or ""),
        shipped_at=_time(fulfillment.get("createdAt")),
    )
