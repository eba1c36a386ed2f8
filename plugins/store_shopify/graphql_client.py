"""The Admin GraphQL transport: authentication, cost-based throttling, error classification."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from ordersyncd.plugin import (
    AuthenticationError,
    PermanentOrderError,
    PluginError,
    RateLimited,
    TransientError,
    classify_http_error,
)

from .auth import SYSTEM, TokenSource
from .throttle import CostBucket

__all__ = ["GraphQLClient", "QueryRejected"]

log = logging.getLogger(__name__)


class QueryRejected(PermanentOrderError):
    """Shopify refused the document itself (unknown field, invalid variables, query too costly)."""


class GraphQLClient:
    """Runs GraphQL documents against ``/admin/api/{version}/graphql.json`` of one shop.

    Before each call the estimated cost is reserved in the local :class:`CostBucket` (waiting if needed);
    after each call the bucket is updated from ``extensions.cost``. A ``THROTTLED`` answer is retried after
    the time the bucket needs, ``max_throttle_retries`` times, then raised as :class:`RateLimited`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        path: str,
        tokens: TokenSource,
        bucket: CostBucket,
        max_throttle_retries: int = 8,
    ) -> None:
        self._http = http
        self._path = path
        self._tokens = tokens
        self.bucket = bucket
        self._max_throttle_retries = max_throttle_retries
        #: THROTTLED answers received (each one was retried or raised).
        self.throttled = 0

    async def execute(
        self, operation: str, document: str, variables: Mapping[str, Any] | None = None, *, cost: float = 10.0
    ) -> dict[str, Any]:
        """Run ``document`` and return its ``data``; raise a classified :class:`PluginError` on failure.

        ``operation`` names the call in errors and keys the cost estimate; ``cost`` is the estimate used
        until Shopify has reported the real ``requestedQueryCost`` of this operation.
        """
        throttled = 0
        refused = False
        while True:
            reserved = await self.bucket.reserve(self.bucket.estimate(operation, cost))
            try:
                body = await self._post(operation, document, variables)
            except _Unauthorized:
                if self._tokens.refreshable and not refused:
                    refused = True
                    self._tokens.invalidate()
                    continue
                raise AuthenticationError(f"{SYSTEM}: access token refused ({operation})") from None
            finally:
                self.bucket.request_done(reserved)
            extensions = body.get("extensions")
            cost_info = extensions.get("cost") if isinstance(extensions, Mapping) else None
            self.bucket.update(operation, cost_info)
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise TransientError(f"{SYSTEM}: {operation}: response without data")
                return data
            codes = _error_codes(errors)
            if "THROTTLED" in codes:
                self.throttled += 1
                delay = self.bucket.throttled_delay(cost_info)
                if throttled >= self._max_throttle_retries:
                    raise RateLimited(f"{SYSTEM}: {operation} throttled", retry_after=delay)
                throttled += 1
                log.debug("shopify %s throttled, waiting %.2fs", operation, delay)
                await anyio.sleep(delay)
                continue
            raise _classify(operation, codes, errors)

    async def _post(
        self, operation: str, document: str, variables: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        token = await self._tokens.token()
        payload: dict[str, Any] = {"query": document}
        if variables is not None:
            payload["variables"] = dict(variables)
        try:
            response = await self._http.post(
                self._path,
                json=payload,
                headers={"X-Shopify-Access-Token": token.reveal(), "Accept": "application/json"},
            )
        except httpx.TimeoutException:
            raise TransientError(f"{SYSTEM}: {operation} timed out") from None
        except httpx.TransportError as error:
            raise TransientError(f"{SYSTEM}: {operation} failed ({type(error).__name__})") from None
        if response.status_code == 401:
            raise _Unauthorized
        if response.status_code != 200:
            raise classify_http_error(response, SYSTEM)
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"{SYSTEM}: {operation}: malformed response body") from None
        if not isinstance(body, dict):
            raise TransientError(f"{SYSTEM}: {operation}: malformed response body")
        return body


class _Unauthorized(Exception):
    pass


def _error_codes(errors: Any) -> set[str]:
    codes: set[str] = set()
    if isinstance(errors, list):
        for error in errors:
            extensions = error.get("extensions") if isinstance(error, Mapping) else None
            code = extensions.get("code") if isinstance(extensions, Mapping) else None
            if isinstance(code, str):
                codes.add(code)
    return codes


def _first_message(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return str(errors[0].get("message", ""))[:300]
    return str(errors)[:300]


def _classify(operation: str, codes: set[str], errors: Any) -> PluginError:
    message = f"{SYSTEM}: {operation}: {_first_message(errors)}"
    if codes & {"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"}:
        return AuthenticationError(message)
    if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}:
        return TransientError(message)
    return QueryRejected(message)
