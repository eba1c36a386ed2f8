"""The alert dispatcher: a daemon task that delivers due alerts, reminders and the daily digest.

Durability and "never sent twice because of a restart": an alert lives in the journal; a delivery attempt is
counted *before* the SMTP server is called and the outcome recorded right after it answers. The one window
that cannot be closed is between the SMTP server accepting the message and the journal recording it (a crash
there): the alert is then still queued and is sent again after the restart. The repeated e-mail carries the
same Message-ID, so mail systems that deduplicate drop it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import urlencode

import anyio
import structlog

from ..config import Config
from ..journal import Journal, ShipmentState
from ..journal.base import AlertRecord
from ..metrics import Metrics
from .mail import AlertLine, DigestEntry, OrderAlert, render_alert, render_digest
from .settings import AlertConfig, SmtpSettings
from .smtp import DELIVERY_ERRORS, send_mail

__all__ = ["AlertDispatcher", "shipments_link"]

log = structlog.get_logger("ordersyncd.alerts")

Sender = Callable[[SmtpSettings, EmailMessage], Awaitable[None]]
DIGEST_CURSOR = ("_alerts", "digest")


def shipments_link(base_url: str, connection: str, order_id: str) -> str:
    """The link to one order on the Order Shipments page."""
    return f"{base_url.rstrip('/')}/shipments?{urlencode({'connection': connection, 'order': order_id})}"


def _error_text(error: BaseException) -> str:
    text = str(error).strip().replace("\n", " ")[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class AlertDispatcher:
    """Delivers what is due in the journal's alert queue, with backoff while the SMTP server is unreachable."""

    def __init__(
        self,
        journal: Journal,
        settings: AlertConfig,
        core: Config,
        *,
        base_url: Callable[[], str],
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        sender: Sender = send_mail,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self.core = core
        self.base_url = base_url
        self.metrics = metrics
        self.clock = clock
        self.sender = sender
        self._wake = anyio.Event()
        self._digest_retry_at = 0.0

    def update(self, settings: AlertConfig, core: Config) -> None:
        """Use a reloaded configuration from the next round on."""
        self.settings, self.core = settings, core
        self.wake()

    def wake(self) -> None:
        """Look at the queue now (after an alert was queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver what is due, every ``check_interval``, until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception as error:  # never let one bad round stop the dispatcher
                log.error("alert round failed", error=_error_text(error))
            self._wake = anyio.Event()
            with anyio.move_on_after(self.settings.alerts.check_interval):
                await self._wake.wait()

    async def run_once(self) -> int:
        """One round: every due alert, then the digest when it is due. Returns how many e-mails were sent."""
        smtp = self.settings.smtp
        if smtp is None or not self.settings.alerts.enabled:
            return 0
        sent = 0
        for alert in await self.journal.due_alerts(self.clock()):
            if await self._deliver(smtp, alert):
                sent += 1
        if self.settings.alerts.digest and await self._digest(smtp):
            sent += 1
        return sent

    # ------------------------------------------------------------------ one alert
    async def _deliver(self, smtp: SmtpSettings, alert: AlertRecord) -> bool:
        bound = log.bind(connection=alert.connection, order_id=alert.order_id, condition=alert.condition)
        now = self.clock()
        shipments = await self.journal.shipments(connection=alert.connection, order_id=alert.order_id)
        held = [s for s in shipments if s.state is ShipmentState.HELD]
        if not held:
            if not any(s.state is ShipmentState.PENDING for s in shipments):
                await self.journal.resolve_alert(alert.connection, alert.order_id, alert.condition, now)
                bound.info("alert resolved: no shipment is held any more")
            return False  # a pending shipment is being (re)considered; look again next round
        order = await self.journal.get_order(alert.connection, alert.order_id)
        recipients = self.settings.recipients(alert.connection)
        if order is None or not recipients:
            bound.warning(
                "alert cannot be sent", reason="unknown order" if order is None else "no recipients"
            )
            return False
        attempt = await self.journal.record_alert_attempt(alert.id, now)
        if attempt is None:
            return False
        reminder = alert.reminders_sent + 1 if alert.state == "sent" else 0
        missing = tuple(dict.fromkeys(m for s in held for m in s.missing))
        connection = self.core.connections.get(alert.connection)
        account = connection.marketplace if connection is not None else ""
        block = self.core.marketplaces.get(account)
        content = OrderAlert(
            alert_id=alert.id,
            occurrence=alert.occurrence,
            connection=alert.connection,
            marketplace=block.plugin
            if block is not None
            else (order.order.marketplace if order.order else ""),
            marketplace_account=account,
            order_id=order.order_id,
            order_number=order.number or order.order_id,
            store_order_number=order.store_order_number,
            missing=missing,
            carrier=", ".join(dict.fromkeys(s.shipment.carrier for s in held if s.shipment.carrier)),
            lines=tuple(
                AlertLine(line.sku or line.ean or line.marketplace_article_id, line.title, line.quantity)
                for line in (order.order.lines if order.order else ())
            ),
            link=shipments_link(self.base_url(), alert.connection, alert.order_id),
            reminder=reminder,
        )
        message = render_alert(content, smtp.sender, recipients)
        try:
            await self.sender(smtp, message)
        except DELIVERY_ERRORS as error:
            delay = min(
                self.settings.alerts.retry_max,
                self.settings.alerts.retry_initial * 2 ** (attempt.attempts - 1),
            )
            await self.journal.record_alert_failed(
                alert.id, self.clock(), _error_text(error), self.clock() + delay
            )
            if self.metrics is not None:
                self.metrics.alerts_failed.inc()
            bound.warning(
                "alert e-mail not delivered; will retry",
                error=_error_text(error),
                attempt=attempt.attempts,
                retry_in=round(delay, 1),
                smtp=f"{smtp.host}:{smtp.effective_port}",
            )
            return False
        interval = self.settings.alerts.reminder_interval
        done = self.clock()
        await self.journal.record_alert_sent(
            alert.id,
            done,
            reminder=bool(reminder),
            reminder_due_at=done + interval if interval > 0 else None,
            detail=f"{'reminder' if reminder else 'alert'} e-mail sent to {len(recipients)} recipient(s): "
            f"{content.missing_text} missing",
        )
        if self.metrics is not None:
            self.metrics.alerts_sent.inc()
        bound.info("alert e-mail sent", reminder=reminder, recipients=len(recipients))
        return True

    # ------------------------------------------------------------------ digest
    async def _digest(self, smtp: SmtpSettings) -> bool:
        now = self.clock()
        moment = datetime.fromtimestamp(now, UTC)
        day = moment.date().isoformat()
        if moment.strftime("%H:%M") < self.settings.alerts.digest_time or now < self._digest_retry_at:
            return False
        if await self.journal.get_cursor(*DIGEST_CURSOR) == day:
            return False
        open_alerts = await self.journal.alerts(states=("queued", "sent"))
        if open_alerts:
            entries = [
                DigestEntry(
                    connection=a.connection,
                    order_number=(await self._number(a)),
                    missing_text=a.detail,
                    since=datetime.fromtimestamp(a.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    link=shipments_link(self.base_url(), a.connection, a.order_id),
                )
                for a in open_alerts
            ]
            message = render_digest(entries, day, smtp.sender, self.settings.alerts.recipients)
            try:
                await self.sender(smtp, message)
            except DELIVERY_ERRORS as error:
                self._digest_retry_at = now + self.settings.alerts.retry_initial
                if self.metrics is not None:
                    self.metrics.alerts_failed.inc()
                log.warning("alert digest not delivered; will retry", error=_error_text(error))
                return False
            if self.metrics is not None:
                self.metrics.alerts_sent.inc()
            log.info("alert digest sent", alerts=len(entries))
        await self.journal.set_cursor(*DIGEST_CURSOR, day)
        return bool(open_alerts)

    async def _number(self, alert: AlertRecord) -> str:
        order = await self.journal.get_order(alert.connection, alert.order_id)
        return order.number if order is not None and order.number else alert.order_id
