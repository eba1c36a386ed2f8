"""Starlette routes of the zDirect simulator: auth, sales channels, orders, stocks, ZSS documents."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import LINE_TRANSITIONS, SimItem, SimLine, SimOrder, SimulatorState

__all__ = ["build_routes"]

JSONAPI = "application/vnd.api+json"
PROBLEM = "application/problem+json"
COPYRIGHT = "Zalando SE 2026 All rights reserved. (ordersyncd simulator)"
ZALANDO_LOGISTICS = "1f7a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
_ALNUM = re.compile(r"^[A-Za-z0-9]+$")
_EAN = re.compile(r"^[0-9]{8,14}$")
_INCLUDES = {
    "order_items",
    "order_lines",
    "order_transitions",
    "order_lines.order_line_transitions",
    "shipments",
}
_SORTS = {"order_number", "modified_at", "order_lines_price_amount", "order_lines_count", "order_date"}
_LIST_PARAMS = {
    "include", "page[number]", "page[size]", "sort", "sales_channel_id", "created_after",
    "created_before", "last_updated_after", "last_updated_before", "order_status", "order_number",
    "locale", "exported", "order_type",
}  # fmt: skip

Handler = Callable[[Request], Awaitable[Response]]


# ---------------------------------------------------------------------------------------------- rendering


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(value: Decimal) -> float:
    return float(value)


def _dump(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json(
    body: Any, status: int = 200, media: str = JSONAPI, headers: dict[str, str] | None = None
) -> Response:
    return Response(_dump(body), status_code=status, media_type=media, headers=headers)


def jsonapi_error(
    status: int, title: str, detail: str = "", parameter: str = "", pointer: str = ""
) -> Response:
    error: dict[str, Any] = {"status": str(status), "code": f"SIM{status}", "title": title}
    if detail:
        error["detail"] = detail
    if parameter or pointer:
        error["source"] = {"parameter": parameter} if parameter else {"pointer": pointer}
    return _json({"errors": [error]}, status)


def problem(status: int, title: str, detail: str = "") -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return _json(body, status, PROBLEM)


def render_line(line: SimLine) -> dict[str, Any]:
    return {
        "type": "OrderLine",
        "id": line.line_id,
        "attributes": {
            "order_line_id": line.line_id,
            "order_item_id": line.item_id,
            "status": line.status,
            "price": {"amount": _num(line.price), "currency": line.currency},
            "created_at": _time(line.created_at),
            "modified_at": _time(line.modified_at),
        },
    }


def render_item(item: SimItem) -> dict[str, Any]:
    statuses = [line.status for line in item.lines]
    return {
        "type": "OrderItem",
        "id": item.item_id,
        "attributes": {
            "order_item_id": item.item_id,
            "order_id": item.order_id,
            "article_id": item.article_id,
            "external_id": item.external_id,
            "description": item.description,
            "quantity_initial": len(statuses),
            "quantity_reserved": statuses.count("reserved"),
            "quantity_shipped": statuses.count("shipped"),
            "quantity_returned": statuses.count("returned"),
            "quantity_canceled": statuses.count("canceled"),
        },
        "relationships": {
            "order_lines": {"data": [{"type": "OrderLine", "id": x.line_id} for x in item.lines]}
        },
    }


def render_order(order: SimOrder, base: str) -> dict[str, Any]:
    lines = order.lines()
    attributes: dict[str, Any] = {
        "merchant_id": order.merchant_id,
        "logistics_provider_id": order.merchant_id
        if order.order_type == "PartnerFulfilled"
        else ZALANDO_LOGISTICS,
        "order_id": order.order_id,
        "order_number": order.order_number,
        "order_date": _time(order.order_date),
        "exported": order.exported,
        "sales_channel_id": order.sales_channel_id,
        "locale": order.locale,
        "customer_number": order.customer_number,
        "customer_email": order.customer_email,
        "order_type": order.order_type,
        "status": order.status,
        "shipping_address": order.shipping_address,
        "shipment_number": order.shipment_number,
        "billing_address": order.billing_address,
        "order_lines_count": len(lines),
        "order_lines_price_amount": _num(sum((x.price for x in lines), Decimal(0))),
        "order_lines_price_currency": order.currency,
        "created_by": "zalando",
        "created_at": _time(order.created_at),
        "modified_by": "zalando",
        "modified_at": _time(order.modified_at),
        "shipping_costs": {"amount": _num(order.shipping_costs), "currency": order.currency},
    }
    if order.delivery_end_date:
        attributes["delivery_end_date"] = _time(order.delivery_end_date)
    for key in ("merchant_order_id", "tracking_number", "return_tracking_number"):
        if getattr(order, key):
            attributes[key] = getattr(order, key)
    path = f"{base}/merchants/{order.merchant_id}/orders/{order.order_id}"
    return {
        "type": "Order",
        "id": order.order_id,
        "attributes": attributes,
        "relationships": {
            "order_items": {
                "links": {"related": f"{path}/items"},
                "data": [{"type": "OrderItem", "id": i.item_id} for i in order.items],
            },
            "order_transitions": {"links": {"related": f"{path}/transitions"}},
        },
        "links": {"self": path},
    }


def render_included(orders: list[SimOrder], include: set[str]) -> list[dict[str, Any]]:
    included: list[dict[str, Any]] = []
    for order in orders:
        if "order_items" in include or "order_lines" in include:
            included.extend(render_item(item) for item in order.items)
        if "order_lines" in include:
            included.extend(render_line(line) for line in order.lines())
    return included


# ---------------------------------------------------------------------------------------------- routes


def build_routes(sim: SimulatorState) -> Starlette:
    """The Starlette app answering the zDirect paths from ``sim``."""

    def base_of(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def quota_of(request: Request) -> str:
        path = request.url.path
        if path.startswith("/zss/"):
            return "documents"
        if request.method == "PATCH":
            return "patch"
        if re.fullmatch(r"/merchants/[^/]+/orders", path):
            return "orders_by_number" if "order_number" in request.query_params else "orders_list"
        if "/items" in path:
            return "items_lines"
        return "other"

    def throttled(request: Request, quota: str, units: int = 1) -> Response | None:
        forced = sim.forced_throttle()
        limiter = sim.limiters.get(quota)
        wait = forced if forced is not None else (limiter.take(units) if limiter else 0.0)
        if not wait and forced is None:
            return None
        headers = {
            "Retry-After": str(int(wait)),
            "X-Rate-Limit": str(limiter.limit if limiter else 0),
            "X-Flow-Id": request.headers.get("X-Flow-Id") or str(uuid.uuid4()),
        }
        if request.url.path.endswith("/stocks"):
            return _json(
                {"type": "about:blank", "title": "Too Many Requests", "status": 429}, 429, PROBLEM, headers
            )
        return _json(
            {"message": f"rate limit of {headers['X-Rate-Limit']}/min exceeded"}, 429, JSONAPI, headers
        )

    def guarded(
        handler: Callable[[Request, str], Awaitable[Response]], problem_errors: bool = False
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("Authorization", "")
            client = sim.client_of(auth[7:]) if auth.startswith("Bearer ") else None
            if client is None:
                if problem_errors:
                    return problem(401, "Unauthorized", "missing, invalid or expired access token")
                return jsonapi_error(401, "Unauthorized", "missing, invalid or expired access token")
            await request.body()  # received in full, also when throttled (so recorders keep it)
            limited = throttled(request, quota_of(request))
            if limited is not None:
                return limited
            merchant = request.path_params.get("merchant_id")
            if merchant is not None and merchant not in sim.clients[client][1]:
                if problem_errors:
                    return problem(403, "Forbidden", "the token may not act for this merchant")
                return jsonapi_error(403, "Forbidden", "the token may not act for this merchant")
            return await handler(request, client)

        return endpoint

    # ------------------------------------------------------------------------------------------ auth

    async def token(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        client_id = secret = ""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                client_id = ""
        if form.get("grant_type") != ["client_credentials"]:
            return _json({"error": "unsupported_grant_type"}, 400, "application/json")
        known = sim.clients.get(client_id)
        if known is None or known[0] != secret:
            return _json({"error": "invalid_client"}, 401, "application/json")
        return _json(
            {
                "access_token": sim.issue_token(client_id),
                "token_type": "Bearer",
                "expires_in": sim.token_lifetime,
            },
            media="application/json",
        )

    async def me(request: Request, client: str) -> Response:
        return _json(
            {
                "bpids": sim.clients[client][1],
                "scopes": ["orders/read", "orders/write", "products/stock/write"],
            },
            media="application/json",
        )

    async def sales_channels(request: Request, client: str) -> Response:
        wanted = [m for m in request.query_params.get("merchant_ids", "").split(",") if m]
        if not wanted:
            return _json(
                {"errors": [{"status": "400", "title": "merchant_ids is required"}]}, 400, "application/json"
            )
        allowed = sim.clients[client][1]
        if any(m not in allowed for m in wanted):
            return _json({"errors": [{"status": "403", "title": "Forbidden"}]}, 403, "application/json")
        items = [c for m in wanted for c in sim.channels_of(m)]
        if request.query_params.get("zalando_only") == "true":
            items = [c for c in items if c["live"]]
        return _json({"items": items}, media="application/json")

    # ------------------------------------------------------------------------------------------ orders

    def parse_filters(request: Request) -> tuple[dict[str, Any], Response | None]:
        query = request.query_params
        for name in query:
            if name not in _LIST_PARAMS:
                return {}, jsonapi_error(400, "Unknown query parameter", name, parameter=name)
        filters: dict[str, Any] = {}
        for name in ("created_after", "created_before", "last_updated_after", "last_updated_before"):
            if name in query:
                try:
                    value = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
                except ValueError:
                    return {}, jsonapi_error(400, "Invalid timestamp", query[name], parameter=name)
                if value.tzinfo is None:
                    return {}, jsonapi_error(400, "Timestamp without zone", query[name], parameter=name)
                filters[name] = value
        for name in ("page[number]", "page[size]"):
            if name in query:
                try:
                    filters[name] = int(query[name])
                except ValueError:
                    return {}, jsonapi_error(400, "Invalid page parameter", query[name], parameter=name)
        if not 0 < filters.get("page[size]", 50) <= 1000 or filters.get("page[number]", 0) < 0:
            return {}, jsonapi_error(400, "Invalid page parameter", parameter="page[size]")
        if query.get("exported", "true") not in ("true", "false"):
            return {}, jsonapi_error(400, "Invalid boolean", parameter="exported")
        if query.get("order_status", "approved") not in ("initial", "approved", "fulfilled"):
            return {}, jsonapi_error(400, "Invalid order status", parameter="order_status")
        if query.get("order_type", "PartnerFulfilled") not in ("PartnerFulfilled", "ZalandoFulfilled"):
            return {}, jsonapi_error(400, "Invalid order type", parameter="order_type")
        include = {x for x in query.get("include", "").split(",") if x}
        if include - _INCLUDES:
            return {}, jsonapi_error(400, "Unknown include", ",".join(sorted(include - _INCLUDES)), "include")
        filters["include"] = include
        sort = [x for x in query.get("sort", "-modified_at").split(",") if x]
        if any(x.lstrip("-") not in _SORTS for x in sort):
            return {}, jsonapi_error(400, "Unknown sort field", query["sort"], parameter="sort")
        filters["sort"] = sort
        return filters, None

    def matches(order: SimOrder, query: Any, f: dict[str, Any]) -> bool:
        bounds: tuple[tuple[str, datetime, bool], ...] = (
            ("created_after", order.created_at, True),
            ("created_before", order.created_at, False),
            ("last_updated_after", order.modified_at, True),
            ("last_updated_before", order.modified_at, False),
        )
        for name, value, after in bounds:  # every bound is exclusive
            if name in f and not (value > f[name] if after else value < f[name]):
                return False
        for name, wanted in (
            ("order_status", order.status),
            ("order_number", order.order_number),
            ("locale", order.locale),
            ("order_type", order.order_type),
            ("sales_channel_id", order.sales_channel_id),
            ("exported", "true" if order.exported else "false"),
        ):
            if name in query and query[name] != wanted:
                return False
        return True

    def sort_key(field_name: str) -> Callable[[SimOrder], Any]:
        keys: dict[str, Callable[[SimOrder], Any]] = {
            "order_number": lambda o: o.order_number,
            "modified_at": lambda o: o.modified_at,
            "order_lines_price_amount": lambda o: sum((x.price for x in o.lines()), Decimal(0)),
            "order_lines_count": lambda o: len(o.lines()),
            "order_date": lambda o: o.order_date,
        }
        return keys[field_name]

    async def list_orders(request: Request, client: str) -> Response:
        filters, error = parse_filters(request)
        if error is not None:
            return error
        merchant = request.path_params["merchant_id"]
        page = filters.get("page[number]", 0)
        size = filters.get("page[size]", 50)
        if sim.on_list_page is not None:
            sim.on_list_page(page)
        query = request.query_params
        found = [o for o in sim.orders.values() if o.merchant_id == merchant and matches(o, query, filters)]
        found.sort(key=lambda o: o.order_id)  # stable tie-break
        for field_name in reversed(filters["sort"]):
            found.sort(key=sort_key(field_name.lstrip("-")), reverse=field_name.startswith("-"))
        chunk = found[page * size : (page + 1) * size]
        base = base_of(request)
        last = max(0, (len(found) - 1) // size)

        def link(number: int) -> str:
            params = [(k, v) for k, v in query.multi_items() if k != "page[number]"] + [
                ("page[number]", str(number))
            ]
            return f"{base}{request.url.path}?{urlencode(params)}"

        links = {"self": link(page), "first": link(0), "last": link(last)}
        if page > 0:
            links["prev"] = link(page - 1)
        if page < last:
            links["next"] = link(page + 1)
        body: dict[str, Any] = {
            "data": [render_order(o, base) for o in chunk],
            "links": links,
            "meta": {"copyright": COPYRIGHT, "number_of_results": len(found)},
        }
        if filters["include"]:
            body["included"] = render_included(chunk, filters["include"])
        return _json(body)

    def find_order(request: Request) -> SimOrder | Response:
        order = sim.orders.get(request.path_params["order_id"])
        if order is None or order.merchant_id != request.path_params["merchant_id"]:
            return jsonapi_error(404, "Not Found", "the order does not exist")
        return order

    async def get_order(request: Request, client: str) -> Response:
        order = find_order(request)
        if isinstance(order, Response):
            return order
        include = {x for x in request.query_params.get("include", "").split(",") if x}
        if include - _INCLUDES or set(request.query_params) - {"include"}:
            return jsonapi_error(400, "Invalid query parameter", parameter="include")
        body: dict[str, Any] = {
            "data": render_order(order, base_of(request)),
            "meta": {"copyright": COPYRIGHT},
        }
        if include:
            body["included"] = render_included([order], include)
        return _json(body)

    async def read_update(request: Request, kind: str, resource_id: str) -> dict[str, Any] | Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != JSONAPI:
            return jsonapi_error(415, "Unsupported Media Type", f"use {JSONAPI}")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return jsonapi_error(400, "Malformed JSON", pointer="/")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != kind or data.get("id") != resource_id:
            return jsonapi_error(
                400, "Bad Request", f"data.type must be {kind} and data.id the path id", pointer="/data"
            )
        attributes = data.get("attributes")
        if not isinstance(attributes, dict) or not attributes:
            return jsonapi_error(400, "Bad Request", "attributes missing", pointer="/data/attributes")
        return attributes

    async def patch_order(request: Request, client: str) -> Response:
        order = find_order(request)
        if isinstance(order, Response):
            return order
        attributes = await read_update(request, "Order", order.order_id)
        if isinstance(attributes, Response):
            return attributes
        unknown = set(attributes) - {"merchant_order_id", "tracking_number", "return_tracking_number"}
        if unknown:
            return jsonapi_error(400, "Unknown attribute", pointer=f"/data/attributes/{sorted(unknown)[0]}")
        if order.order_type == "ZalandoFulfilled":
            return jsonapi_error(403, "Forbidden", "ZalandoFulfilled orders are read-only")
        if "merchant_order_id" in attributes:
            value = attributes["merchant_order_id"]
            if not isinstance(value, str) or not _ALNUM.match(value):
                return jsonapi_error(
                    400, "Invalid merchant_order_id", "must be non-empty and alphanumeric",
                    pointer="/data/attributes/merchant_order_id",
                )  # fmt: skip
            order.merchant_order_id, order.exported = value, True
            sim.exports.append((order.order_id, value))
        tracking = {
            k: attributes[k] for k in ("tracking_number", "return_tracking_number") if k in attributes
        }
        if tracking:
            if not order.exported:
                return jsonapi_error(403, "Forbidden", "export the order before sending tracking numbers")
            if any(not isinstance(v, str) or not v for v in tracking.values()):
                return jsonapi_error(400, "Invalid tracking number", pointer="/data/attributes")
            sim.tracking_updates.append(
                (
                    order.order_id,
                    tracking.get("tracking_number", ""),
                    tracking.get("return_tracking_number", ""),
                )
            )
            for key, value in tracking.items():
                if not getattr(order, key):  # first value wins (later values are accepted and ignored)
                    setattr(order, key, value)
            if order.tracking_set_at is None and order.tracking_number and order.return_tracking_number:
                order.tracking_set_at = sim.monotonic()
        order.modified_at = sim.now()
        location = f"{base_of(request)}{request.url.path}"
        return Response(status_code=204, headers={"Location": location})

    def find_line(request: Request) -> tuple[SimOrder, SimLine] | Response:
        order = find_order(request)
        if isinstance(order, Response):
            return order
        for item in order.items:
            if item.item_id == request.path_params["item_id"]:
                for line in item.lines:
                    if line.line_id == request.path_params["line_id"]:
                        return order, line
        return jsonapi_error(404, "Not Found", "the order item or line does not exist")

    async def get_line(request: Request, client: str) -> Response:
        found = find_line(request)
        if isinstance(found, Response):
            return found
        order, line = found
        possible = sorted(LINE_TRANSITIONS[line.status]) if order.order_type == "PartnerFulfilled" else []
        body = {
            "data": render_line(line),
            "meta": {"copyright": COPYRIGHT, "possible_status_transitions": possible},
        }
        return _json(body)

    async def patch_line(request: Request, client: str) -> Response:
        found = find_line(request)
        if isinstance(found, Response):
            return found
        order, line = found
        attributes = await read_update(request, "OrderLine", line.line_id)
        if isinstance(attributes, Response):
            return attributes
        if set(attributes) - {"status", "reason", "outbound_logistic_center_id"}:
            return jsonapi_error(400, "Unknown attribute", pointer="/data/attributes")
        target = attributes.get("status")
        if target not in LINE_TRANSITIONS:
            return jsonapi_error(400, "Invalid status", pointer="/data/attributes/status")
        if "reason" in attributes and (target != "returned" or not isinstance(attributes["reason"], int)):
            return jsonapi_error(
                400, "reason is an integer for returned lines", pointer="/data/attributes/reason"
            )
        status = 204
        if order.order_type == "ZalandoFulfilled":
            status = 403
        elif target == line.status:
            status = 409
        elif target not in LINE_TRANSITIONS[line.status] or (
            target == "shipped" and (order.status != "approved" or not order.exported)
        ):
            status = 403
        sim.line_updates.append((order.order_id, line.line_id, str(target), status))
        if status == 409:
            return jsonapi_error(409, "Conflict", f"the line is already {line.status}")
        if status == 403:
            return jsonapi_error(403, "Forbidden", f"transition {line.status} -> {target} is not allowed")
        line.status, line.modified_at = str(target), sim.now()
        line.reason = attributes.get("reason")
        if target == "shipped":
            since = None if order.tracking_set_at is None else sim.monotonic() - order.tracking_set_at
            sim.line_shipments.append((order.order_id, line.line_id, since))
        if all(x.status in ("shipped", "canceled", "returned") for x in order.lines()):
            order.status = "fulfilled"
        order.modified_at = sim.now()
        return Response(status_code=204, headers={"Location": f"{base_of(request)}{request.url.path}"})

    # ------------------------------------------------------------------------------------------ stocks

    async def post_stocks(request: Request, client: str) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "Unsupported Media Type", "use application/json")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return problem(400, "Bad Request", "the body is not JSON")
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or len(items) > 1000:
            return problem(400, "Bad Request", "items must hold 1 to 1000 stock updates")
        keys = set()
        for item in items:
            if not isinstance(item, dict) or set(item) != {"sales_channel_id", "ean", "quantity"}:
                return problem(
                    400, "Bad Request", "each item needs exactly sales_channel_id, ean and quantity"
                )
            if (
                not isinstance(item["quantity"], int)
                or isinstance(item["quantity"], bool)
                or item["quantity"] < 0
            ):
                return problem(400, "Bad Request", "quantity must be an integer >= 0")
            key = (str(item["sales_channel_id"]), str(item["ean"]))
            if key in keys:
                return problem(400, "Bad Request", "each (sales_channel_id, ean) may appear once per batch")
            keys.add(key)
        limiter = sim.limiters.get("stock_items")
        wait = limiter.take(len(items)) if limiter else 0.0
        if wait:
            headers = {"Retry-After": str(int(wait)), "X-Rate-Limit": str(limiter.limit if limiter else 0)}
            return _json(
                {"type": "about:blank", "title": "Too Many Requests", "status": 429}, 429, PROBLEM, headers
            )
        sim.stock_requests.append(items)
        merchant_channels = {
            c["sales_channel_id"] for c in sim.channels_of(request.path_params["merchant_id"])
        }
        results = []
        for item in items:
            key = (item["sales_channel_id"], item["ean"])
            outcome = sim.stock_outcomes.get(item["ean"])
            if item["sales_channel_id"] not in merchant_channels:
                result = {
                    "status": "REJECTED",
                    "code": 101,
                    "description": "unknown sales channel for merchant",
                }
            elif not _EAN.match(item["ean"]):
                result = {"status": "REJECTED", "code": 101, "description": "ean is not a GTIN"}
            elif outcome is not None and (outcome.times is None or outcome.times > 0):
                if outcome.times is not None:
                    outcome.times -= 1
                result = {"status": outcome.status, "code": outcome.code}
                if outcome.description:
                    result["description"] = outcome.description
                if outcome.code == 104:
                    sim.stock_pending[key] = item["quantity"]
            else:
                result = {"status": "ACCEPTED", "code": 0}
                sim.stock_levels[key] = item["quantity"]
            results.append({"item": item, "result": result})
        return _json({"results": results}, 207, "application/json")

    # ------------------------------------------------------------------------------------------ ZSS

    async def list_documents(request: Request, client: str) -> Response:
        order = sim.orders.get(request.query_params.get("order_id", ""))
        if order is None or order.merchant_id not in sim.clients[client][1]:
            return problem(404, "Not Found", "no such order")
        documents = [
            {
                "id": d.document_id,
                "shipment_id": d.shipment_id,
                "order_id": d.order_id,
                "shipment_number": d.shipment_number,
                "type": d.type,
                **({"tracking_id": d.tracking_id} if d.tracking_id else {}),
            }
            for d in sim.documents_for(order)
        ]
        return _json({"documents": documents}, media="application/json")

    async def get_document(request: Request, client: str) -> Response:
        for order_id, documents in sim.documents.items():
            for document in documents:
                if document.document_id == request.path_params["document_id"]:
                    if sim.orders[order_id].merchant_id not in sim.clients[client][1]:
                        break
                    pdf = _pdf(f"{document.type} {document.tracking_id} order {order_id}")
                    return Response(pdf, media_type="application/pdf")
        return problem(404, "Not Found", "no such document")

    merchant = "/merchants/{merchant_id}"
    order_path = merchant + "/orders/{order_id}"
    line_path = order_path + "/items/{item_id}/lines/{line_id}"
    routes = [
        Route("/auth/token", token, methods=["POST"]),
        Route("/auth/me", guarded(me), methods=["GET"]),
        Route("/sales-channels", guarded(sales_channels), methods=["GET"]),
        Route(merchant + "/orders", guarded(list_orders), methods=["GET"]),
        Route(order_path, guarded(get_order), methods=["GET"]),
        Route(order_path, guarded(patch_order), methods=["PATCH"]),
        Route(line_path, guarded(get_line), methods=["GET"]),
        Route(line_path, guarded(patch_line), methods=["PATCH"]),
        Route(merchant + "/stocks", guarded(post_stocks, problem_errors=True), methods=["POST"]),
        Route("/zss/shipping-documents", guarded(list_documents, problem_errors=True), methods=["GET"]),
        Route(
            "/zss/shipping-documents/{document_id}",
            guarded(get_document, problem_errors=True),
            methods=["GET"],
        ),
    ]
    return Starlette(routes=routes)


def _pdf(text: str) -> bytes:
    """A tiny valid one-page PDF showing ``text``."""
    safe = re.sub(r"[()\\]", "", text)
    stream = f"BT /F1 10 Tf 20 100 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
