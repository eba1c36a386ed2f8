"""Alert conditions (one e-mail per order and condition)."""

from __future__ import annotations

__all__ = ["CODES_MISSING", "CODE_NAMES", "missing_text"]

#: A held shipment lacks a tracking code the marketplace requires.
CODES_MISSING = "codes_missing"

#: How the codes are named to people.
CODE_NAMES = {"tracking_code": "shipping tracking code", "return_tracking_code": "return tracking code"}


def missing_text(missing: tuple[str, ...] | list[str]) -> str:
    """``return tracking code`` or ``shipping tracking code and return tracking code``."""
    return " and ".join(CODE_NAMES.get(m, m) for m in missing) or "a tracking code"
