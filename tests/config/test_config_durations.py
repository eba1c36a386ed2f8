"""parse_duration: the forms accepted and the garbage refused."""

from __future__ import annotations

import math

import pytest

from ordersyncd.config import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("1.5h", 5400.0),
        (" 1h 30m ", 5400.0),
        ("0s", 0.0),
    ],
)
def test_accepted_forms(value: int | float | str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["", "  ", "-5", "-5s", "5x", "1h-30m", "30m1h", "1h1h", "h", "1.h", "1 hour", "1H", "abc", "1h30"],
)
def test_garbage_strings_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [-1, -0.5, math.inf, math.nan])
def test_negative_and_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="finite number of seconds"):
        parse_duration(value)


def test_booleans_are_not_durations() -> None:
    with pytest.raises(ValueError, match="boolean"):
        parse_duration(True)
