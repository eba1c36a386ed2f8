"""HTTP access to zDirect: OAuth2 client-credentials tokens, ``X-Flow-Id``, pacing of the documented quotas, 429
handling, error classes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx
import structlog

from ordersyncd.plugin import (
    AuthenticationError,
    PluginError,
    RateLimited,
    Secret,
    TokenCache,
    TransientError,
    classify_http_error,
    retry_after_seconds,
)

from .quota import QuotaRegistry, SlidingWindow, quota_of, quota_registry

__all__ = ["JSONAPI", "TokenCache", "ZDirectClient", "token_cache"]

log = structlog.get_logger("ordersyncd.plugins.zalando")

JSONAPI = "application/vnd.api+json"
SYSTEM = "zalando"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


#: The process-wide token cache.
token_cache = TokenCache(max_early=300.0)


class ZDirectClient:
    """Authenticated zDirect requests over the ``httpx.AsyncClient`` the core provides.

    Every request carries a fresh ``X-Flow-Id`` (logged with the outcome). A 401 drops the cached token and
    retries once with a new one. Requests of a paced quota (``quotas``: requests per minute by
    :func:`.quota.quota_of` name) first wait for a slot in the account's sliding window (shared through
    ``registry`` by every client of the same client id and base URL). A 429 waits ``Retry-After`` seconds and
    retries while the total wait (pacing included) stays within ``max_rate_limit_wait``; beyond that
    :class:`RateLimited` goes to the core. A 429 announcing (``X-Rate-Limit``) a smaller quota than configured
    lowers the pacing to it. Other failures are classified: 401/403 → :class:`AuthenticationError`; 408, 5xx,
    transport errors and garbage → :class:`TransientError`; other 4xx → :class:`PermanentOrderError` (callers
    may take specific statuses through ``expect``).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: Secret,
        base_url: str,
        max_rate_limit_wait: float,
        sleep: Sleep = anyio.sleep,
        clock: Clock = time.monotonic,
        cache: TokenCache = token_cache,
        quotas: Mapping[str, int] | None = None,
        registry: QuotaRegistry = quota_registry,
    ) -> None:
        self.http = http
        self._client_id = client_id
        self._secret = client_secret
        self._key = (client_id, base_url)
        self._max_wait = max_rate_limit_wait
        self.sleep = sleep
        self.clock = clock
        self._cache = cache
        #: Until when (clock) every request of this account waits after a 429 (one quota, shared).
        self._paused_until = 0.0
        #: The URLs of list paths, resolved against the base URL once (httpx would parse and join them again).
        self._list_urls: dict[str, httpx.URL] = {}
        #: The account's sliding windows by paced quota.
        self.windows: dict[str, SlidingWindow] = {
            quota: registry.window(self._key, quota, limit) for quota, limit in (quotas or {}).items()
        }

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------------------------------ tokens

    async def token(self) -> str:
        """A valid access token, from the cache or freshly requested."""
        cached = self._cache.get(self._key, self.clock())
        if cached:
            return cached.value
        async with self._cache.lock(self._key):
            cached = self._cache.get(self._key, self.clock())
            if cached:
                return cached.value
            value, expires_in = await self._request_token()
            return self._cache.put(self._key, value, expires_in, self.clock()).value

    async def _request_token(self) -> tuple[str, float]:
        waited = 0.0
        while True:
            flow_id = str(uuid.uuid4())
            try:
                response = await self.http.post(
                    "/auth/token",
                    data={"grant_type": "client_credentials"},
                    auth=httpx.BasicAuth(self._client_id, self._secret.reveal()),
                    headers={"X-Flow-Id": flow_id, "Accept": "application/json"},
                )
            except httpx.HTTPError as error:
                raise TransientError(f"{SYSTEM}: token request failed ({type(error).__name__})") from None
            log.debug(
                "zalando request",
                method="POST",
                path="/auth/token",
                status=response.status_code,
                flow_id=flow_id,
            )
            if response.status_code == 429:
                waited = await self._wait_rate_limit(response, waited)
                continue
            if response.status_code in (400, 401, 403):
                raise AuthenticationError(
                    f"{SYSTEM}: the zDirect client id {self._client_id!r} and its secret were refused "
                    f"(HTTP {response.status_code}, flow id {flow_id})"
                )
            if response.status_code != 200:
                raise self._classify(response, flow_id)
            body = self._json(response, flow_id)
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise TransientError(f"{SYSTEM}: token response without access_token (flow id {flow_id})")
            expires = body.get("expires_in", 7200)
            return token, float(expires) if isinstance(expires, int | float) else 7200.0

    # ------------------------------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content_type: str = JSONAPI,
        accept: str = JSONAPI,
        expect: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; return the response when 2xx or its status is in ``expect``, else raise."""
        quota = quota_of(method, path, params)
        window = self.windows.get(quota) if quota is not None else None
        body = None if json_body is None else _dumps(json_body)
        waited = 0.0
        renewed = False
        while True:
            pause = self._paused_until - self.clock()
            if pause > 0:
                # Another request of this account was told to slow down: wait with it instead of provoking
                # another 429 (they all share one quota).
                await self.sleep(pause)
                waited += pause
            if window is None:
                token, response = await self._send(method, path, params, body, content_type, accept)
            else:
                waited += await window.acquire(self.clock, self.sleep, self._max_wait - waited)
                try:
                    token, response = await self._send(method, path, params, body, content_type, accept)
                finally:
                    window.release(self.clock())
            status = response.status_code
            if status == 401 and not renewed:
                self._cache.drop(self._key, token)
                renewed = True
                continue
            if status == 429:
                if window is not None:
                    self._announced(window, quota, response)
                waited = await self._wait_rate_limit(response, waited)
                continue
            if 200 <= status < 300 or status in expect:
                return response
            raise self._classify(response, response.request.headers.get("X-Flow-Id", ""))

    def _list_url(self, path: str) -> httpx.URL:
        if len(self._list_urls) >= 32:  # a handful per merchant; bounded all the same
            self._list_urls.clear()
        url = self._list_urls[path] = self.http.build_request("GET", path).url
        return url

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str,
        accept: str,
    ) -> tuple[str, httpx.Response]:
        """One authenticated exchange; returns the token used and the response."""
        token = await self.token()
        flow_id = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {token}", "X-Flow-Id": flow_id, "Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        target: str | httpx.URL = path
        if params is not None:  # the polled lists: the same few paths again and again
            target = self._list_urls.get(path) or self._list_url(path)
        try:
            response = await self.http.request(method, target, params=params, headers=headers, content=body)
        except httpx.HTTPError as error:
            log.info(
                "zalando request failed",
                method=method,
                path=path,
                flow_id=flow_id,
                error=type(error).__name__,
            )
            raise TransientError(
                f"{SYSTEM}: {method} {path} failed ({type(error).__name__}, flow id {flow_id})"
            ) from None
        log.debug("zalando request", method=method, path=path, status=response.status_code, flow_id=flow_id)
        return token, response

    @staticmethod
    def _announced(window: SlidingWindow, quota: str | None, response: httpx.Response) -> None:
        """Pace to the quota a 429 announces when it is lower than the configured one."""
        try:
            limit = int(response.headers.get("X-Rate-Limit", ""))
        except ValueError:
            return
        if window.announce(limit):
            log.warning(
                "zalando quota lower than configured; pacing to the limit the API announced",
                quota=quota,
                limit=limit,
            )

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like :meth:`request` and return the decoded JSON body (garbage → :class:`TransientError`)."""
        response = await self.request(method, path, **kwargs)
        return self._json(response, response.request.headers.get("X-Flow-Id", ""))

    async def _wait_rate_limit(self, response: httpx.Response, waited: float) -> float:
        delay = retry_after_seconds(response)
        if waited + delay > self._max_wait:
            raise RateLimited(
                f"{SYSTEM}: {response.request.method} {response.request.url.path} throttled (HTTP 429, "
                f"limit {response.headers.get('X-Rate-Limit', '?')}/min)",
                retry_after=delay,
            )
        log.info("zalando rate limited", path=response.request.url.path, retry_after=delay)
        self._paused_until = max(self._paused_until, self.clock() + delay)
        await self.sleep(delay)
        return waited + max(delay, 0.001)

    @staticmethod
    def _json(response: httpx.Response, flow_id: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"{SYSTEM}: {response.request.method} {response.request.url.path} returned a body that is "
                f"not JSON (HTTP {response.status_code}, flow id {flow_id})"
            ) from None

    @staticmethod
    def _classify(response: httpx.Response, flow_id: str) -> PluginError:
        return classify_http_error(response, SYSTEM, detail=f"{_detail(response)} (flow id {flow_id})")


def _detail(response: httpx.Response) -> str:
    """A short reason from a JSON:API or problem+json error body (never the request)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        text = errors[0].get("detail") or errors[0].get("title") or ""
    else:
        text = body.get("detail") or body.get("title") or body.get("message") or ""
    return f": {str(text)[:200]}" if text else ""


def _dumps(body: Any) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()
