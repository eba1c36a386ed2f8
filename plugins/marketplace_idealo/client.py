"""HTTP access to idealo: OAuth2 client-credentials tokens (with the ``shop_id`` they name), integration
headers, 401 renewal, 429 waits and error classification. Used for the order API and the offers API alike."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx
import structlog

from ordersyncd.plugin import (
    AuthenticationError,
    CachedToken,
    PluginError,
    RateLimited,
    Secret,
    TokenCache,
    TransientError,
    classify_http_error,
    retry_after_seconds,
)

__all__ = ["IdealoClient", "TokenCache", "classify", "error_reason", "token_cache"]

log = structlog.get_logger("ordersyncd.plugins.idealo")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

#: Used when a token response has no usable ``expires_in`` (idealo tokens live about an hour).
DEFAULT_LIFETIME = 3600.0


#: The process-wide token cache.
token_cache = TokenCache(max_early=60.0)


class IdealoClient:
    """Authenticated requests to one idealo API over the ``httpx.AsyncClient`` the core provides.

    ``token_url`` is the OAuth2 token endpoint (relative to the client's base URL or absolute). The token
    response's ``shop_id`` is available as :meth:`shop_id`. A 401 drops the cached token and retries once
    with a new one. A 429 waits ``Retry-After`` seconds (1 s when absent) and retries while the total wait
    stays within ``max_rate_limit_wait``; beyond that :class:`RateLimited` goes to the core. Other failures:
    401/403 → :class:`AuthenticationError`; 408, 5xx, transport errors and garbage →
    :class:`TransientError`; other 4xx → :class:`PermanentOrderError` unless the caller takes the status
    through ``expect``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        system: str,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        headers: Mapping[str, str],
        max_rate_limit_wait: float,
        sleep: Sleep = anyio.sleep,
        clock: Clock = time.monotonic,
        cache: TokenCache = token_cache,
    ) -> None:
        self.http = http
        self.system = system
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._headers = dict(headers)
        self._key = (client_id, str(http.base_url.join(token_url)))
        self._max_wait = max_rate_limit_wait
        self.sleep = sleep
        self.clock = clock
        self._cache = cache

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------------------------------ tokens

    async def _token(self) -> CachedToken:
        cached = self._cache.get(self._key, self.clock())
        if cached:
            return cached
        async with self._cache.lock(self._key):
            cached = self._cache.get(self._key, self.clock())
            if cached:
                return cached
            value, shop_id, expires_in = await self._request_token()
            return self._cache.put(self._key, value, expires_in, self.clock(), shop_id=shop_id)

    async def shop_id(self) -> str:
        """The shop id the credentials act for (from the token response)."""
        return (await self._token()).extra["shop_id"]

    async def _request_token(self) -> tuple[str, str, float]:
        waited = 0.0
        while True:
            try:
                response = await self.http.post(
                    self._token_url,
                    data={"grant_type": "client_credentials"},
                    auth=httpx.BasicAuth(self._client_id, self._secret.reveal()),
                    headers={**self._headers, "Accept": "application/json"},
                )
            except httpx.HTTPError as error:
                raise TransientError(
                    f"{self.system}: token request failed ({type(error).__name__})"
                ) from None
            log.debug("idealo token request", system=self.system, status=response.status_code)
            if response.status_code == 429:
                waited = await self._wait_rate_limit(response, waited)
                continue
            if response.status_code in (400, 401, 403):
                raise AuthenticationError(
                    f"{self.system}: the client id {self._client_id!r} and its secret were refused "
                    f"(HTTP {response.status_code}{_detail(response)})"
                )
            if response.status_code != 200:
                raise self._classify(response)
            body = self.decode(response)
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise TransientError(f"{self.system}: token response without access_token")
            shop = body.get("shop_id")
            if not isinstance(shop, str | int) or isinstance(shop, bool) or not str(shop):
                raise AuthenticationError(f"{self.system}: the token response names no shop_id")
            expires = body.get("expires_in", DEFAULT_LIFETIME)
            lifetime = (
                float(expires) if isinstance(expires, int | float) and expires > 0 else DEFAULT_LIFETIME
            )
            return token, str(shop), lifetime

    # ------------------------------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        expect: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; return the response when 2xx or its status is in ``expect``, else raise.

        ``path`` may contain ``{shop_id}``, filled in from the token.
        """
        waited = 0.0
        renewed = False
        while True:
            token = await self._token()
            url = path.replace("{shop_id}", token.extra["shop_id"])
            headers = {
                **self._headers,
                "Authorization": f"Bearer {token.value}",
                "Accept": "application/json",
            }
            content = None
            if json_body is not None:
                headers["Content-Type"] = "application/json; charset=UTF-8"
                content = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            try:
                response = await self.http.request(
                    method, url, params=params, headers=headers, content=content
                )
            except httpx.HTTPError as error:
                log.info("idealo request failed", method=method, path=url, error=type(error).__name__)
                raise TransientError(
                    f"{self.system}: {method} {url} failed ({type(error).__name__})"
                ) from None
            status = response.status_code
            log.debug("idealo request", method=method, path=url, status=status)
            if status == 401 and not renewed:
                self._cache.drop(self._key, token.value)
                renewed = True
                continue
            if status == 429:
                waited = await self._wait_rate_limit(response, waited)
                continue
            if 200 <= status < 300 or status in expect:
                return response
            raise self._classify(response)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like :meth:`request` and return the decoded JSON body (garbage → :class:`TransientError`)."""
        return self.decode(await self.request(method, path, **kwargs))

    async def _wait_rate_limit(self, response: httpx.Response, waited: float) -> float:
        delay = retry_after_seconds(response)
        if waited + delay > self._max_wait:
            raise RateLimited(
                f"{self.system}: {response.request.method} {response.request.url.path} throttled (HTTP 429)",
                retry_after=delay,
            )
        log.info("idealo rate limited", path=response.request.url.path, retry_after=delay)
        await self.sleep(delay)
        return waited + max(delay, 0.001)

    def decode(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"{self.system}: {response.request.method} {response.request.url.path} returned a body "
                f"that is not JSON (HTTP {response.status_code})"
            ) from None

    def _classify(self, response: httpx.Response) -> PluginError:
        return classify(response, self.system)


def classify(response: httpx.Response, system: str) -> PluginError:
    """The classified error for an unsuccessful response, with the reason idealo gave."""
    return classify_http_error(response, system, detail=_detail(response))


def error_reason(response: httpx.Response) -> str:
    """The machine-readable ``reason`` of an idealo problem body (refund errors), else ``""``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""


def _detail(response: httpx.Response) -> str:
    """A short reason from a problem, field-error or OAuth error body (never the request)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ("title", "reason", "error", "error_description"):
        value = body.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    for item in body.get("fieldErrors") or []:
        if isinstance(item, dict):
            parts.append(f"{item.get('field')}: {item.get('message')}")
    for item in body.get("generalErrors") or []:
        if isinstance(item, str):
            parts.append(item)
    text = "; ".join(parts)[:300]
    return f": {text}" if text else ""
