"""One ASGI app serves metrics, health, the JSON API the CLI talks to, and the admin pages
(:mod:`ordersyncd.web.pages`, which need a login).

The API requires the bearer token kept in ``STATE_DIR/api-token`` (created at start, mode 0600); the CLI reads
it from there. ``/metrics``, ``/healthz`` and ``/readyz`` are open, as Prometheus and systemd expect.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..exposition import exposition
from .pages import page_routes

if TYPE_CHECKING:
    from ..runtime import Daemon

__all__ = ["create_app"]


def create_app(daemon: Daemon) -> Starlette:
    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        expected = daemon.api_token
        return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected)

    def refused() -> JSONResponse:
        return JSONResponse(
            {"error": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ready, reason = daemon.readiness()
        return PlainTextResponse(
            ("ready" if ready else f"not ready: {reason}") + "\n", status_code=200 if ready else 503
        )

    async def metrics(request: Request) -> Response:
        await daemon.refresh_gauges()
        # Written piece by piece in a worker thread (Starlette iterates a plain iterator there): at 5,000
        # connections the text is 31 MB, which neither the event loop nor the memory should hold at once.
        return StreamingResponse(exposition(daemon.metrics), media_type=CONTENT_TYPE_LATEST)

    async def status(request: Request) -> Response:
        if not authorized(request):
            return refused()
        return JSONResponse(daemon.status())

    async def sync(request: Request) -> Response:
        if not authorized(request):
            return refused()
        name = request.path_params["name"]
        worker = daemon.workers.get(name)
        if worker is None:
            known = sorted(daemon.workers)
            return JSONResponse({"error": f"no active connection {name!r}", "known": known}, status_code=404)
        triggered = worker.trigger()
        return JSONResponse({"connection": name, "triggered": triggered}, status_code=202)

    async def stock_push(request: Request) -> Response:
        if not authorized(request):
            return refused()
        name = request.path_params["name"]
        worker = daemon.workers.get(name)
        if worker is None:
            return JSONResponse({"error": f"no active connection {name!r}"}, status_code=404)
        full = request.query_params.get("full") in {"1", "true", "yes"}
        if not worker.request_stock_push(full):
            return JSONResponse({"error": f"connection {name!r} does not synchronize stock"}, status_code=409)
        return JSONResponse({"connection": name, "full": full, "triggered": ["sync_stock"]}, status_code=202)

    async def retry(request: Request) -> Response:
        if not authorized(request):
            return refused()
        connection, order_id = request.path_params["connection"], request.path_params["order_id"]
        result: dict[str, Any] = await daemon.retry_order(connection, order_id)
        return JSONResponse(result, status_code=200 if result.get("ok") else 409)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/api/v1/status", status),
        Route("/api/v1/connections/{name}/sync", sync, methods=["POST"]),
        Route("/api/v1/connections/{name}/stock", stock_push, methods=["POST"]),
        Route("/api/v1/orders/{connection}/{order_id}/retry", retry, methods=["POST"]),
        *page_routes(daemon),
    ]
    return Starlette(routes=routes)
