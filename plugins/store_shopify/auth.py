"""Admin API access tokens: a static token (older custom apps) or the client-credentials grant.

The client-credentials grant (``POST /admin/oauth/access_token`` with ``grant_type=client_credentials``)
answers ``{access_token, scope, expires_in}``; the token is refreshed ``refresh_margin`` seconds before it
expires, and at once when the Admin API refuses it (HTTP 401).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx

from ordersyncd.plugin import AuthenticationError, Secret, TransientError

__all__ = ["ClientCredentialsToken", "StaticToken", "TokenSource"]

SYSTEM = "shopify"


class TokenSource:
    """Where the ``X-Shopify-Access-Token`` value comes from."""

    #: Whether :meth:`invalidate` can lead to a different token (worth retrying a 401).
    refreshable = False

    async def token(self) -> Secret:
        raise NotImplementedError

    def invalidate(self) -> None:
        """Forget the current token (it was refused)."""


class StaticToken(TokenSource):
    """A never-expiring Admin API token (``shpat_…``) of an admin-created custom app."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def token(self) -> Secret:
        return self._token


class ClientCredentialsToken(TokenSource):
    """Tokens from the client-credentials grant, refreshed before they expire."""

    refreshable = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: Secret,
        refresh_margin: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin
        self._clock = clock
        self._lock = anyio.Lock()
        self._token: Secret | None = None
        self._expires_at = 0.0
        #: How many tokens were obtained (for tests and metrics).
        self.grants = 0

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - self._margin

    async def token(self) -> Secret:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:
            if not self._fresh():
                await self._grant()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    async def _grant(self) -> None:
        started = self._clock()
        try:
            response = await self._http.post(
                "/admin/oauth/access_token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret.reveal(),
                },
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException:
            raise TransientError(f"{SYSTEM}: access token request timed out") from None
        except httpx.TransportError as error:
            raise TransientError(f"{SYSTEM}: access token request failed ({type(error).__name__})") from None
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"{SYSTEM}: client credentials refused (HTTP {response.status_code}); "
                "check client_id and client_secret"
            )
        if response.status_code != 200:
            raise TransientError(f"{SYSTEM}: access token request -> HTTP {response.status_code}")
        try:
            body = response.json()
            token = body["access_token"]
            expires_in = float(body.get("expires_in") or 86400)
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"{SYSTEM}: malformed access token response") from None
        if not isinstance(token, str) or not token:
            raise TransientError(f"{SYSTEM}: access token response without a token")
        self._token = Secret(token)
        self._expires_at = started + expires_in
        self.grants += 1
