"""The simulator's ASGI application: Admin GraphQL endpoint, client-credentials grant, control API."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ordersyncd.testing import FaultInjector, Faults, RequestRecorder, TokenBucket

from .cost import CostError, actual_cost, query_cost
from .resolvers import Resolvers, resolve_field
from .schema import SCHEMA_VERSION, load_schema
from .shop import Shop, SimFulfillment, SimOrder

__all__ = ["ShopifySimulator", "ThrottleStats"]

#: Shopify's single-query cost ceiling.
MAX_QUERY_COST = 1000
_VERSION = re.compile(r"^(20\d\d-\d\d|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105


@dataclass
class ThrottleStats:
    """What the simulator's cost limiter did: answered requests, THROTTLED answers, points spent."""

    requests: int = 0
    throttled: int = 0
    points: int = 0


class ShopifySimulator:
    """An ASGI app simulating one shop's Admin GraphQL API (see :func:`create_app`).

    Control API for tests and the demo (Python): :attr:`shop` (add variants/locations, list orders,
    :meth:`fulfill`, cancel fulfillments, edit tracking), :attr:`faults`, :meth:`set_throttle`,
    :attr:`recorder`, :attr:`stats`. The same over HTTP under ``/_simulator/`` (see ``docs``).
    """

    def __init__(
        self,
        *,
        shop: Shop | None = None,
        access_tokens: Sequence[str] = ("shpat_simulator",),
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: float = 86399.0,
        bucket_size: float = 1000.0,
        restore_rate: float = 100.0,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        schema: GraphQLSchema | None = None,
    ) -> None:
        self.shop = shop or Shop()
        if not self.shop.locations:
            self.shop.add_location("Shop location")
        self.schema = schema or load_schema()
        self.resolvers = Resolvers(self.shop)
        self.static_tokens = set(access_tokens)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.clock = clock
        self.issued_tokens: dict[str, float] = {}
        self.token_grants = 0
        self._lock = threading.Lock()
        self.bucket = TokenBucket(bucket_size, restore_rate, clock=clock)
        self.stats = ThrottleStats()
        self.faults = faults or Faults(only_paths=("/admin/",))
        self.app = Starlette(
            routes=[
                Route("/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
                Route("/admin/oauth/access_token", self._access_token, methods=["POST"]),
                Route("/_simulator/orders", self._control_orders, methods=["GET"]),
                Route("/_simulator/variants", self._control_add_variant, methods=["POST"]),
                Route("/_simulator/orders/{order_id}/fulfill", self._control_fulfill, methods=["POST"]),
                Route("/_simulator/fulfillments/{fid}/cancel", self._control_cancel, methods=["POST"]),
                Route("/_simulator/fulfillments/{fid}/tracking", self._control_tracking, methods=["POST"]),
                Route("/_simulator/throttle", self._control_throttle, methods=["POST"]),
                Route("/_simulator/faults", self._control_faults, methods=["POST"]),
            ]
        )
        self.recorder = RequestRecorder(self.app)
        self._asgi = FaultInjector(self.recorder, self.faults)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)

    # ------------------------------------------------------------------------------------- control (Python)

    def set_throttle(self, bucket_size: float, restore_rate: float) -> None:
        """Replace the cost bucket (full) with one of ``bucket_size`` points restoring ``restore_rate``/s."""
        self.bucket = TokenBucket(bucket_size, restore_rate, clock=self.clock)

    def drain(self, points: float) -> None:
        """Spend ``points`` of the bucket as another app would (for throttling tests)."""
        self.bucket.take(min(points, self.bucket.available))

    def fulfill(
        self,
        order: int | str | SimOrder,
        lines: Mapping[str, int] | Sequence[tuple[str, int]] | None = None,
        *,
        tracking_numbers: Sequence[str] = (),
        company: str = "DHL",
        urls: Sequence[str] = (),
    ) -> SimFulfillment:
        """Play the merchant: fulfil an order (all remaining lines, or SKU/line gid → quantity).

        ``order`` may be the Shopify id/gid/name or the marketplace order id stamped on it.
        """
        return self.shop.fulfill(order, lines, tracking_numbers=tracking_numbers, company=company, urls=urls)

    def orders(self) -> list[SimOrder]:
        """Every order in the shop, oldest first."""
        return list(self.shop.orders.values())

    def token_valid(self, token: str) -> bool:
        if token in self.static_tokens:
            return True
        expires = self.issued_tokens.get(token)
        return expires is not None and self.clock() < expires

    # ------------------------------------------------------------------------------------- HTTP: Admin API

    async def _access_token(self, request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = None
            form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (
            self.client_id is None
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        token = "shpat_" + secrets.token_hex(16)
        with self._lock:
            self.issued_tokens[token] = self.clock() + self.token_ttl
            self.token_grants += 1
        scope = ",".join(
            (
                "write_orders",
                "read_products",
                "read_inventory",
                "read_locations",
                "read_merchant_managed_fulfillment_orders",
            )
        )
        return JSONResponse({"access_token": token, "scope": scope, "expires_in": int(self.token_ttl)})

    async def _graphql(self, request: Request) -> Response:
        version = request.path_params["version"]
        if not _VERSION.match(version):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not self.token_valid(request.headers.get("x-shopify-access-token", "")):
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        headers = {"X-Shopify-API-Version": SCHEMA_VERSION}
        try:
            body = await request.json()
            query = body["query"]
            if not isinstance(query, str):
                raise TypeError
            variables = body.get("variables") or {}
            if not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}},
                status_code=400,
                headers=headers,
            )
        answer = self.run(query, variables, body.get("operationName"))
        return JSONResponse(answer, headers=headers)

    def run(
        self, query: str, variables: Mapping[str, Any], operation_name: str | None = None
    ) -> dict[str, Any]:
        """Validate ``query`` against the schema, cost it, throttle, execute: the response body."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return {"errors": [_error(error, "syntaxError")]}
        problems = validate(self.schema, document)
        if problems:
            return {"errors": [_error(error, "GRAPHQL_VALIDATION_FAILED") for error in problems]}
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return {
                "errors": [
                    {"message": "An operation name is required", "extensions": {"code": "BAD_REQUEST"}}
                ]
            }
        try:
            cost = query_cost(self.schema, document, operation, variables)
        except (CostError, GraphQLError, ValueError, TypeError) as error:
            return {"errors": [{"message": str(error), "extensions": {"code": "BAD_REQUEST"}}]}
        if cost > MAX_QUERY_COST:
            message = (
                f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
                "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                "cost of a query is calculated.\n"
            )
            return {
                "errors": [
                    {
                        "message": message,
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 1000},
                    }
                ]
            }
        with self._lock:
            wait = self.bucket.take(cost)
            if wait > 0:
                self.stats.throttled += 1
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": self._cost(cost, None)},
                }
            self.stats.requests += 1
            self.stats.points += cost
        result = self._execute(document, variables, operation_name)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [_error(error, "INTERNAL_SERVER_ERROR") for error in result.errors]
        actual = min(cost, actual_cost(self.schema, document, operation, result.data, variables))
        with self._lock:
            self.bucket.refund(cost - actual)
            self.stats.points -= cost - actual
        answer["extensions"] = {"cost": self._cost(cost, actual)}
        return answer

    def _execute(
        self, document: DocumentNode, variables: Mapping[str, Any], operation_name: str | None
    ) -> ExecutionResult:
        result = execute(
            self.schema,
            document,
            root_value=self.resolvers.root(),
            variable_values=dict(variables),
            operation_name=operation_name,
            field_resolver=resolve_field,
        )
        assert isinstance(result, ExecutionResult)
        return result

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.bucket.size,
                "currentlyAvailable": int(self.bucket.available),
                "restoreRate": self.bucket.rate,
            },
        }

    # ------------------------------------------------------------------------------------- HTTP: control API

    async def _control_orders(self, request: Request) -> Response:
        return JSONResponse([_order_summary(order) for order in self.orders()])

    async def _control_add_variant(self, request: Request) -> Response:
        body = await request.json()
        variant = self.shop.add_variant(
            str(body.get("sku", "")),
            str(body.get("barcode", "")),
            title=str(body.get("title", "")),
            price=str(body.get("price", "10.00")),
            inventory=int(body.get("inventory", 0)),
            tracked=bool(body.get("tracked", True)),
        )
        return JSONResponse({"id": f"gid://shopify/ProductVariant/{variant.id}"}, status_code=201)

    async def _control_fulfill(self, request: Request) -> Response:
        body = await request.json()
        try:
            fulfillment = self.fulfill(
                request.path_params["order_id"],
                body.get("lines"),
                tracking_numbers=list(body.get("tracking_numbers") or ()),
                company=str(body.get("company") or "DHL"),
                urls=list(body.get("urls") or ()),
            )
        except (KeyError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        return JSONResponse({"id": f"gid://shopify/Fulfillment/{fulfillment.id}"}, status_code=201)

    async def _control_cancel(self, request: Request) -> Response:
        try:
            self.shop.cancel_fulfillment(request.path_params["fid"])
        except KeyError as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        return JSONResponse({"ok": True})

    async def _control_tracking(self, request: Request) -> Response:
        body = await request.json()
        try:
            self.shop.update_tracking(
                request.path_params["fid"],
                list(body.get("tracking_numbers") or ()),
                company=body.get("company"),
            )
        except KeyError as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        return JSONResponse({"ok": True})

    async def _control_throttle(self, request: Request) -> Response:
        body = await request.json()
        self.set_throttle(float(body["bucket_size"]), float(body["restore_rate"]))
        return JSONResponse({"ok": True})

    async def _control_faults(self, request: Request) -> Response:
        body = await request.json()
        for key in ("latency", "error_rate", "timeout_rate", "garbage_rate", "hang_seconds"):
            if key in body:
                setattr(self.faults, key, float(body[key]))
        if "fail_next" in body:
            self.faults.fail_next = int(body["fail_next"])
        return JSONResponse({"ok": True})


def _error(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    extensions.setdefault("code", code)
    formatted["extensions"] = extensions
    return formatted


def _order_summary(order: SimOrder) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{order.id}",
        "name": order.name,
        "source_identifier": order.source_identifier,
        "tags": order.tags,
        "fulfillment_status": order.display_fulfillment_status,
        "line_items": [
            {"id": f"gid://shopify/LineItem/{item.id}", "sku": item.sku, "quantity": item.quantity}
            for item in order.line_items
        ],
        "fulfillments": [
            {
                "id": f"gid://shopify/Fulfillment/{f.id}",
                "status": f.status,
                "tracking_numbers": [t.number for t in f.tracking],
            }
            for f in order.fulfillments
        ],
    }
