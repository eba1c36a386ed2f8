"""Rendering alert e-mails: plain text plus HTML (Jinja2 templates in ``templates/``, HTML autoescaped)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import jinja2

from .conditions import CODE_NAMES, missing_text

__all__ = ["CODE_NAMES", "DigestEntry", "OrderAlert", "marketplace_title", "render_alert", "render_digest"]

_TITLES = {"zalando": "Zalando", "idealo": "idealo", "fake-marketplace": "Fake marketplace"}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("ordersyncd.alerts", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def marketplace_title(plugin: str) -> str:
    """The name people know a marketplace plugin by (``Zalando`` for ``zalando``)."""
    return _TITLES.get(plugin, plugin)


@dataclass(frozen=True)
class AlertLine:
    """One order line as shown in the e-mail."""

    sku: str
    title: str
    quantity: int


@dataclass(frozen=True)
class OrderAlert:
    """Everything a missing-code e-mail says about one order."""

    alert_id: int
    occurrence: int
    connection: str
    marketplace: str  # plugin name
    marketplace_account: str
    order_id: str
    order_number: str
    store_order_number: str
    missing: tuple[str, ...]
    carrier: str
    lines: tuple[AlertLine, ...]
    link: str
    reminder: int = 0  # 0: the first e-mail; n: the n-th reminder

    @property
    def missing_text(self) -> str:
        """``return tracking code`` or ``shipping tracking code and return tracking code``."""
        return missing_text(self.missing)

    @property
    def subject(self) -> str:
        """Names the marketplace, the connection and the order number."""
        prefix = f"Reminder {self.reminder}: " if self.reminder else ""
        return (
            f"{prefix}{marketplace_title(self.marketplace)} {self.connection}: order {self.order_number} "
            f"- {self.missing_text} missing"
        )


@dataclass(frozen=True)
class DigestEntry:
    """One open alert in the daily digest."""

    connection: str
    order_number: str
    missing_text: str
    since: str
    link: str


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2] or "ordersyncd.invalid"


def _message(
    subject: str, sender: str, recipients: Sequence[str], message_id: str, text: str, html: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def render_alert(alert: OrderAlert, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The e-mail of one alert. Its Message-ID is the same for every attempt of the same e-mail, so a mail
    system that sees it twice (the one window described in ``docs/alerts-and-pages.md``) can drop the copy."""
    context = {"alert": alert, "title": marketplace_title(alert.marketplace)}
    text = _env.get_template("alert.txt").render(context)
    html = _env.get_template("alert.html").render(context)
    message_id = f"<alert-{alert.alert_id}.{alert.occurrence}.{alert.reminder}@{_domain(sender)}>"
    return _message(alert.subject, sender, recipients, message_id, text, html)


def render_digest(
    entries: Sequence[DigestEntry], day: str, sender: str, recipients: Sequence[str]
) -> EmailMessage:
    """The daily digest of every open alert."""
    context = {"entries": entries, "day": day}
    text = _env.get_template("digest.txt").render(context)
    html = _env.get_template("digest.html").render(context)
    subject = f"ordersyncd: {len(entries)} order(s) still waiting for tracking codes ({day})"
    return _message(subject, sender, recipients, f"<digest-{day}@{_domain(sender)}>", text, html)
