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

__all__ = ["GraphQLClient", "QueryRejected", "QueryTooCostly"]

log = logging.getLogger(__name__)


class QueryRejected(PermanentOrderError):
    """Shopify refused the document itself (unknown field, invalid variables, query too costly)."""


class QueryTooCostly(QueryRejected):
    """The query's requested cost exceeds what the shop's bucket can ever hold: it can never run as it is.

    ``maximum`` is the bucket's size: a caller that pages can retry with a smaller page."""

    def __init__(self, message: str, *, requested: float, maximum: float) -> None:
        super().__init__(message)
        self.requested = requested
        self.maximum = maximum


class GraphQLClient:
    """Runs GraphQL documents against ``/admin/api/{version}/graphql.json`` of one shop.

    Before each call its requested cost is reserved in the local :class:`CostBucket` (waiting until it fits);
    each answer settles that reservation from ``extensions.cost``. A ``THROTTLED`` answer (the model was
    wrong: another app shares the bucket) updates the model, and the call waits in it again,
    ``max_throttle_retries`` times, then :class:`RateLimited` is raised. A query whose requested cost exceeds
    the bucket's size can never run: :class:`QueryTooCostly` at once, without retrying.
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
        # Resolved against the client's base URL once: httpx would parse and join it again for every request.
        self._url = http.build_request("POST", path).url
        self._tokens = tokens
        self.bucket = bucket
        self._max_throttle_retries = max_throttle_retries
        #: THROTTLED answers received (each one was retried or raised).
        self.throttled = 0

    async def execute(
        self,
        operation: str,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        cost: float = 10.0,
        cost_key: str | None = None,
    ) -> dict[str, Any]:
        """Run ``document`` and return its ``data``; raise a classified :class:`PluginError` on failure.

        ``operation`` names the call in errors. ``cost_key`` (default: ``operation``) keys the cost estimate:
        give one per shape when variables change the cost (a page size). ``cost`` is the estimate used until
        Shopify has reported the real ``requestedQueryCost`` for that key.
        """
        key = cost_key or operation
        throttled = 0
        refused = False
        while True:
            estimate = self.bucket.estimate(key, cost)
            if self.bucket.known and key in self.bucket.last_cost and estimate > self.bucket.maximum:
                raise QueryTooCostly(
                    f"{SYSTEM}: {operation}: requested cost {estimate:g} exceeds the bucket "
                    f"({self.bucket.maximum:g} points)",
                    requested=estimate,
                    maximum=self.bucket.maximum,
                )
            call = await self.bucket.reserve(estimate)
            try:
                body = await self._post(operation, document, variables)
            except _Unauthorized:
                self.bucket.settle(call, key, None, taken_nothing=True)
                if self._tokens.refreshable and not refused:
                    refused = True
                    self._tokens.invalidate()
                    continue
                raise AuthenticationError(f"{SYSTEM}: access token refused ({operation})") from None
            except BaseException:  # failed or cancelled without an answer: it may have run
                self.bucket.settle(call, key, None)
                raise
            extensions = body.get("extensions")
            cost_info = extensions.get("cost") if isinstance(extensions, Mapping) else None
            errors = body.get("errors")
            codes = _error_codes(errors) if errors else set()
            self.bucket.settle(call, key, cost_info, taken_nothing="THROTTLED" in codes)
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise TransientError(f"{SYSTEM}: {operation}: response without data")
                return data
            if "THROTTLED" in codes:
                self.throttled += 1
                too_costly = _exceeds_bucket(cost_info)
                if too_costly is not None:
                    requested, maximum = too_costly
                    raise QueryTooCostly(
                        f"{SYSTEM}: {operation}: requested cost {requested:g} exceeds the bucket "
                        f"({maximum:g} points)",
                        requested=requested,
                        maximum=maximum,
                    )
                if throttled >= self._max_throttle_retries:
                    delay = self.bucket.throttled_delay(cost_info)
                    raise RateLimited(f"{SYSTEM}: {operation} throttled", retry_after=delay)
                throttled += 1
                log.debug("shopify %s throttled; waiting in the cost model", operation)
                if not _has_status(cost_info):  # nothing for the model to learn from: wait a while instead
                    await anyio.sleep(self.bucket.throttled_delay(cost_info))
                continue  # the answer's throttleStatus is now in the model: reserve waits as long as needed
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
                self._url,
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


def _has_status(cost: Any) -> bool:
    return isinstance(cost, Mapping) and isinstance(cost.get("throttleStatus"), Mapping)


def _exceeds_bucket(cost: Any) -> tuple[float, float] | None:
    """(requested, bucket size) when a THROTTLED answer's requested cost is more than the bucket holds."""
    if not isinstance(cost, Mapping) or not isinstance(cost.get("throttleStatus"), Mapping):
        return None
    try:
        requested = float(cost["requestedQueryCost"])
        maximum = float(cost["throttleStatus"]["maximumAvailable"])
    except (KeyError, TypeError, ValueError):
        return None
    return (requested, maximum) if requested > maximum else None


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
