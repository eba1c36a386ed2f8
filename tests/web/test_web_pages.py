"""The pages and their JSON API on the daemon's ASGI app (Starlette's test client over the real journal):
authentication, session cookie, CSRF, rate-limited logins, escaping, the Order Shipments form, filters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry
from web_support import make_order, seed_order

from ordersyncd.config import Config, load_config
from ordersyncd.journal import OrderState, ShipmentState, SqliteJournal
from ordersyncd.metrics import Metrics
from ordersyncd.web import create_app
from ordersyncd.web.passwords import hash_password
from ordersyncd.web.settings import WebSettings, load_web_settings

from support import write_config

PASSWORD = "correct horse battery"  # the page password of these tests
API_TOKEN = "api-token-for-tests-5d2c"
TOKEN = "login-token-77f1"

pytestmark = pytest.mark.anyio


class FakeWorker:
    def __init__(self) -> None:
        self.up: bool | None = True
        self.triggered: list[tuple[str, ...]] = []

    def trigger(
        self, jobs: tuple[str, ...] = ("poll_orders", "advance_orders", "poll_shipments")
    ) -> list[str]:
        self.triggered.append(jobs)
        return list(jobs)


@dataclass
class StubDaemon:
    """What the app uses of the daemon, over a real journal."""

    journal: SqliteJournal
    config: Config
    web_settings: WebSettings
    api_token: str = API_TOKEN
    workers: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=lambda: Metrics(CollectorRegistry()))

    def readiness(self) -> tuple[bool, str]:
        return True, ""

    def status(self) -> dict[str, Any]:
        return {}

    async def refresh_gauges(self) -> None:
        return None

    async def retry_order(self, connection: str, order_id: str) -> dict[str, Any]:
        record = await self.journal.retry_order(connection, order_id, 2_000)
        return {"ok": True, "state": record.state.value}


@dataclass
class Site:
    client: httpx.AsyncClient
    daemon: StubDaemon
    app: Any

    def other_client(self, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 5000))
        return httpx.AsyncClient(transport=transport, base_url="https://testserver", follow_redirects=True)

    async def login(self, password: str = PASSWORD) -> Any:
        page = await self.client.get("/login")
        csrf = csrf_of(page.text)
        return await self.client.post(
            "/login",
            data={"csrf_token": csrf, "password": password, "next": "/orders"},
            follow_redirects=False,
        )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    (tmp_path / "token").write_text(TOKEN + "\n")
    extra = (
        f'[web]\npassword_hash = "{hash_password(PASSWORD, n=2**10)}"\ntoken_file = "{tmp_path / "token"}"\n'
    )
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9", extra=extra))
    settings, problems = load_web_settings(config)
    assert settings is not None, problems
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    daemon = StubDaemon(journal, config, settings, workers={"fake": FakeWorker()})
    await journal.open()
    app = create_app(daemon)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://testserver", follow_redirects=True
        ) as client:
            yield Site(client, daemon, app)
    finally:
        await journal.close()


async def test_unauthenticated_pages_and_api_are_refused(site: Site):
    shipment = await seed_order(site.daemon.journal, make_order(1))
    for path in ("/orders", "/orders/fake/MO-00001", "/shipments?connection=fake&order=MO-00001", "/"):
        response = await site.client.get(path, follow_redirects=True)
        assert response.url.path == "/login", path
        assert "Muster1" not in response.text and "SKU-001" not in response.text  # no order data
    response = await site.client.get("/shipments?connection=fake&order=MO-00001", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fshipments%3Fconnection%3Dfake%26order%3DMO-00001"
    for path in (
        f"/shipments/fake/{shipment}/codes",
        "/orders/fake/MO-00001/retry",
        "/connections/fake/sync",
    ):
        assert (await site.client.post(path, data={"return_tracking_code": "R1"})).status_code == 401
    for path in ("/api/v1/orders", "/api/v1/orders/fake/MO-00001", "/api/v1/shipments/missing"):
        assert (await site.client.get(path)).status_code == 401
        assert (await site.client.get(path, headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (
            await site.client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"})
        ).status_code == 200
    assert (await site.daemon.journal.shipments())[0].state is ShipmentState.HELD
    assert (await site.client.get("/healthz")).status_code == 200  # health stays open


async def test_login_cookie_is_hardened_and_failed_logins_are_limited_and_logged(site: Site):
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            assert (await site.login("wrong password")).status_code == 401
        limited = await site.login(PASSWORD)
    assert limited.status_code == 429 and "Too many failed logins" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    failures = [e for e in logs if e["event"] == "login failed"]
    assert len(failures) == 5 and failures[-1]["failures"] == 5 and failures[-1]["client"] == "127.0.0.1"
    assert any(e["event"] == "login refused: too many failed attempts" for e in logs)
    assert not any("wrong password" in str(e) for e in logs)
    # Another client is not affected; the token works like the password.
    other = site.other_client("10.0.0.2")
    page = await other.get("/login")
    response = await other.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "password": TOKEN, "next": "/shipments"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/shipments"
    cookie = response.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=strict" in cookie.replace("samesite", "SameSite")
    )
    assert (await other.get("/orders")).status_code == 200


async def test_login_refuses_a_forged_form_and_an_open_redirect(site: Site):
    await site.client.get("/login")
    assert (await site.client.post("/login", data={"password": PASSWORD})).status_code == 403
    page = await site.client.get("/login")
    response = await site.client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/orders"


async def test_forged_posts_without_the_csrf_token_are_refused(site: Site):
    shipment = await seed_order(site.daemon.journal, make_order(2))
    assert (await site.login()).status_code == 303
    page = await site.client.get("/shipments")
    token = csrf_of(page.text)
    for data in ({"return_tracking_code": "RET2"}, {"return_tracking_code": "RET2", "csrf_token": "x" * 43}):
        response = await site.client.post(f"/shipments/fake/{shipment}/codes", data=data)
        assert response.status_code == 403 and "refused" in response.text
    assert (await site.daemon.journal.shipments())[0].state is ShipmentState.HELD
    assert site.daemon.workers["fake"].triggered == []
    # With the token, the codes are taken, the worker is woken and the page says so.
    response = await site.client.post(
        f"/shipments/fake/{shipment}/codes",
        data={"return_tracking_code": "RET2", "carrier": "DHL", "csrf_token": token},
    )
    assert response.status_code == 200 and response.url.path == "/shipments"
    assert "Codes saved for order 10002" in response.text
    (record,) = await site.daemon.journal.shipments()
    assert record.state is ShipmentState.PENDING and record.shipment.return_tracking_code == "RET2"
    assert site.daemon.workers["fake"].triggered == [("poll_shipments",)]


async def test_order_shipments_form_validates_with_clear_messages(site: Site):
    shipment = await seed_order(site.daemon.journal, make_order(3))
    await site.login()
    token = csrf_of((await site.client.get("/shipments")).text)
    url = f"/shipments/fake/{shipment}/codes"
    cases = {
        "": "Enter the return tracking code.",
        "<b>x</b>": "The return tracking code must be 3 to 64 characters",
        "TRACK0003": "The return tracking code must differ from the shipping tracking code.",
    }
    for value, message in cases.items():
        response = await site.client.post(
            url, data={"return_tracking_code": value, "tracking_code": "TRACK0003", "csrf_token": token}
        )
        assert response.status_code == 400
        assert message in response.text
        if value:
            assert (
                "&lt;b&gt;x&lt;/b&gt;" in response.text or value == "TRACK0003"
            )  # the entry is kept, escaped
    assert (await site.daemon.journal.shipments())[0].state is ShipmentState.HELD


async def test_xss_in_order_fields_is_rendered_inert(site: Site):
    evil = "<script>alert(1)</script>"
    order = make_order(4, number='N4"><img src=x onerror=alert(2)>', title=evil, first_name=evil)
    await seed_order(site.daemon.journal, order)
    await site.login()
    pages = [
        (await site.client.get(p)).text
        for p in ("/orders", "/orders/fake/MO-00004", "/shipments", "/orders?q=%3Cscript%3E")
    ]
    for html in pages:
        assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    assert "onerror=alert(2)&gt;" in pages[0]
    assert (
        "script-src" not in (await site.client.get("/orders")).headers["content-security-policy"]
    )  # default-src 'none'


async def test_no_secret_is_ever_rendered(site: Site):
    await seed_order(site.daemon.journal, make_order(5))
    await site.login()
    for path in ("/orders", "/orders/fake/MO-00005", "/shipments", "/api/v1/orders/fake/MO-00005", "/login"):
        body = (await site.client.get(path)).text
        assert TOKEN not in body and API_TOKEN not in body and "scrypt$" not in body


async def test_orders_list_filters_paging_details_retry_and_sync(site: Site):
    for index in range(1, 8):
        await seed_order(site.daemon.journal, make_order(index))
    await seed_order(site.daemon.journal, make_order(20), state=OrderState.NEEDS_ATTENTION)
    site.daemon.web_settings = site.daemon.web_settings.model_copy(update={"page_size": 5})
    await site.login()
    first = await site.client.get("/orders")
    assert "8 order(s), page 1 of 2" in first.text and "older &rarr;" in first.text
    assert "/orders?page=2" in first.text
    assert "codes missing" in first.text
    second = await site.client.get("/orders?page=2")
    assert "page 2 of 2" in second.text and "newer" in second.text
    only = await site.client.get("/orders?state=needs_attention")
    assert "1 order(s)" in only.text and "10020" in only.text and "10001" not in only.text
    assert "1 order(s)" in (await site.client.get("/orders?q=10003")).text
    assert "0 order(s)" in (await site.client.get("/orders?marketplace=fakem&connection=other")).text
    assert "8 order(s)" in (await site.client.get("/orders?marketplace=fakem")).text
    assert "Unknown state" in (await site.client.get("/orders?state=bogus")).text
    details = (await site.client.get("/orders/fake/MO-00001")).text
    for fragment in (
        "Hauptstr. 1",
        "SKU-001",
        "Sneaker",
        "FMO-00001",
        "return tracking code",
        "fetched from marketplace",
        "&larr; in",
        "codes missing",
    ):
        assert fragment in details, fragment
    assert (await site.client.get("/orders/fake/nope")).status_code == 404
    token = csrf_of(details)
    retried = await site.client.post("/orders/fake/MO-00020/retry", data={"csrf_token": token})
    assert "back in the pipeline" in retried.text
    assert (await site.daemon.journal.get_order("fake", "MO-00020")).state is OrderState.CREATED
    synced = await site.client.post("/connections/fake/sync", data={"csrf_token": token, "back": "/orders"})
    assert "Synchronizing fake now" in synced.text
    api = (
        await site.client.get(
            "/api/v1/orders?state=held&limit=2", headers={"Authorization": f"Bearer {API_TOKEN}"}
        )
    ).json()
    assert api["total"] == 7 and len(api["orders"]) == 2
