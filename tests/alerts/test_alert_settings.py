"""The [smtp], [alerts] and [web] sections: every problem reported with key path and file, via the same
check the daemon and `ordersyncd check` run; the alert queue's deduplication in the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordersyncd.alerts import load_alert_config
from ordersyncd.config import load_config
from ordersyncd.errors import ConfigError
from ordersyncd.journal import SqliteJournal
from ordersyncd.runtime import load_checked

from support import write_config

pytestmark = pytest.mark.anyio

BAD = """
[smtp]
hostname = "mail.example"
port = 70000
security = "ssl"
sender = "not-an-address"
password_env = "ORDERSYNCD_TEST_SMTP_PASSWORD"

[alerts]
recipients = ["ops@example.com", "nobody"]
reminder_interval = "soon"
digest_time = "25:00"

[web]
password_hash = "md5$abc"
cookie_secure = "no"
"""


async def test_every_problem_is_reported_with_key_and_file(tmp_path: Path):
    dropin = tmp_path / "conf.d"
    dropin.mkdir()
    (dropin / "50-alerts.toml").write_text(
        '[connections.fake.options]\nalert_recipients = ["ok@example.com", 7]\n'
    )
    path = write_config(tmp_path, "http://127.0.0.1:9", extra=BAD)
    with pytest.raises(ConfigError) as caught:
        await load_checked(path, environ={"ORDERSYNCD_TEST_SMTP_PASSWORD": "pw-never-shown-91"})
    problems = {p.path: (p.message, p.file) for p in caught.value.problems}
    main = str(path)
    assert problems["smtp.hostname"] == ("unknown key", main)
    assert problems["smtp.host"] == ("required key is missing", main)
    assert "65535" in problems["smtp.port"][0]
    assert "'starttls', 'tls' or 'none'" in problems["smtp.security"][0]
    assert "not an e-mail address" in problems["smtp.sender"][0]
    assert "'nobody'" in problems["alerts.recipients"][0]
    assert "reminder_interval" in " ".join(problems) and problems["alerts.reminder_interval"][1] == main
    assert "HH:MM" in problems["alerts.digest_time"][0]
    assert "scrypt" in problems["web.password_hash"][0]
    assert "boolean" in problems["web.cookie_secure"][0]
    assert problems["connections.fake.options.alert_recipients"] == (
        "must be a list of e-mail addresses",
        str(dropin / "50-alerts.toml"),
    )
    assert "pw-never-shown-91" not in str(caught.value)


def test_recipients_per_connection_fall_back_to_the_global_ones(tmp_path: Path):
    extra = (
        '[smtp]\nhost = "127.0.0.1"\nsender = "a@example.com"\n[alerts]\nrecipients = ["ops@example.com"]\n'
    )
    path = write_config(tmp_path, "http://127.0.0.1:9", extra=extra)
    path.write_text(
        path.read_text()
        + '\n[connections.other]\nmarketplace = "fakem"\nstore = "fakes"\n'
        + '[connections.other.options]\nalert_recipients = ["team@example.com"]\n'
    )
    settings, problems = load_alert_config(load_config(path))
    assert settings is not None, problems
    assert settings.recipients("fake") == ("ops@example.com",)
    assert settings.recipients("other") == ("team@example.com",)
    assert settings.smtp is not None and settings.smtp.effective_port == 587


def test_smtp_without_any_recipient_is_a_problem(tmp_path: Path):
    path = write_config(
        tmp_path, "http://127.0.0.1:9", extra='[smtp]\nhost = "h"\nsender = "a@example.com"\n'
    )
    settings, problems = load_alert_config(load_config(path))
    assert settings is None
    assert [(p.path, p.message) for p in problems] == [
        ("alerts.recipients", "no recipients for the alerts of connection(s) fake")
    ]


async def test_one_alert_per_order_and_condition(tmp_path: Path):
    journal = SqliteJournal(tmp_path / "j.sqlite3")
    await journal.open()
    try:
        first = await journal.queue_alert("c", "o1", "codes_missing", "return tracking code missing", 10)
        again = await journal.queue_alert("c", "o1", "codes_missing", "shipping tracking code missing", 11)
        assert first.id == again.id and again.state == "queued" and again.detail.startswith("shipping")
        assert [a.id for a in await journal.due_alerts(12)] == [first.id]
        assert await journal.record_alert_attempt(first.id, 12) is not None
        await journal.record_alert_sent(first.id, 13, reminder=False, reminder_due_at=100, detail="sent")
        assert await journal.due_alerts(99) == []
        assert await journal.record_alert_attempt(first.id, 50) is None  # not due: nobody may send it now
        assert await journal.resolve_alert("c", "o1", "codes_missing", 60)
        assert not await journal.resolve_alert("c", "o1", "codes_missing", 61)
        assert await journal.due_alerts(1_000) == []
        # The condition comes back later (another shipment): a new occurrence, queued again.
        back = await journal.queue_alert("c", "o1", "codes_missing", "return tracking code missing", 70)
        assert (
            back.id == first.id and back.state == "queued" and back.occurrence == 2 and back.sent_at is None
        )
    finally:
        await journal.close()
