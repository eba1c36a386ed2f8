"""The admin pages and their JSON API: login, orders (filters, paging), order details with the full
communication history, Order Shipments (enter missing codes), retry, "Synchronize now".

Server-rendered HTML (Jinja2, autoescaped), no JavaScript. Every page and API route needs a login (session
cookie) or, for the API, the daemon's bearer token; every form carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..alerts.codes import check_codes
from ..alerts.conditions import missing_text
from ..alerts.mail import marketplace_title
from ..errors import IllegalTransition
from ..journal import OrderState, ShipmentRecord, ShipmentState
from .auth import (
    COOKIE,
    Authenticator,
    LoginLimiter,
    Session,
    Sessions,
    client_address,
    safe_next,
    set_session_cookie,
)
from .settings import WebSettings

if TYPE_CHECKING:
    from ..runtime import Daemon

__all__ = ["Pages", "page_routes"]

log = structlog.get_logger("ordersyncd.web")

STATE_LABELS = {"held": "codes missing", "needs_attention": "needs attention"}
MAX_FORM_BYTES = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Form = Mapping[str, str]
Handler = Callable[[Request, Session, Form], Awaitable[Response]]


def _time(stamp: float | None) -> str:
    if not stamp:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("ordersyncd.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["time"] = _time
_env.filters["state_label"] = lambda state: STATE_LABELS.get(str(state), str(state))
_env.filters["missing_text"] = missing_text


def _shipment_json(record: ShipmentRecord) -> dict[str, Any]:
    return {
        "connection": record.connection,
        "shipment_id": record.shipment_id,
        "order_id": record.order_id,
        "state": record.state.value,
        "missing": list(record.missing),
        "carrier": record.shipment.carrier,
        "tracking_code": record.shipment.tracking_code,
        "return_tracking_code": record.shipment.return_tracking_code,
        "held_since": record.held_since,
    }


class Pages:
    """The pages of one daemon: sessions, login limiter and the route handlers."""

    def __init__(self, daemon: Daemon, *, clock: Callable[[], float] = time.time) -> None:
        self.daemon = daemon
        self.sessions = Sessions(clock)
        self.limiter = LoginLimiter(clock)
        self.auth = Authenticator(self.settings, lambda: daemon.api_token)

    # ------------------------------------------------------------------ plumbing
    def settings(self) -> WebSettings:
        """The current ``[web]`` settings (defaults until the daemon has loaded them)."""
        settings: WebSettings | None = getattr(self.daemon, "web_settings", None)
        return settings or WebSettings()

    @property
    def journal(self) -> Any:
        if self.daemon.journal is None:
            raise RuntimeError("journal not open")
        return self.daemon.journal

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def render(
        self, request: Request, session: Session | None, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """Render a page with the layout's context (CSRF token, messages, navigation counts)."""
        context.setdefault("title", "Log in" if template == "login.html" else "ordersyncd")
        body = _env.get_template(template).render(
            csrf=session.csrf if session else "",
            logged_in=bool(session and session.authenticated),
            flashes=session.take_flashes() if session else [],
            path=request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    @staticmethod
    async def _form(request: Request) -> dict[str, str] | None:
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            return None
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return None
        parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A page needing a login; POSTs also need the session's CSRF token."""

        async def endpoint(request: Request) -> Response:
            session = self._session(request)
            if session is None or not session.authenticated:
                if request.method != "GET":
                    return self._refused(request, 401, "Log in first.")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
            form: dict[str, str] = {}
            if request.method == "POST":
                parsed = await self._form(request)
                if parsed is None or not session.csrf_ok(parsed.get("csrf_token")):
                    log.warning(
                        "form refused: CSRF token missing or wrong",
                        path=request.url.path,
                        client=client_address(request),
                    )
                    return self._refused(
                        request,
                        403,
                        "The form was refused (its security token is missing or stale). Reload the page and try again.",
                    )
                form = parsed
            return await handler(request, session, form)

        return endpoint

    def _refused(self, request: Request, status: int, message: str) -> Response:
        return self.render(request, None, "error.html", status=status, message=message, title="Refused")

    def _counts(self) -> Awaitable[dict[tuple[str, OrderState], int]]:
        result: Awaitable[dict[tuple[str, OrderState], int]] = self.journal.count_by_state()
        return result

    async def _nav(self) -> dict[str, int]:
        counts = await self._counts()
        return {
            "held": sum(n for (_, state), n in counts.items() if state is OrderState.HELD),
            "attention": sum(n for (_, state), n in counts.items() if state is OrderState.NEEDS_ATTENTION),
        }

    def _marketplace_of(self, connection: str) -> tuple[str, str]:
        """(account, marketplace title) of a connection."""
        config = self.daemon.config
        if config is None or connection not in config.connections:
            return "", ""
        account = config.connections[connection].marketplace
        block = config.marketplaces.get(account)
        return account, marketplace_title(block.plugin) if block else account

    # ------------------------------------------------------------------ login
    async def login(self, request: Request) -> Response:
        settings = self.settings()
        session = self._session(request)
        if request.method == "GET":
            if session is not None and session.authenticated:
                return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
            if session is None:
                session = self.sessions.create(False, min(settings.session_lifetime, 900.0))
            response = self.render(
                request, session, "login.html", next=safe_next(request.query_params.get("next")), error=""
            )
            set_session_cookie(response, session, settings)
            return response
        form = await self._form(request)
        client = client_address(request)
        if session is None or form is None or not session.csrf_ok(form.get("csrf_token")):
            log.warning("login refused: CSRF token missing or wrong", client=client)
            return self._refused(
                request,
                403,
                "The login form was refused (its security token is missing or stale). Reload the page and try again.",
            )
        target = safe_next(form.get("next"))
        wait = self.limiter.retry_after(client, settings.login_attempts, settings.login_window)
        if wait:
            log.warning("login refused: too many failed attempts", client=client, retry_in=round(wait))
            response = self.render(
                request,
                session,
                "login.html",
                status=429,
                next=target,
                error=f"Too many failed logins. Try again in {math.ceil(wait / 60)} minute(s).",
            )
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        if not await self.auth.check(form.get("password", "")):
            failures = self.limiter.failed(client, settings.login_window)
            log.warning("login failed", client=client, failures=failures)
            return self.render(
                request, session, "login.html", status=401, next=target, error="Wrong password or token."
            )
        self.limiter.succeeded(client)
        self.sessions.drop(session.id)
        fresh = self.sessions.create(True, settings.session_lifetime)
        log.info("login", client=client)
        redirect = RedirectResponse(target, status_code=303)
        set_session_cookie(redirect, fresh, settings)
        return redirect

    async def logout(self, request: Request, session: Session, form: Form) -> Response:
        self.sessions.drop(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ orders
    def _filters(
        self, params: Mapping[str, str]
    ) -> tuple[dict[str, str], list[str] | None, OrderState | None, list[str]]:
        config = self.daemon.config
        names = sorted(config.connections) if config else []
        accounts = sorted({c.marketplace for c in config.connections.values()}) if config else []
        filters = {k: params.get(k, "").strip()[:200] for k in ("connection", "state", "marketplace", "q")}
        errors = []
        state = None
        if filters["state"]:
            try:
                state = OrderState(filters["state"])
            except ValueError:
                errors.append(f"Unknown state {filters['state']!r}.")
        connections: list[str] | None = None
        if filters["connection"]:
            connections = [filters["connection"]]
        if filters["marketplace"]:
            chosen = [
                n for n in names if config and config.connections[n].marketplace == filters["marketplace"]
            ]
            if filters["marketplace"] not in accounts:
                errors.append(f"Unknown marketplace account {filters['marketplace']!r}.")
            connections = [c for c in chosen if connections is None or c in connections]
        return filters, connections, state, errors

    async def orders(self, request: Request, session: Session, form: Form) -> Response:
        params = dict(request.query_params)
        filters, connections, state, errors = self._filters(params)
        size = self.settings().page_size
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        records, total = await self.journal.search_orders(
            connections=connections, state=state, text=filters["q"], limit=size, offset=(page - 1) * size
        )
        pages = max(1, math.ceil(total / size))
        config = self.daemon.config
        connection_rows = []
        for name, conn in sorted(config.connections.items()) if config else []:
            worker = self.daemon.workers.get(name)
            connection_rows.append(
                {
                    "name": name,
                    "marketplace": conn.marketplace,
                    "store": conn.store,
                    "active": conn.active,
                    "up": None if worker is None else worker.up,
                    "can_sync": worker is not None,
                }
            )
        rows = [{"record": r, "marketplace": self._marketplace_of(r.connection)[1]} for r in records]

        def link(to_page: int) -> str:
            query = {k: v for k, v in filters.items() if v}
            return "/orders?" + urlencode({**query, "page": to_page})

        return self.render(
            request,
            session,
            "orders.html",
            title="Orders",
            nav=await self._nav(),
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            prev_link=link(page - 1) if page > 1 else "",
            next_link=link(page + 1) if page < pages else "",
            filters=filters,
            errors=errors,
            states=[s.value for s in OrderState],
            connection_names=[c["name"] for c in connection_rows],
            accounts=sorted({c["marketplace"] for c in connection_rows}),
            connections=connection_rows,
        )

    async def order(self, request: Request, session: Session, form: Form) -> Response:
        connection, order_id = request.path_params["connection"], request.path_params["order_id"]
        record = await self.journal.get_order(connection, order_id)
        if record is None:
            return self.render(
                request,
                session,
                "error.html",
                status=404,
                title="Not found",
                message=f"No order {order_id} in connection {connection}.",
            )
        history = await self.journal.history(connection, order_id)
        shipments = await self.journal.shipments(connection=connection, order_id=order_id)
        alerts = await self.journal.alerts(connection=connection, order_id=order_id)
        account, title = self._marketplace_of(connection)
        return self.render(
            request,
            session,
            "order.html",
            title=f"Order {record.number or order_id}",
            nav=await self._nav(),
            record=record,
            order=record.order,
            history=history,
            shipments=shipments,
            alerts=alerts,
            account=account,
            marketplace=title,
            shipments_link="/shipments?" + urlencode({"connection": connection, "order": order_id}),
        )

    async def retry(self, request: Request, session: Session, form: Form) -> Response:
        connection, order_id = request.path_params["connection"], request.path_params["order_id"]
        result = await self.daemon.retry_order(connection, order_id)
        if result.get("ok"):
            session.flash(
                "ok",
                f"Order {order_id} is back in the pipeline (state {STATE_LABELS.get(result['state'], result['state'])}).",
            )
        else:
            session.flash(
                "error", f"Order {order_id} could not be retried: {result.get('error', 'unknown error')}."
            )
        return RedirectResponse(
            f"/orders/{quote(connection, safe='')}/{quote(order_id, safe='')}", status_code=303
        )

    async def sync(self, request: Request, session: Session, form: Form) -> Response:
        name = request.path_params["name"]
        worker = self.daemon.workers.get(name)
        if worker is None:
            session.flash("error", f"Connection {name} is not active; nothing to synchronize.")
        else:
            jobs = worker.trigger()
            session.flash("ok", f"Synchronizing {name} now ({', '.join(jobs)}).")
        return RedirectResponse(safe_next(form.get("back"), "/orders"), status_code=303)

    # ------------------------------------------------------------------ Order Shipments
    async def _held(self, connection: str | None, order_id: str | None) -> list[dict[str, Any]]:
        held: list[ShipmentRecord] = await self.journal.shipments(
            connection=connection or None, state=ShipmentState.HELD
        )
        groups: dict[tuple[str, str], list[ShipmentRecord]] = {}
        for shipment in held:
            if order_id and shipment.order_id != order_id:
                continue
            groups.setdefault((shipment.connection, shipment.order_id), []).append(shipment)
        result = []
        for (conn, oid), shipments in groups.items():
            record = await self.journal.get_order(conn, oid)
            result.append(
                {
                    "connection": conn,
                    "order_id": oid,
                    "record": record,
                    "shipments": shipments,
                    "marketplace": self._marketplace_of(conn)[1],
                    "anchor": f"order-{conn}-{oid}",
                }
            )
        return result

    async def shipments(
        self,
        request: Request,
        session: Session,
        form: Form,
        *,
        status: int = 200,
        errors: Mapping[str, list[str]] | None = None,
        values: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Response:
        connection = request.query_params.get("connection", "") if request.method == "GET" else ""
        order_id = request.query_params.get("order", "") if request.method == "GET" else ""
        groups = await self._held(connection, order_id)
        return self.render(
            request,
            session,
            "shipments.html",
            status=status,
            title="Order Shipments",
            nav=await self._nav(),
            groups=groups,
            only_order=order_id,
            errors=errors or {},
            values=values or {},
        )

    async def set_codes(self, request: Request, session: Session, form: Form) -> Response:
        connection, shipment_id = request.path_params["connection"], request.path_params["shipment_id"]
        found = [
            s for s in await self.journal.shipments(connection=connection) if s.shipment_id == shipment_id
        ]
        key = f"{connection}/{shipment_id}"
        if not found or found[0].state is not ShipmentState.HELD:
            session.flash("error", f"Shipment {shipment_id} is not waiting for codes (any more).")
            return RedirectResponse("/shipments", status_code=303)
        shipment = found[0]
        entered, problems = check_codes(
            form.get("tracking_code", ""),
            form.get("return_tracking_code", ""),
            form.get("carrier", ""),
            missing=shipment.missing,
            current_tracking=shipment.shipment.tracking_code,
        )
        if entered is None:
            return await self.shipments(
                request, session, form, status=400, errors={key: problems}, values={key: dict(form)}
            )
        try:
            await self.journal.set_shipment_codes(
                connection,
                shipment_id,
                time.time(),
                tracking_code=entered.tracking_code or None,
                return_tracking_code=entered.return_tracking_code or None,
                carrier=entered.carrier or None,
            )
        except (KeyError, IllegalTransition, ValueError) as error:
            return await self.shipments(
                request,
                session,
                form,
                status=409,
                errors={key: [f"Not saved: {type(error).__name__}"]},
                values={key: dict(form)},
            )
        log.info(
            "codes entered on the Order Shipments page",
            connection=connection,
            order_id=shipment.order_id,
            shipment_id=shipment_id,
        )
        worker = self.daemon.workers.get(connection)
        if worker is not None:
            worker.trigger(("poll_shipments",))
        record = await self.journal.get_order(connection, shipment.order_id)
        number = record.number if record is not None else shipment.order_id
        if entered.still_missing:
            session.flash(
                "error",
                f"Saved for order {number}, but the {missing_text(entered.still_missing)} is still missing.",
            )
        else:
            where = "now" if worker is not None else "when the connection is active again"
            session.flash(
                "ok", f"Codes saved for order {number}; the shipment is sent to the marketplace {where}."
            )
        return RedirectResponse("/shipments", status_code=303)

    # ------------------------------------------------------------------ JSON API
    def _api_allowed(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = self.daemon.api_token
        if (
            expected
            and scheme.lower() == "bearer"
            and hmac.compare_digest(token.strip().encode(), expected.encode())
        ):
            return True
        session = self._session(request)
        if session is None or not session.authenticated:
            return False
        return request.method == "GET" or session.csrf_ok(request.headers.get("x-csrf-token"))

    def api(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An API route: bearer token, or a session (with the CSRF token in ``X-CSRF-Token`` for writes)."""

        async def endpoint(request: Request) -> Response:
            if not self._api_allowed(request):
                return JSONResponse(
                    {"error": "authentication required"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return await handler(request)

        return endpoint

    async def api_orders(self, request: Request) -> Response:
        filters, connections, state, errors = self._filters(dict(request.query_params))
        if errors:
            return JSONResponse({"error": " ".join(errors)}, status_code=400)
        try:
            limit = min(500, max(1, int(request.query_params.get("limit", "50"))))
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            return JSONResponse({"error": "limit and offset must be integers"}, status_code=400)
        records, total = await self.journal.search_orders(
            connections=connections, state=state, text=filters["q"], limit=limit, offset=offset
        )
        return JSONResponse({"total": total, "orders": [r.summary() for r in records]})

    async def api_order(self, request: Request) -> Response:
        connection, order_id = request.path_params["connection"], request.path_params["order_id"]
        record = await self.journal.get_order(connection, order_id)
        if record is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        history = await self.journal.history(connection, order_id)
        shipments = await self.journal.shipments(connection=connection, order_id=order_id)
        return JSONResponse(
            record.summary()
            | {
                "order": record.order.model_dump(mode="json") if record.order else None,
                "shipments": [_shipment_json(s) for s in shipments],
                "history": [e.__dict__ for e in history],
            }
        )

    async def api_missing(self, request: Request) -> Response:
        held = await self.journal.shipments(
            connection=request.query_params.get("connection") or None, state=ShipmentState.HELD
        )
        return JSONResponse({"shipments": [_shipment_json(s) for s in held]})

    # ------------------------------------------------------------------ routes
    def routes(self) -> list[BaseRoute]:
        """The page and page-API routes."""

        async def home(request: Request) -> Response:
            return RedirectResponse("/orders", status_code=303)

        return [
            Route("/", home),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.page(self.logout), methods=["POST"]),
            Route("/orders", self.page(self.orders)),
            Route("/orders/{connection}/{order_id}", self.page(self.order)),
            Route("/orders/{connection}/{order_id}/retry", self.page(self.retry), methods=["POST"]),
            Route("/connections/{name}/sync", self.page(self.sync), methods=["POST"]),
            Route("/shipments", self.page(self.shipments)),
            Route("/shipments/{connection}/{shipment_id}/codes", self.page(self.set_codes), methods=["POST"]),
            Route("/api/v1/orders", self.api(self.api_orders)),
            Route("/api/v1/orders/{connection}/{order_id}", self.api(self.api_order)),
            Route("/api/v1/shipments/missing", self.api(self.api_missing)),
        ]


def page_routes(daemon: Daemon) -> list[BaseRoute]:
    """The routes of the pages of ``daemon``."""
    return Pages(daemon).routes()
