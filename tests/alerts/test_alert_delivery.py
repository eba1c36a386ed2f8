"""Missing-code e-mails delivered to a real SMTP server (aiosmtpd on 127.0.0.1): content, deduplication,
an unreachable server, a restart, reminders, the digest, STARTTLS with login."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from alerts_support import SmtpSink, make_order, parts, seed_order
from prometheus_client import CollectorRegistry

from ordersyncd.alerts import AlertDispatcher, load_alert_config
from ordersyncd.config import load_config
from ordersyncd.journal import SqliteJournal
from ordersyncd.metrics import Metrics

from support import write_config

pytestmark = pytest.mark.anyio

PUBLIC = "https://orders.example.com"


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    journal: SqliteJournal
    dispatcher: AlertDispatcher
    metrics: Metrics
    clock: Clock
    config_path: Path

    def restart(self) -> AlertDispatcher:
        """A new dispatcher on a new journal object over the same file (the daemon restarted)."""
        config = load_config(self.config_path)
        settings, problems = load_alert_config(config)
        assert settings is not None, problems
        self.journal = SqliteJournal(config.daemon.state_dir / "journal.sqlite3")
        self.dispatcher = AlertDispatcher(
            self.journal, settings, config, base_url=lambda: PUBLIC, metrics=self.metrics, clock=self.clock
        )
        return self.dispatcher


def smtp_toml(port: int, *, security: str = "none", login: str = "", alerts: str = "") -> str:
    return f"""
[smtp]
host = "127.0.0.1"
port = {port}
security = "{security}"
sender = "ordersyncd@shop.example"
{login}

[alerts]
recipients = ["ops@shop.example", "boss@shop.example"]
retry_initial = "30s"
retry_max = "10m"
{alerts}
"""


@pytest.fixture
async def setup(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    sink: SmtpSink = request.getfixturevalue("sink")
    extra = getattr(request, "param", "")
    path = write_config(tmp_path, "http://127.0.0.1:9", extra=smtp_toml(sink.port, alerts=extra))
    config = load_config(path)
    settings, problems = load_alert_config(config)
    assert settings is not None, problems
    journal = SqliteJournal(config.daemon.state_dir / "journal.sqlite3")
    await journal.open()
    clock = Clock()
    metrics = Metrics(CollectorRegistry())
    dispatcher = AlertDispatcher(
        journal, settings, config, base_url=lambda: PUBLIC, metrics=metrics, clock=clock
    )
    s = Setup(journal, dispatcher, metrics, clock, path)
    try:
        yield s
    finally:
        await s.journal.close()


@pytest.fixture
def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


async def test_one_email_with_headers_both_parts_and_the_link(setup: Setup, sink: SmtpSink):
    await seed_order(setup.journal, make_order(1))
    assert await setup.dispatcher.run_once() == 1
    (message,) = sink.received()
    assert message["Subject"] == "Fake marketplace fake: order 10001 - return tracking code missing"
    assert message["From"] == "ordersyncd@shop.example"
    assert message["To"] == "ops@shop.example, boss@shop.example"
    assert sink.envelopes == [("ordersyncd@shop.example", ["ops@shop.example", "boss@shop.example"])]
    assert message["Message-ID"] == "<alert-1.1.0@shop.example>"
    text, html = parts(message)
    link = f"{PUBLIC}/shipments?connection=fake&order=MO-00001"
    for body in (text, html):
        assert "return tracking code" in body
        assert "SKU-001" in body and "Sneaker" in body and "DHL" in body
    assert link in text
    assert f'href="{link.replace("&", "&amp;")}"' in html
    # Deduplicated: the pipeline queueing the same condition again and another round send nothing.
    await setup.journal.queue_alert(
        "fake", "MO-00001", "codes_missing", "return tracking code missing", 2_000
    )
    assert await setup.dispatcher.run_once() == 0
    assert len(sink.received()) == 1
    (alert,) = await setup.journal.alerts()
    assert alert.state == "sent" and alert.reminder_due_at == pytest.approx(1_000 + 86_400)
    history = await setup.journal.history("fake", "MO-00001")
    assert any(e.system == "smtp" and e.direction == "out" and "2 recipient(s)" in e.detail for e in history)
    assert setup.metrics.alerts_sent._value.get() == 1


async def test_server_down_waits_then_delivers_exactly_once_and_a_restart_sends_nothing_twice(
    setup: Setup, sink: SmtpSink
):
    await seed_order(setup.journal, make_order(2))
    sink.stop()
    assert await setup.dispatcher.run_once() == 0
    (alert,) = await setup.journal.alerts()
    assert alert.state == "queued" and alert.attempts == 1
    assert "Connect" in alert.last_error or "refused" in alert.last_error.lower()
    assert alert.next_attempt_at == pytest.approx(1_000 + 30)
    assert setup.metrics.alerts_failed._value.get() == 1
    # Still down at the next try: the wait doubles.
    setup.clock.now += 31
    assert await setup.dispatcher.run_once() == 0
    (alert,) = await setup.journal.alerts()
    assert alert.next_attempt_at == pytest.approx(1_031 + 60)
    # Back up, but before the retry is due: nothing yet.
    sink.start()
    assert await setup.dispatcher.run_once() == 0
    setup.clock.now += 61
    assert await setup.dispatcher.run_once() == 1
    assert len(sink.received()) == 1
    # The daemon restarts: nothing is sent again.
    await setup.journal.close()
    await setup.restart().journal.open()
    for _ in range(3):
        setup.clock.now += 600
        assert await setup.dispatcher.run_once() == 0
    assert len(sink.received()) == 1


async def test_reminder_after_the_interval_and_resolution_cancels_it(setup: Setup, sink: SmtpSink):
    await seed_order(setup.journal, make_order(3))
    assert await setup.dispatcher.run_once() == 1
    setup.clock.now += 86_400 - 1
    assert await setup.dispatcher.run_once() == 0
    setup.clock.now += 2
    assert await setup.dispatcher.run_once() == 1
    first, reminder = sink.received()
    assert str(reminder["Subject"]).strip().startswith("Reminder 1: ")  # a long header may be folded
    assert reminder["Message-ID"] != first["Message-ID"]
    assert "still missing" in parts(reminder)[0]
    # The codes arrive (the pipeline resolves the alert): no further reminder.
    assert await setup.journal.resolve_alert("fake", "MO-00003", "codes_missing", setup.clock.now)
    setup.clock.now += 3 * 86_400
    assert await setup.dispatcher.run_once() == 0
    assert len(sink.received()) == 2
    (alert,) = await setup.journal.alerts()
    assert alert.state == "resolved" and alert.reminder_due_at is None and alert.reminders_sent == 1


@pytest.mark.parametrize(
    "setup", ['digest = true\ndigest_time = "00:00"\nreminder_interval = 0'], indirect=True
)
async def test_daily_digest_lists_the_open_alerts_once_a_day(setup: Setup, sink: SmtpSink):
    await seed_order(setup.journal, make_order(4))
    await seed_order(setup.journal, make_order(5, number="N-5"))
    assert await setup.dispatcher.run_once() == 3  # two alerts, one digest
    digest = next(m for m in sink.received() if "waiting for tracking codes" in m["Subject"])
    text, _ = parts(digest)
    assert "order 10004" in text and "order N-5" in text
    assert f"{PUBLIC}/shipments?connection=fake&order=MO-00005" in text
    setup.clock.now += 3_600
    assert await setup.dispatcher.run_once() == 0  # same day, no reminders configured
    setup.clock.now += 86_400
    assert await setup.dispatcher.run_once() == 1  # the next day's digest
    assert len(sink.received()) == 4


async def test_no_email_when_the_codes_arrived_before_delivery(setup: Setup, sink: SmtpSink):
    shipment_id = await seed_order(setup.journal, make_order(6))
    await setup.journal.set_shipment_codes(
        "fake", shipment_id, 1_001, tracking_code=None, return_tracking_code="RET6", carrier=None
    )
    from ordersyncd.journal import ShipmentState

    await setup.journal.set_shipment_state("fake", shipment_id, ShipmentState.SENT, 1_002)
    assert await setup.dispatcher.run_once() == 0
    assert sink.received() == []
    (alert,) = await setup.journal.alerts()
    assert alert.state == "resolved"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def test_starttls_and_login(tmp_path: Path, ca: trustme.CA):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    password = "smtp-pass-3b9e"
    (tmp_path / "smtp-password").write_text(password + "\n")
    sink = SmtpSink(tls_context=server_context, credentials=("alerts", password)).start()
    try:
        login = (
            f'username = "alerts"\npassword_file = "{tmp_path / "smtp-password"}"\nca_bundle = "{ca_bundle}"'
        )
        path = write_config(
            tmp_path / "d", "http://127.0.0.1:9", extra=smtp_toml(sink.port, security="starttls", login=login)
        )
        config = load_config(path)
        settings, problems = load_alert_config(config)
        assert settings is not None and settings.smtp is not None, problems
        assert password not in repr(settings)
        journal = SqliteJournal(config.daemon.state_dir / "journal.sqlite3")
        await journal.open()
        try:
            clock = Clock()
            dispatcher = AlertDispatcher(journal, settings, config, base_url=lambda: PUBLIC, clock=clock)
            await seed_order(journal, make_order(7))
            assert await dispatcher.run_once() == 1
            assert sink.logins == [("alerts", True)]
            assert len(sink.received()) == 1
            # A wrong password: refused, recorded, retried later; the password is never in the error.
            wrong = settings.smtp.model_copy(update={"password": type(settings.smtp.password)("wrong-pass")})
            dispatcher.settings = type(settings)(wrong, settings.alerts, settings.connection_recipients)
            await seed_order(journal, make_order(8))
            assert await dispatcher.run_once() == 0
            failed = next(a for a in await journal.alerts() if a.order_id == "MO-00008")
            assert failed.state == "queued" and "535" in failed.last_error
            assert "wrong-pass" not in failed.last_error and password not in failed.last_error
            assert len(sink.received()) == 1
        finally:
            await journal.close()
    finally:
        sink.stop()
