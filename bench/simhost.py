"""Serve one simulator in its own process, with a ``/_bench/`` control API and per-endpoint call counts.

``python bench/simhost.py zalando --port N [--latency S] [--rate-limits off|production|sandbox]``
``python bench/simhost.py shopify --port N [--latency S] [--bucket-size B --restore-rate R]``

The simulators are the project's own (``create_app`` of each plugin's ``simulator`` package), unchanged; this
host only adds what a benchmark in another process needs: loading the catalogue and orders, switching latency
and rate limits, fulfilling every order, and reading the end state and the calls by endpoint. Control requests
bypass the simulator (no latency, not counted). The simulators' own request recorders keep request and response
bodies; a five-minute scale run would fill them, so they are turned off here and :class:`EndpointCounter`
counts instead (method + path template, or GraphQL operation name, by HTTP status; Shopify's ``THROTTLED``
answers, which are HTTP 200, are counted as status ``THROTTLED``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The editable install maps ordersyncd_plugins to plugins/ with an import hook mypy cannot follow.
from ordersyncd_plugins.marketplace_zalando.simulator import (  # type: ignore[import-not-found, unused-ignore]
    ZalandoSimulator,
)
from ordersyncd_plugins.marketplace_zalando.simulator import (  # type: ignore[import-not-found, unused-ignore]
    create_app as zalando_app,
)
from ordersyncd_plugins.store_shopify.simulator import (  # type: ignore[import-not-found, unused-ignore]
    ShopifySimulator,
)
from ordersyncd_plugins.store_shopify.simulator import (  # type: ignore[import-not-found, unused-ignore]
    create_app as shopify_app,
)

from catalog import catalogue, order_articles

__all__ = ["TOKEN", "EndpointCounter", "endpoint_of", "main"]

#: The static Shopify access token the benchmarks configure.
TOKEN = "shpat_bench_0123456789abcdef"  # noqa: S105 - simulator credential
_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_OPERATION = re.compile(rb"(query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)\s*[({]")
_VERSION = re.compile(r"/admin/api/[^/]+/")
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def endpoint_of(method: str, path: str, body: bytes) -> str:
    """``METHOD /path/{id}/template`` for REST, ``graphql NAME`` (operation name) for GraphQL."""
    if path.endswith("/graphql.json"):
        found = _OPERATION.search(body)
        return f"graphql {found.group(2).decode() if found else 'anonymous'}"
    return f"{method} {_VERSION.sub('/admin/api/{v}/', _ID.sub('{id}', path))}"


class EndpointCounter:
    """ASGI middleware counting requests by endpoint and answer (HTTP status or ``THROTTLED``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: Counter[tuple[str, str]] = Counter()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{endpoint: {status: count}}``."""
        out: dict[str, dict[str, int]] = {}
        for (endpoint, status), count in sorted(self.counts.items()):
            out.setdefault(endpoint, {})[status] = count
        return out

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        status = ["0"]

        async def keep_body() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request" and len(body) < 4096:
                body.extend(message.get("body", b"")[:4096])
            return message

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
            elif message["type"] == "http.response.body" and b'"THROTTLED"' in message.get("body", b""):
                status[0] = "THROTTLED"
            await send(message)

        try:
            await self.app(scope, keep_body, watch)
        finally:
            self.counts[(endpoint_of(scope["method"], scope["path"], bytes(body)), status[0])] += 1


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    loaded = json.loads(raw) if raw else {}
    return loaded if isinstance(loaded, dict) else {}


def _common_routes(counter: EndpointCounter, set_latency: Callable[[float], None]) -> list[Route]:
    async def ping(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def calls(request: Request) -> Response:
        return JSONResponse(counter.snapshot())

    async def reset(request: Request) -> Response:
        counter.counts.clear()
        return JSONResponse({"ok": True})

    async def latency(request: Request) -> Response:
        set_latency(float((await _json_body(request)).get("latency", 0.0)))
        return JSONResponse({"ok": True})

    return [
        Route("/_bench/ping", ping),
        Route("/_bench/calls", calls),
        Route("/_bench/calls/reset", reset, methods=["POST"]),
        Route("/_bench/latency", latency, methods=["POST"]),
    ]


def zalando_control(sim: ZalandoSimulator, counter: EndpointCounter) -> Starlette:
    """Control routes of the Zalando host."""
    state = sim.state

    def set_latency(value: float) -> None:
        sim.faults.latency = value

    async def add_orders(request: Request) -> Response:
        body = await _json_body(request)
        rng = random.Random(int(body.get("seed", 1)))
        articles = catalogue(int(body.get("catalogue_size", 200)), int(body.get("catalogue_seed", 7)))
        ids = [
            state.add_order(articles=order_articles(rng, articles)).order_id
            for _ in range(int(body.get("count", 1)))
        ]
        return JSONResponse({"order_ids": ids})

    async def rate_limits(request: Request) -> Response:
        state.set_rate_limits(str((await _json_body(request)).get("limits", "off")))
        return JSONResponse({"ok": True})

    async def progress(request: Request) -> Response:
        orders = list(state.orders.values())
        return JSONResponse(
            {
                "orders": len(orders),
                "exported": sum(1 for o in orders if o.exported),
                "shipped": sum(
                    1
                    for o in orders
                    if o.tracking_number and all(line.status == "shipped" for line in o.lines())
                ),
                "patch_ok": sum(counter.snapshot().get(f"PATCH {p}", {}).get("204", 0) for p in _PATCHES),
            }
        )

    async def end_state(request: Request) -> Response:
        return JSONResponse(
            {
                o.order_id: {
                    "exported": o.exported,
                    "merchant_order_id": o.merchant_order_id,
                    "tracking_number": o.tracking_number,
                    "return_tracking_number": o.return_tracking_number,
                    "lines": sorted(line.status for line in o.lines()),
                    "items": sorted([i.external_id, len(i.lines)] for i in o.items),
                }
                for o in state.orders.values()
            }
        )

    return Starlette(
        routes=[
            *_common_routes(counter, set_latency),
            Route("/_bench/orders", add_orders, methods=["POST"]),
            Route("/_bench/rate-limits", rate_limits, methods=["POST"]),
            Route("/_bench/progress", progress),
            Route("/_bench/state", end_state),
        ]
    )


_PATCHES = ("/merchants/{id}/orders/{id}", "/merchants/{id}/orders/{id}/items/{id}/lines/{id}")


def shopify_control(sim: ShopifySimulator, counter: EndpointCounter) -> Starlette:
    """Control routes of the Shopify host."""

    def set_latency(value: float) -> None:
        sim.faults.latency = value

    async def add_catalogue(request: Request) -> Response:
        body = await _json_body(request)
        articles = catalogue(int(body.get("size", 200)), int(body.get("seed", 7)))
        for article in articles:
            sim.shop.add_variant(
                article.sku,
                article.ean,
                price=str(article.price),
                inventory=int(body.get("inventory", 10**6)),
            )
        return JSONResponse({"variants": len(articles)})

    async def throttle(request: Request) -> Response:
        body = await _json_body(request)
        sim.set_throttle(float(body["bucket_size"]), float(body["restore_rate"]))
        sim.stats.requests = sim.stats.throttled = sim.stats.points = 0
        return JSONResponse({"ok": True})

    async def fulfill_all(request: Request) -> Response:
        done = 0
        for order in sim.orders():
            if not order.fulfillments:
                sim.fulfill(order, tracking_numbers=[f"00340434{order.id:012d}", f"RET{order.id:08d}"])
                done += 1
        return JSONResponse({"fulfilled": done})

    async def progress(request: Request) -> Response:
        orders = sim.orders()
        return JSONResponse(
            {
                "orders": len(orders),
                "fulfilled": sum(1 for o in orders if o.fulfillments),
                "requests": sim.stats.requests,
                "throttled": sim.stats.throttled,
                "points": sim.stats.points,
            }
        )

    async def end_state(request: Request) -> Response:
        return JSONResponse(
            {
                str(o.source_identifier): {
                    "name": o.name,
                    "items": sorted([i.sku, i.quantity] for i in o.line_items),
                    "financial_status": o.financial_status,
                }
                for o in sim.orders()
            }
        )

    return Starlette(
        routes=[
            *_common_routes(counter, set_latency),
            Route("/_bench/catalogue", add_catalogue, methods=["POST"]),
            Route("/_bench/throttle", throttle, methods=["POST"]),
            Route("/_bench/fulfill-all", fulfill_all, methods=["POST"]),
            Route("/_bench/progress", progress),
            Route("/_bench/state", end_state),
        ]
    )


class BenchHost:
    """ASGI app: ``/_bench/`` to the control routes, everything else counted and passed to the simulator."""

    def __init__(self, control: ASGIApp, counter: EndpointCounter) -> None:
        self.control = control
        self.counter = counter

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_bench/"):
            await self.control(scope, receive, send)
        else:
            await self.counter(scope, receive, send)


def build(args: argparse.Namespace) -> BenchHost:
    """The host for ``args.simulator`` configured from the command line."""
    if args.simulator == "zalando":
        zalando = zalando_app(rate_limits=args.rate_limits)
        zalando.recorder.limit = 0
        zalando.faults.latency = args.latency
        counter = EndpointCounter(zalando)
        return BenchHost(zalando_control(zalando, counter), counter)
    shopify = shopify_app(
        access_tokens=(TOKEN,), bucket_size=args.bucket_size, restore_rate=args.restore_rate
    )
    shopify.recorder.limit = 0
    shopify.faults.latency = args.latency
    counter = EndpointCounter(shopify)
    return BenchHost(shopify_control(shopify, counter), counter)


#: Seconds the host keeps an idle client connection open, as the real API's front does where that is documented.
#: Shopify's Admin API answers through Cloudflare (``Server: cloudflare``), which keeps an idle HTTP/1.1 client
#: connection 400 s ("Connection limits", developers.cloudflare.com/fundamentals/reference/connection-limits).
#: For Zalando's API no figure is published: uvicorn's default (5 s), the least favourable to the daemon.
IDLE_KEEP_ALIVE = {"shopify": 400, "zalando": 5}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("simulator", choices=["zalando", "shopify"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--rate-limits", default="off", choices=["off", "production", "sandbox"])
    parser.add_argument("--bucket-size", type=float, default=1e9)
    parser.add_argument("--restore-rate", type=float, default=1e9)
    args = parser.parse_args(argv)
    uvicorn.run(
        build(args),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=8192,
        timeout_keep_alive=IDLE_KEEP_ALIVE[args.simulator],
    )


if __name__ == "__main__":
    main()
