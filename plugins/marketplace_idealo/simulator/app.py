"""Starlette routes of the idealo simulator: the Merchant Order API v2 and the PWS 2.0 offer endpoints."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import CARRIERS, REASONS, SimOrder, SimRefund, SimulatorState, render_refund

__all__ = ["build_routes"]

_LIST_PARAMS = {"status", "acknowledged", "from", "to", "pageNumber", "pageSize"}
_STATUSES = {"PROCESSING", "COMPLETED", "REVOKING", "REVOKED", "PARTIALLY_REVOKED"}
_RAW_FORBIDDEN = re.compile(rb"%2[fF]|%25|;|\\|%5[cC]|%3[bB]")
_OFFER_INTS = {"checkoutLimitPerPeriod", "quantityPerOrder", "maxOrderProcessingTime", "packagingUnit"}
_OFFER_MONEY = {"price", "basePrice", "minimumPrice", "twoManHandlingFee", "disposalFee"}
_FULFILLMENT_TYPES = {"PARCEL_SERVICE", "FREIGHT_FORWARDER", "LETTER", "DOWNLOAD"}
_REFUND_WINDOW_DAYS = 60

Handler = Callable[[Request], Awaitable[Response]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def problem(status: int, title: str, instance: str, **extra: Any) -> Response:
    """An RFC-7807-style error as idealo sends them."""
    return _json(
        {"type": "about:blank", "title": title, "status": status, "instance": instance, **extra}, status
    )


def field_error(instance: str, field: str, message: str, status: int = 400) -> Response:
    return problem(status, "Bad Request", instance, fieldErrors=[{"field": field, "message": message}])


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return ...


class PathRules:
    """ASGI wrapper enforcing the PWS URL rules on offer paths (no encoded slash or percent, no ``;``,
    ``\\`` or control characters): 400 before routing, as the raw path is lost once decoded."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw: bytes = scope.get("raw_path") or scope.get("path", "").encode()
        if (
            scope["type"] == "http"
            and raw.startswith(b"/shop/")
            and (_RAW_FORBIDDEN.search(raw) or any(b < 0x20 or b == 0x7F for b in raw))
        ):
            response = _json({"generalErrors": ["the path contains characters that are not allowed"]}, 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_routes(sim: SimulatorState) -> PathRules:
    """The ASGI app answering the idealo paths from ``sim``."""

    # ------------------------------------------------------------------------------------------ auth

    def token_endpoint(api: str) -> Handler:
        async def token(request: Request) -> Response:
            form = parse_qs((await request.body()).decode(errors="replace"))
            client_id = secret = ""
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    client_id = ""
            if form.get("grant_type", ["client_credentials"]) != ["client_credentials"]:
                return _json({"error": "unsupported_grant_type"}, 400)
            known = sim.clients.get(client_id)
            if known is None or known[0] != secret or known[1] != api:
                return _json({"error": "invalid_client", "error_description": "Bad credentials"}, 401)
            return _json(
                {
                    "access_token": sim.issue_token(client_id),
                    "token_type": "bearer",
                    "expires_in": sim.token_lifetime,
                    "scope": "ORDER_READ ORDER_WRITE" if api == "orders" else "OFFER_WRITE",
                    "shop_id": int(known[2]),
                }
            )

        return token

    def guarded(api: str, handler: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("Authorization", "")
            granted = sim.token_api(auth[7:]) if auth.startswith("Bearer ") else None
            if granted is None or granted[0] != api:
                return _json(
                    {"error": "invalid_token", "error_description": "Access token expired or invalid"}, 401
                )
            if request.path_params.get("shop_id") != granted[1]:
                return problem(403, "Forbidden", request.url.path)
            wait = sim.take_throttle()
            if wait is not None:
                body = {"type": "about:blank", "title": "Too Many Requests", "status": 429}
                return _json(body, 429, {"Retry-After": str(wait)})
            return await handler(request)

        return endpoint

    def find(request: Request) -> SimOrder | Response:
        order = sim.orders.get(request.path_params["order_id"])
        if order is None:
            return problem(404, "Not Found", request.url.path, detail="unknown idealoOrderId")
        return order

    # ------------------------------------------------------------------------------------------ orders

    async def new_orders(request: Request) -> Response:
        return _json([order.render() for order in sim.take_new_orders()])

    async def list_orders(request: Request) -> Response:
        query = request.query_params
        path = request.url.path
        for name in query:
            if name not in _LIST_PARAMS:
                return field_error(path, name, "unknown parameter")
        statuses = {s for s in query.get("status", "").split(",") if s}
        if statuses - _STATUSES:
            return field_error(path, "status", f"unknown status {sorted(statuses - _STATUSES)[0]}")
        acknowledged = query.get("acknowledged")
        if acknowledged not in (None, "true", "false", "0", "1"):
            return field_error(path, "acknowledged", "must be true or false")
        bounds: dict[str, datetime] = {}
        for name in ("from", "to"):
            if name in query:
                try:
                    bounds[name] = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
                except ValueError:
                    return field_error(path, name, "must be an ISO-8601 timestamp")
                if bounds[name].tzinfo is None:
                    return field_error(path, name, "needs a zone (Z)")
        try:
            number, size = int(query.get("pageNumber", "0")), int(query.get("pageSize", "20"))
        except ValueError:
            return field_error(path, "pageNumber", "must be a number")
        if number < 0 or not 1 <= size <= 1000:
            return field_error(path, "pageSize", "pageNumber >= 0 and 1 <= pageSize <= 1000")
        with sim.lock:
            found = [
                o
                for o in sorted(sim.orders.values(), key=lambda o: (o.created, o.order_id))
                if (not statuses or o.status in statuses)
                and (acknowledged is None or o.acknowledged == (acknowledged in ("true", "1")))
                and ("from" not in bounds or o.updated >= bounds["from"])
                and ("to" not in bounds or o.updated <= bounds["to"])
            ]
            page = [o.render() for o in found[number * size : (number + 1) * size]]
        pages = (len(found) + size - 1) // size
        return _json({"content": page, "totalElements": len(found), "totalPages": pages})

    async def get_order(request: Request) -> Response:
        found = find(request)
        return found if isinstance(found, Response) else _json(found.render())

    async def merchant_order_number(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        body = await _body(request)
        number = body.get("merchantOrderNumber") if isinstance(body, dict) else None
        if not isinstance(number, str) or not number.strip() or len(number) > 100:
            return field_error(
                request.url.path, "merchantOrderNumber", "must be a string of 1 to 100 characters"
            )
        with sim.lock:
            if found.merchant_order_number and found.merchant_order_number != number:
                return problem(409, "Conflict", request.url.path, detail="merchant order number already set")
            found.merchant_order_number = number
            sim.touch(found)
        return Response(status_code=204)

    async def fulfillment(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        body = await _body(request)
        path = request.url.path
        if not isinstance(body, dict) or set(body) - {"carrier", "trackingCode"}:
            return field_error(path, "body", "expected {carrier, trackingCode}")
        carrier, codes = body.get("carrier"), body.get("trackingCode") or []
        if carrier is not None and carrier not in CARRIERS:
            return field_error(path, "carrier", f"unknown carrier {carrier!r}")
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
            return field_error(path, "trackingCode", "must be an array of tracking codes")
        with sim.lock:
            if found.status not in ("PROCESSING", "COMPLETED", "PARTIALLY_REVOKED"):
                return problem(409, "Conflict", path, detail=f"order is {found.status}")
            for code in codes:
                found.tracking.append({"code": code, "carrier": carrier or ""})
            found.status = "COMPLETED"
            sim.touch(found)
        return Response(status_code=201)

    async def revocations(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        body = await _body(request)
        path = request.url.path
        if not isinstance(body, dict):
            return field_error(path, "body", "expected a JSON object")
        sku, reason = body.get("sku"), body.get("reason")
        remaining, comment = body.get("remainingQuantity", 0), body.get("comment", "")
        if reason not in REASONS:
            return field_error(path, "reason", "must be CUSTOMER_REVOKE, MERCHANT_DECLINE or RETOUR")
        if not isinstance(comment, str) or len(comment) > 255:
            return field_error(path, "comment", "at most 255 characters")
        with sim.lock:
            line = found.line(sku) if isinstance(sku, str) else None
            if line is None:
                return field_error(path, "sku", "not part of this order")
            if (
                not isinstance(remaining, int)
                or isinstance(remaining, bool)
                or not 0 <= remaining < line.remaining
            ):
                return field_error(path, "remainingQuantity", f"must be between 0 and {line.remaining - 1}")
            if found.status == "REVOKED":
                return problem(409, "Conflict", path, detail="order is already revoked")
            line.remaining = remaining
            found.revocations.append(
                {"sku": sku, "remainingQuantity": remaining, "reason": reason, "comment": comment}
            )
            found.status = "REVOKED" if all(x.remaining == 0 for x in found.lines) else "PARTIALLY_REVOKED"
            sim.touch(found)
        return Response(status_code=204)

    async def refunds(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        if request.method == "GET":
            return _json([render_refund(r) for r in found.refunds])
        body = await _body(request)
        path = request.url.path
        amount = body.get("refundAmount") if isinstance(body, dict) else None
        currency = body.get("currency") if isinstance(body, dict) else None
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            return field_error(path, "refundAmount", "must be a positive number")
        if currency != found.currency:
            return field_error(path, "currency", f"must be {found.currency}")
        try:
            value = Decimal(str(amount)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return field_error(path, "refundAmount", "must be a positive number")
        with sim.lock:
            if found.payment_method != "IDEALO_CHECKOUT_PAYMENTS":
                return problem(
                    400, "Bad Request", path, reason="ORDER_NOT_PAID_USING_IDEALO_CHECKOUT_PAYMENTS"
                )
            age = sim.now() - found.created
            if found.status == "COMPLETED" and age.days > _REFUND_WINDOW_DAYS:
                return problem(400, "Bad Request", path, reason="REFUND_PERIOD_EXCEEDED")
            if sum((r.amount for r in found.refunds), Decimal(0)) + value > found.gross_price:
                return problem(400, "Bad Request", path, reason="REFUND_AMOUNT_EXCEEDS_ORDER_PRICE")
            now = sim.now()
            refund = SimRefund(str(uuid.uuid4()), value, found.currency, now, now)
            found.refunds.append(refund)
            sim.touch(found)
        return _json(render_refund(refund), 202)

    # ------------------------------------------------------------------------------------------ offers

    def offer_guard(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await handler(request, request.path_params["sku"])

        return endpoint

    def offer_problems(body: Any, sku: str, full: bool) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"field": "body", "message": "expected a JSON object"}]
        errors = []
        if "sku" in body and body["sku"] != sku:
            errors.append({"field": "sku", "message": "must equal the SKU in the path"})
        for name in _OFFER_INTS & set(body):
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                errors.append({"field": name, "message": "must be a non-negative integer"})
        for name in _OFFER_MONEY & set(body):
            if not isinstance(body[name], str) or not re.fullmatch(r"\d+(\.\d{1,2})?", body[name]):
                errors.append({"field": name, "message": "must be a decimal string such as 12.80"})
        if "fulfillmentType" in body and body["fulfillmentType"] not in _FULFILLMENT_TYPES:
            errors.append({"field": "fulfillmentType", "message": "unknown fulfillment type"})
        if "checkout" in body and not isinstance(body["checkout"], bool):
            errors.append({"field": "checkout", "message": "must be true or false"})
        if full:
            for name in ("sku", "title", "url", "price"):
                if name not in body:
                    errors.append({"field": name, "message": "is required"})
        return errors

    async def offer(request: Request, sku: str) -> Response:
        method = request.method
        with sim.lock:
            current = sim.offers.get(sku)
        if method == "GET":
            return _json(current) if current is not None else problem(404, "Not Found", request.url.path)
        if method == "DELETE":
            with sim.lock:
                if sim.offers.pop(sku, None) is None:
                    return problem(404, "Not Found", request.url.path)
            return Response(status_code=204)
        body = await _body(request)
        errors = offer_problems(body, sku, full=method == "PUT")
        if errors:
            return _json({"fieldErrors": errors, "generalErrors": []}, 400)
        with sim.lock:
            if method == "PUT":
                sim.offers[sku] = dict(body)
                return _json(sim.offers[sku])
            if current is None:
                return problem(404, "Not Found", request.url.path)
            current.update(body)
            return _json(current)

    async def delete_all(request: Request) -> Response:
        with sim.lock:
            sim.offers.clear()
        return Response(status_code=204)

    orders = "/api/v2/shops/{shop_id}"
    app = Starlette(
        routes=[
            Route("/api/v2/oauth/token", token_endpoint("orders"), methods=["POST"]),
            Route("/mer/businessaccount/api/v1/oauth/token", token_endpoint("offers"), methods=["POST"]),
            Route(f"{orders}/new-orders", guarded("orders", new_orders)),
            Route(f"{orders}/orders", guarded("orders", list_orders)),
            Route(f"{orders}/orders/{{order_id}}", guarded("orders", get_order)),
            Route(
                f"{orders}/orders/{{order_id}}/merchant-order-number",
                guarded("orders", merchant_order_number),
                methods=["POST"],
            ),
            Route(
                f"{orders}/orders/{{order_id}}/fulfillment", guarded("orders", fulfillment), methods=["POST"]
            ),
            Route(
                f"{orders}/orders/{{order_id}}/revocations", guarded("orders", revocations), methods=["POST"]
            ),
            Route(
                f"{orders}/orders/{{order_id}}/refunds", guarded("orders", refunds), methods=["GET", "POST"]
            ),
            Route(
                "/shop/{shop_id}/offer/{sku}",
                guarded("offers", offer_guard(offer)),
                methods=["GET", "PUT", "PATCH", "DELETE"],
            ),
            Route("/shop/{shop_id}/offer", guarded("offers", delete_all), methods=["DELETE"]),
        ]
    )
    return PathRules(app)
