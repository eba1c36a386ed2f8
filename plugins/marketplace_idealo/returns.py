"""Cancellations, partial cancellations and returns (revocations per SKU) and refunds with their status.

idealo's POSTs carry no idempotency key, so every call here first reads what idealo already has and sends
only what is missing: calling again after a crash or timeout never revokes or refunds twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from ordersyncd.plugin import Money, PermanentOrderError, TransientError

from .client import IdealoClient, error_reason
from .mapping import money, parse_time
from .orders import order_path, read_order

__all__ = [
    "REFUNDABLE_METHOD",
    "Refund",
    "RevocationReason",
    "ensure_refunded",
    "list_refunds",
    "remaining_quantities",
    "revoke",
]

#: Only orders paid with idealo's own payment service are refunded through the API (reference §4.2).
REFUNDABLE_METHOD = "IDEALO_CHECKOUT_PAYMENTS"
_CENT = Decimal("0.01")


class RevocationReason(StrEnum):
    """Why units are revoked (the v2 ``reason`` values)."""

    CUSTOMER_REVOKE = "CUSTOMER_REVOKE"  # the customer withdrew (Widerruf) before shipping
    MERCHANT_DECLINE = "MERCHANT_DECLINE"  # the merchant cannot or will not deliver
    RETOUR = "RETOUR"  # returned after shipping


@dataclass(frozen=True)
class Refund:
    """One refund as idealo reports it. ``status`` is ``OPEN`` until the payment service settled it."""

    refund_id: str
    amount: Money
    status: str
    transaction_id: str = ""
    created: str = ""


def remaining_quantities(current: dict[str, Any]) -> dict[str, int]:
    """Units per SKU that still stand (``remainingQuantity`` when idealo gives it, else ``quantity``)."""
    remaining: dict[str, int] = {}
    for item in current.get("lineItems") or []:
        if not isinstance(item, dict) or not item.get("sku"):
            continue
        value = item.get("remainingQuantity", item.get("quantity", 0))
        remaining[str(item["sku"])] = remaining.get(str(item["sku"]), 0) + (
            int(value) if isinstance(value, int) else 0
        )
    return remaining


async def revoke(
    client: IdealoClient,
    order_id: str,
    sku: str,
    *,
    remaining_quantity: int,
    reason: RevocationReason,
    comment: str = "",
) -> bool:
    """Revoke units of ``sku`` so that ``remaining_quantity`` units stay (0 = the whole SKU).

    Returns ``False`` when idealo already has that many or fewer units left (nothing sent).
    """
    if remaining_quantity < 0:
        raise ValueError("remaining_quantity cannot be negative")
    current = await read_order(client, order_id)
    left = remaining_quantities(current)
    if sku not in left:
        raise PermanentOrderError(f"idealo: order {order_id} has no line with SKU {sku!r}")
    if left[sku] <= remaining_quantity:
        return False
    body: dict[str, Any] = {"sku": sku, "remainingQuantity": remaining_quantity, "reason": reason.value}
    if comment:
        body["comment"] = comment[:255]
    await client.request("POST", order_path(order_id, "/revocations"), json_body=body)
    return True


def _refund(item: Any, currency: str) -> Refund:
    if not isinstance(item, dict) or not item.get("refundId"):
        raise TransientError("idealo: a refund in the response has no refundId")
    return Refund(
        refund_id=str(item["refundId"]),
        amount=money(item.get("refundAmount"), str(item.get("currency") or currency), "refundAmount"),
        status=str(item.get("status") or ""),
        transaction_id=str(item.get("refundTransactionId") or ""),
        created=parse_time(item["created"], "refund created").isoformat() if item.get("created") else "",
    )


async def list_refunds(client: IdealoClient, order_id: str, currency: str = "EUR") -> list[Refund]:
    """The refunds of an order with their status (poll until none is ``OPEN``)."""
    body = await client.json("GET", order_path(order_id, "/refunds"))
    if not isinstance(body, list):
        raise TransientError(f"idealo: the refunds of order {order_id} are not a list")
    return [_refund(item, currency) for item in body]


async def ensure_refunded(client: IdealoClient, order_id: str, total: Money) -> list[Refund]:
    """Make the refunded sum of the order reach ``total`` (cumulative, not a delta); returns new refunds.

    Refunds only the difference between ``total`` and what idealo already lists, so repeating the call is
    harmless. Orders not paid with idealo Checkout Payments are refused (refund them at the payment service
    named by the order's payment method).
    """
    current = await read_order(client, order_id)
    method = str((current.get("payment") or {}).get("paymentMethod") or "")
    if method != REFUNDABLE_METHOD:
        raise PermanentOrderError(
            f"idealo: order {order_id} was paid with {method or 'an unknown method'}; refund it at that "
            "payment service (idealo refunds only IDEALO_CHECKOUT_PAYMENTS orders)"
        )
    currency = str(current.get("currency") or "EUR")
    if total.currency != currency:
        raise PermanentOrderError(f"idealo: order {order_id} is in {currency}, not {total.currency}")
    before = await list_refunds(client, order_id, currency)
    done = sum((r.amount.amount for r in before if r.status not in {"FAILED", "REJECTED"}), Decimal(0))
    due = (total.amount - done).quantize(_CENT, ROUND_HALF_UP)
    if due < _CENT:
        return []
    response = await client.request(
        "POST",
        order_path(order_id, "/refunds"),
        # idealo takes the amount as a JSON number (reference §4.2); two decimals survive float exactly
        # enough for the remote's own rounding to cents.
        json_body={"refundAmount": float(due), "currency": currency},
        expect=(400, 409, 422),
    )
    if response.status_code in (400, 409, 422):
        reason = error_reason(response) or f"HTTP {response.status_code}"
        raise PermanentOrderError(
            f"idealo: refund of {due} {currency} for order {order_id} refused: {reason}"
        )
    known = {r.refund_id for r in before}
    return [r for r in await list_refunds(client, order_id, currency) if r.refund_id not in known]
