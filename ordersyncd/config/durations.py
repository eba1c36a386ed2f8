"""Duration values in configuration: ``90``, ``1.5``, ``"90s"``, ``"2m"``, ``"1h30m"``, ``"1d"``."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration"]

_UNIT_SECONDS: dict[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_UNIT_ORDER = "dhms"
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_COMPONENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*")
_HINT = 'use seconds (90, 1.5) or a string such as "90s", "2m", "1h30m", "1d"'


def parse_duration(value: int | float | str) -> float:
    """Return the duration ``value`` in seconds.

    Numbers are seconds. Strings are either a plain number of seconds or one or more components
    ``<number><unit>`` with unit ``d`` (days), ``h`` (hours), ``m`` (minutes) or ``s`` (seconds), largest unit
    first, each unit at most once, e.g. ``"1h30m"`` or ``"1.5h"``. Raises :class:`ValueError` on negative,
    non-finite or malformed values (booleans included).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got a boolean ({_HINT})")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds, 0 or more")
        return seconds
    if not isinstance(value, str):
        raise ValueError(f"expected a duration, got {type(value).__name__} ({_HINT})")
    text = value.strip()
    if _NUMBER.match(text):
        return float(text)
    total = _parse_components(text)
    if total is None:
        raise ValueError(f"invalid duration {value!r} ({_HINT})")
    return total


def _parse_components(text: str) -> float | None:
    """Sum the ``<number><unit>`` components of ``text``; ``None`` when it is not such a sequence."""
    if not text:
        return None
    total = 0.0
    position = 0
    last_rank = -1
    while position < len(text):
        match = _COMPONENT.match(text, position)
        if match is None:
            return None
        number, unit = match.groups()
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:  # units must go from large to small, each once
            return None
        last_rank = rank
        total += float(number) * _UNIT_SECONDS[unit]
        position = match.end()
    return total
