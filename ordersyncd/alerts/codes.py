"""Checking the codes a person enters for a held shipment (Order Shipments page and ``shipments set-codes``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .conditions import missing_text

__all__ = ["EnteredCodes", "check_codes"]

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{2,63}$")
_CARRIER = re.compile(r"^[\w][\w .&/-]{0,39}$")


@dataclass(frozen=True)
class EnteredCodes:
    """Codes that passed the checks (empty: not entered) and the codes still missing after them."""

    tracking_code: str
    return_tracking_code: str
    carrier: str
    still_missing: tuple[str, ...]


def check_codes(
    tracking_code: str,
    return_tracking_code: str,
    carrier: str,
    *,
    missing: tuple[str, ...],
    current_tracking: str = "",
) -> tuple[EnteredCodes | None, list[str]]:
    """Check entered codes against the shipment's missing ones; returns the codes or readable errors."""
    tracking, returns, carrier = tracking_code.strip(), return_tracking_code.strip(), carrier.strip()
    errors: list[str] = []
    entered = {"tracking_code": tracking, "return_tracking_code": returns}
    if missing and not any(entered.get(m) for m in missing):
        errors.append(f"Enter the {missing_text(missing)}.")
    elif not (tracking or returns or carrier):
        errors.append("Enter a tracking code.")
    for label, value in (("shipping tracking code", tracking), ("return tracking code", returns)):
        if value and not _CODE.match(value):
            errors.append(
                f"The {label} must be 3 to 64 characters: letters, digits, spaces and . _ / - "
                "(starting with a letter or digit)."
            )
    if carrier and not _CARRIER.match(carrier):
        errors.append("The carrier must be 1 to 40 characters: letters, digits, spaces and . & / -.")
    if returns and returns == (tracking or current_tracking):
        errors.append("The return tracking code must differ from the shipping tracking code.")
    if errors:
        return None, errors
    still = tuple(m for m in missing if not entered.get(m))
    return EnteredCodes(tracking, returns, carrier, still), []
