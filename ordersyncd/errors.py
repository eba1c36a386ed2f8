"""Errors a plugin raises so the core knows what to do.

The plugin classifies, the core acts:

=========================  ==================================================================
error                      what the core does
=========================  ==================================================================
:class:`TransientError`    retries the step with capped exponential backoff and jitter
:class:`RateLimited`       waits ``retry_after`` seconds (Retry-After), then retries
:class:`AuthenticationError`  marks the connection down, retries at the next cycle, logs loudly
:class:`PermanentOrderError`  quarantines that one order as ``needs_attention`` with the reason
:class:`MissingCodes`      holds the shipment (nothing is sent) and raises a missing-codes alert
=========================  ==================================================================

Any other exception escaping a hook is treated as transient and logged with its type (never its
arguments, which could carry secrets), except in ``map_order``: mapping is pure, so any exception there
quarantines the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConfigProblem",
    "IllegalTransition",
    "MissingCodes",
    "PermanentOrderError",
    "PluginError",
    "RateLimited",
    "TransientError",
]


class PluginError(Exception):
    """Base of every classified plugin error. ``str(err)`` must be safe to log and show to people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(PluginError):
    """Try again later: 5xx, timeouts, connection errors, garbage bodies."""


class RateLimited(TransientError):
    """The remote API asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, float(retry_after))


class AuthenticationError(PluginError):
    """Credentials were refused. Retrying the same call will not help until someone fixes them."""


class PermanentOrderError(PluginError):
    """This order cannot be processed as it is (unknown SKU, invalid data). Quarantine it."""


class MissingCodes(PluginError):
    """A shipment lacks a tracking code the marketplace requires. ``missing`` names them.

    Names used by the core: ``"tracking_code"`` and ``"return_tracking_code"``.
    """

    def __init__(self, missing: Sequence[str], message: str = "") -> None:
        self.missing = tuple(missing)
        super().__init__(message or "missing " + ", ".join(self.missing))


class IllegalTransition(Exception):
    """An order state change the state machine does not allow (a bug, never bad input)."""


@dataclass(frozen=True)
class ConfigProblem:
    """One configuration problem: where (file and dotted key path) and why."""

    path: str
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        key = f"{self.path}: " if self.path else ""
        return f"{where}{key}{self.message}"


class ConfigError(Exception):
    """Configuration is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
