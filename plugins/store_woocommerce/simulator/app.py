"""The simulator's ASGI application: the ``wc/v3`` and Shipment Tracking routes ordersyncd uses, with
WooCommerce's authentication, pagination headers and error shapes, plus a control API under
``/_simulator/``."""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from ordersyncd.testing import FaultInjector, Faults, RequestRecorder

from .oauth import ApiKey, AuthFailure, KeyChecker
from .state import WOOCOMMERCE_VERSION, RestError, StoreState

__all__ = ["WooCommerceSimulator"]

Handler = Callable[[Request], Awaitable[Response]]
MAX_PER_PAGE = 100


def _error(error: RestError | AuthFailure) -> JSONResponse:
    if isinstance(error, AuthFailure):
        error = RestError(error.code, error.message, error.status)
    return JSONResponse(error.body(), status_code=error.status)


def _basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class WooCommerceSimulator:
    """An ASGI app simulating one WooCommerce store's REST API (see :func:`create_app`).

    Control API (Python): :attr:`state` (products, orders, tracking, :meth:`StoreState.ship`),
    :attr:`keys` (API keys, how requests authenticated), :attr:`faults`, :attr:`recorder`. Over HTTP under
    ``/_simulator/`` (``GET orders``, ``POST products``, ``POST orders/{id}/ship``, ``POST faults``).
    """

    def __init__(
        self,
        *,
        state: StoreState | None = None,
        keys: KeyChecker | None = None,
        api_prefix: str = "/wp-json",
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state or StoreState()
        self.keys = keys or KeyChecker()
        self.api_prefix = "/" + api_prefix.strip("/")
        self.clock = clock
        self.faults = faults or Faults(only_paths=(self.api_prefix,))
        p = self.api_prefix
        self.app = Starlette(
            routes=[
                Route(f"{p}/wc/v3/system_status", self._guard(self._system_status), methods=["GET"]),
                Route(f"{p}/wc/v3/products", self._guard(self._products), methods=["GET"]),
                Route(f"{p}/wc/v3/products/{{pid:int}}", self._guard(self._product), methods=["GET"]),
                Route(
                    f"{p}/wc/v3/products/{{pid:int}}/variations",
                    self._guard(self._variations),
                    methods=["GET"],
                ),
                Route(f"{p}/wc/v3/orders", self._guard(self._orders), methods=["GET", "POST"]),
                Route(f"{p}/wc/v3/orders/{{oid:int}}", self._guard(self._order), methods=["GET", "PUT"]),
                Route(
                    f"{p}/wc-shipment-tracking/v3/orders/{{oid:int}}/shipment-trackings",
                    self._guard(self._trackings),
                    methods=["GET", "POST"],
                ),
                Route(
                    f"{p}/wc-shipment-tracking/v3/orders/{{oid:int}}/shipment-trackings/{{tid}}",
                    self._guard(self._tracking),
                    methods=["GET", "DELETE"],
                ),
                Route("/_simulator/orders", self._control_orders, methods=["GET"]),
                Route("/_simulator/products", self._control_add_product, methods=["POST"]),
                Route("/_simulator/orders/{oid:int}/ship", self._control_ship, methods=["POST"]),
                Route("/_simulator/faults", self._control_faults, methods=["POST"]),
            ]
        )
        self.recorder = RequestRecorder(self._no_route(self.app))
        self._asgi = FaultInjector(self.recorder, self.faults)

    def add_key(self, consumer_key: str, consumer_secret: str, permissions: str = "read_write") -> ApiKey:
        """Register a REST API key pair (``read``, ``write`` or ``read_write``)."""
        key = ApiKey(consumer_key, consumer_secret, permissions)
        self.keys.add(key)
        return key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)

    def _no_route(self, app: Any) -> Any:
        """WordPress answers unknown REST routes with ``rest_no_route`` (404), not an HTML page."""
        prefix = self.api_prefix

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith(prefix):
                matched = any(route.matches(scope)[0] == Match.FULL for route in self.app.routes)
                if not matched:
                    body = RestError(
                        "rest_no_route", "No route was found matching the URL and request method.", 404
                    ).body()
                    response = JSONResponse(body, status_code=404)
                    await response(scope, receive, send)
                    return
            await app(scope, receive, send)

        return asgi

    # ------------------------------------------------------------------------------------- auth

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            forwarded = request.headers.get("x-forwarded-proto", "").lower()
            is_ssl = request.url.scheme == "https" or forwarded == "https"
            host = request.headers.get("host", request.url.netloc)
            base_uri = (
                f"{'https' if is_ssl else 'http'}://{host}{request.scope.get('raw_path', b'').decode()}"
            )
            base_uri = base_uri.split("?", 1)[0]
            try:
                key = self.keys.authenticate(
                    method=request.method,
                    is_ssl=is_ssl,
                    base_uri=base_uri,
                    query=dict(request.query_params),
                    basic=_basic(request.headers.get("authorization", "")),
                    authorization=request.headers.get("authorization", ""),
                    now=self.clock(),
                )
            except AuthFailure as failure:
                return _error(failure)
            if key is None:
                if request.method == "GET":
                    return _error(
                        RestError("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
                    )
                return _error(
                    RestError(
                        "woocommerce_rest_cannot_create",
                        "Sorry, you are not allowed to create resources.",
                        401,
                    )
                )
            if request.method != "GET" and key.permissions == "read":
                return _error(
                    RestError(
                        "woocommerce_rest_authentication_error",
                        "The API key provided does not have write permissions.",
                        401,
                    )
                )
            if request.method == "GET" and key.permissions == "write":
                return _error(
                    RestError(
                        "woocommerce_rest_authentication_error",
                        "The API key provided does not have read permissions.",
                        401,
                    )
                )
            try:
                return await handler(request)
            except RestError as error:
                return _error(error)

        return guarded

    # ------------------------------------------------------------------------------------- routes

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        params = request.query_params
        try:
            per_page = int(params.get("per_page", "10"))
            page = int(params.get("page", "1"))
        except ValueError:
            raise RestError("rest_invalid_param", "Invalid parameter(s): per_page", params={}) from None
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise RestError(
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        if page < 1:
            raise RestError("rest_invalid_param", "Invalid parameter(s): page", params={"page": "page"})
        total = len(items)
        pages = math.ceil(total / per_page)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        oauth = [key for key in params if key.startswith("oauth_")]
        base = request.url.remove_query_params(oauth)
        if page > 1:
            links.append(f'<{base.include_query_params(page=page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{base.include_query_params(page=page + 1)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse(chunk, headers=headers)

    async def _system_status(self, request: Request) -> Response:
        return JSONResponse(
            {
                "environment": {"version": WOOCOMMERCE_VERSION, "site_url": str(request.base_url)},
                "settings": {"currency": "EUR"},
            }
        )

    async def _products(self, request: Request) -> Response:
        return self._paged(request, self.state.list_products(dict(request.query_params)))

    async def _product(self, request: Request) -> Response:
        return JSONResponse(self.state.get_product(request.path_params["pid"]))

    async def _variations(self, request: Request) -> Response:
        found = self.state.list_variations(request.path_params["pid"], dict(request.query_params))
        return self._paged(request, found)

    async def _json_body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400) from None
        if not isinstance(body, dict):
            raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400)
        return body

    async def _orders(self, request: Request) -> Response:
        if request.method == "POST":
            created = self.state.create_order(await self._json_body(request))
            return JSONResponse(created, status_code=201)
        return self._paged(request, self.state.list_orders(dict(request.query_params)))

    async def _order(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        if request.method == "PUT":
            return JSONResponse(self.state.update_order(oid, await self._json_body(request)))
        return JSONResponse(self.state.order_json(oid))

    async def _trackings(self, request: Request) -> Response:
        oid = request.path_params["oid"]
        if request.method == "POST":
            body = await self._json_body(request)
            item = self.state.add_tracking(
                oid,
                str(body.get("tracking_number") or ""),
                str(body.get("tracking_provider") or body.get("custom_tracking_provider") or ""),
                str(body.get("custom_tracking_link") or ""),
                str(body.get("date_shipped") or ""),
            )
            return JSONResponse(item, status_code=201)
        return JSONResponse(self.state.list_tracking(oid))

    async def _tracking(self, request: Request) -> Response:
        oid, tid = request.path_params["oid"], request.path_params["tid"]
        if request.method == "DELETE":
            self.state.delete_tracking(oid, tid)
            return JSONResponse({"message": "Tracking deleted"})
        for item in self.state.list_tracking(oid):
            if item["tracking_id"] == tid:
                return JSONResponse(item)
        raise RestError("woocommerce_rest_invalid_tracking_id", "Invalid tracking ID.", 404)

    # ------------------------------------------------------------------------------------- control API

    async def _control_orders(self, request: Request) -> Response:
        with self.state.lock:
            ids = list(self.state.orders)
        return JSONResponse([self.state.order_json(i) for i in ids])

    async def _control_add_product(self, request: Request) -> Response:
        body = await request.json()
        product = self.state.add_product(
            str(body.get("sku", "")),
            ean=str(body.get("ean", "")),
            stock=int(body.get("stock", 10)),
            price=str(body.get("price", "10.00")),
        )
        return JSONResponse({"id": product.id}, status_code=201)

    async def _control_ship(self, request: Request) -> Response:
        body = await request.json()
        tracking = [(str(t.get("provider", "DHL")), str(t["number"])) for t in body.get("tracking") or ()]
        try:
            order = self.state.ship(
                request.path_params["oid"], tracking, status=body.get("status", "completed")
            )
        except RestError as error:
            return _error(error)
        return JSONResponse(order)

    async def _control_faults(self, request: Request) -> Response:
        body = await request.json()
        for key in (
            "latency",
            "response_latency",
            "error_rate",
            "timeout_rate",
            "garbage_rate",
            "hang_seconds",
        ):
            if key in body:
                setattr(self.faults, key, float(body[key]))
        if "fail_next" in body:
            self.faults.fail_next = int(body["fail_next"])
        return JSONResponse({"ok": True})
