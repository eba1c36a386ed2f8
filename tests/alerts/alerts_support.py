"""Helpers of the alert and page tests: a real SMTP server (aiosmtpd) on 127.0.0.1, seeded journal orders."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ordersyncd.journal import Journal, OrderState, ShipmentState
from ordersyncd.model import (
    Address,
    Customer,
    Money,
    Order,
    OrderLine,
    Payment,
    RawOrder,
    Shipment,
    ShipmentLine,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content or b"", policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(message)
            self.sink.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts. ``stop()`` then ``start()``
    brings it down and back on the same port (an unreachable SMTP server in between)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.tls_context = tls_context
        self.credentials = credentials
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, bool]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        ok = self.credentials is not None and (user, password) == self.credentials
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False)  # unhandled failure: aiosmtpd answers 535

    def start(self) -> SmtpSink:
        kwargs: dict[str, Any] = {}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, "both a plain-text and an HTML part"
    return str(text.get_content()), str(html.get_content())


def make_order(
    index: int, *, number: str | None = None, title: str = "Sneaker", first_name: str = "Erika"
) -> Order:
    address = Address(
        first_name=first_name,
        last_name=f"Muster{index}",
        street="Hauptstr. 1",
        postal_code="10115",
        city="Berlin",
        country_code="DE",
    )
    return Order(
        marketplace="fake",
        order_id=f"MO-{index:05d}",
        number=number or f"{10000 + index}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        customer=Customer(
            email=f"buyer{index}@example.org", first_name=first_name, last_name=f"Muster{index}"
        ),
        billing_address=address,
        shipping_address=address,
        lines=(
            OrderLine(
                line_id=f"L{index}-0",
                sku=f"SKU-{index:03d}",
                title=title,
                quantity=2,
                unit_price=Money(amount=Decimal("19.90"), currency="EUR"),
            ),
        ),
        shipping_cost=Money(amount=Decimal("4.90"), currency="EUR"),
        payment=Payment(method="paypal"),
    )


async def seed_order(
    journal: Journal,
    order: Order,
    *,
    connection: str = "fake",
    missing: tuple[str, ...] = ("return_tracking_code",),
    state: OrderState = OrderState.HELD,
    now: float = 1_000.0,
) -> str:
    """Put ``order`` into the journal, acknowledged; with ``state`` HELD also a held shipment missing
    ``missing`` and its queued alert. Returns the shipment id (or '')."""
    await journal.persist_fetched(
        connection, [RawOrder(order_id=order.order_id, payload={"id": order.order_id})], now, system="fakem"
    )
    await journal.set_mapped(connection, order.order_id, order, now)
    await journal.transition(
        connection,
        order.order_id,
        OrderState.CREATED,
        now,
        "created",
        store_order_id="9" + order.order_id[-4:],
        store_order_number="S" + order.order_id[-4:],
    )
    if state is OrderState.NEEDS_ATTENTION:
        await journal.transition(
            connection, order.order_id, OrderState.NEEDS_ATTENTION, now, "refused", reason="unknown product"
        )
        return ""
    await journal.transition(connection, order.order_id, OrderState.ACKNOWLEDGED, now, "acknowledged")
    if state is not OrderState.HELD:
        return ""
    shipment = Shipment(
        shipment_id=f"F{order.order_id}",
        order_id=order.order_id,
        carrier="DHL",
        tracking_code="" if "tracking_code" in missing else f"TRACK{order.order_id[-4:]}",
        lines=tuple(ShipmentLine(line_id=line.line_id, quantity=line.quantity) for line in order.lines),
    )
    await journal.upsert_shipment(connection, shipment, now)
    await journal.queue_alert(
        connection, order.order_id, "codes_missing", "return tracking code missing", now
    )
    await journal.set_shipment_state(
        connection, shipment.shipment_id, ShipmentState.HELD, now, missing=missing
    )
    await journal.transition(connection, order.order_id, OrderState.HELD, now, "held")
    return shipment.shipment_id
