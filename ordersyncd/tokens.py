"""A cache of OAuth2 access tokens for plugins (re-exported by :mod:`ordersyncd.plugin`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

__all__ = ["CachedToken", "TokenCache"]


@dataclass(frozen=True)
class CachedToken:
    """An access token, when to renew it, and what else the token response said (e.g. idealo's shop id)."""

    value: str
    renew_at: float
    extra: Mapping[str, str] = field(default_factory=dict)


class TokenCache:
    """Access tokens per key (typically client id and token URL), shared by every instance in the process.

    A token is renewed before ``expires_in`` runs out: ``max_early`` seconds early, or after 90 % of its life
    when that is shorter. :meth:`lock` serializes fetching a new token, so concurrent requests fetch one.
    """

    def __init__(self, max_early: float = 300.0) -> None:
        self.max_early = max_early
        self._tokens: dict[tuple[str, ...], CachedToken] = {}
        self._locks: dict[tuple[str, ...], anyio.Lock] = {}

    def lock(self, key: tuple[str, ...]) -> anyio.Lock:
        return self._locks.setdefault(key, anyio.Lock())

    def get(self, key: tuple[str, ...], now: float) -> CachedToken | None:
        """The cached token, or ``None`` when there is none or it is due for renewal (``now`` on the clock
        used for :meth:`put`)."""
        token = self._tokens.get(key)
        if token is None or now >= token.renew_at:
            return None
        return token

    def put(
        self, key: tuple[str, ...], value: str, expires_in: float, now: float, **extra: str
    ) -> CachedToken:
        margin = min(self.max_early, expires_in * 0.1)
        token = CachedToken(value, renew_at=now + max(0.0, expires_in - margin), extra=dict(extra))
        self._tokens[key] = token
        return token

    def drop(self, key: tuple[str, ...], value: str | None = None) -> None:
        """Forget the token (only if it is still ``value``, when given: another request may have renewed it)."""
        token = self._tokens.get(key)
        if token is not None and (value is None or token.value == value):
            del self._tokens[key]

    def clear(self) -> None:
        self._tokens.clear()
