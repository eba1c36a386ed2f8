"""Reporting a shipment: ``POST …/fulfillment`` with the carrier and the tracking codes idealo lacks."""

from __future__ import annotations

from typing import Any

import structlog

from ordersyncd.plugin import MissingCodes, Order, PermanentOrderError, Shipment

from .client import IdealoClient
from .orders import order_path, read_order
from .settings import IdealoSettings

__all__ = ["fulfillment_body", "report_shipment"]

log = structlog.get_logger("ordersyncd.plugins.idealo")

#: Statuses in which idealo takes fulfillment information.
_SHIPPABLE = {"PROCESSING", "COMPLETED", "PARTIALLY_REVOKED"}


def _known_codes(current: dict[str, Any]) -> set[str]:
    fulfillment = current.get("fulfillment") or {}
    tracking = fulfillment.get("tracking") if isinstance(fulfillment, dict) else None
    return {
        str(entry.get("code")) for entry in tracking or [] if isinstance(entry, dict) and entry.get("code")
    }


def fulfillment_body(settings: IdealoSettings, shipment: Shipment, codes: list[str]) -> dict[str, Any]:
    """The fulfillment request: the mapped carrier (left out when unknown) and the codes as an array."""
    body: dict[str, Any] = {"trackingCode": codes}
    carrier = settings.idealo_carrier(shipment.carrier) if shipment.carrier else settings.default_carrier
    if carrier:
        body["carrier"] = carrier
    elif shipment.carrier:
        log.warning(
            "idealo: store carrier has no idealo name; codes sent without carrier", carrier=shipment.carrier
        )
    return body


async def report_shipment(
    client: IdealoClient, settings: IdealoSettings, order: Order, shipment: Shipment
) -> bool:
    """Send the shipment unless idealo already has its code. Returns whether a request was sent.

    Raises :class:`MissingCodes` (before sending anything) when the tracking code is missing and
    ``require_tracking_code`` is on; :class:`PermanentOrderError` when the order was revoked at idealo.
    """
    code = shipment.tracking_code.strip()
    if not code and settings.require_tracking_code:
        raise MissingCodes(
            ["tracking_code"], f"idealo needs the tracking code; order {order.number} has none yet"
        )
    current = await read_order(client, order.order_id)
    status = str(current.get("status") or "")
    known = _known_codes(current)
    if code and code in known:
        return False  # reported before (idempotent per shipment)
    if not code and status == "COMPLETED":
        return False  # already marked shipped; nothing new to tell
    if status not in _SHIPPABLE:
        raise PermanentOrderError(
            f"idealo: order {order.number} is {status or 'in an unknown state'} at idealo; the shipment "
            "is not reported"
        )
    body = fulfillment_body(settings, shipment, [code] if code else [])
    await client.request("POST", order_path(order.order_id, "/fulfillment"), json_body=body)
    return True
