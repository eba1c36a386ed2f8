"""The journal interface the pipeline, runtime, CLI and pages use."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import Order, RawOrder, Shipment
from .states import OrderState, ShipmentState

__all__ = ["AlertRecord", "Event", "Journal", "OrderRecord", "ShipmentRecord", "StockRecord"]


@dataclass(frozen=True)
class Event:
    """One line of an order's history: a state change, a remote call or a note."""

    at: float
    kind: str  # "transition" | "call" | "note" | "error"
    detail: str
    direction: str = ""  # "out" (to store or marketplace) | "in" (from) | ""
    system: str = ""
    outcome: str = ""


@dataclass(frozen=True)
class StockRecord:
    """What was last pushed for one product of a marketplace account, and how the marketplace answered.

    ``product`` is ``ean:<EAN>`` when the store knows the EAN, else ``sku:<SKU>``. ``status`` is a
    :class:`ordersyncd.model.StockItemStatus` value. ``accepted_quantity`` is the last quantity the marketplace
    accepted (``None`` before the first acceptance).
    """

    product: str
    sku: str
    ean: str
    quantity: int
    accepted_quantity: int | None
    status: str
    reason: str = ""
    attempts: int = 0
    next_attempt_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class OrderRecord:
    connection: str
    order_id: str
    state: OrderState
    number: str
    raw: Mapping[str, Any]
    order: Order | None
    store_order_id: str
    store_order_number: str
    create_attempts: int
    attempts: int
    next_attempt_at: float
    last_error: str
    reason: str
    resume_state: OrderState | None
    received_at: float
    updated_at: float

    def summary(self) -> dict[str, Any]:
        """The record without its payloads, as the CLI's ``--json`` and the HTTP API show it."""
        return {
            "connection": self.connection,
            "order_id": self.order_id,
            "number": self.number,
            "state": self.state.value,
            "store_order_id": self.store_order_id,
            "store_order_number": self.store_order_number,
            "attempts": self.attempts,
            "create_attempts": self.create_attempts,
            "last_error": self.last_error,
            "reason": self.reason,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class ShipmentRecord:
    connection: str
    shipment_id: str
    order_id: str
    state: ShipmentState
    shipment: Shipment
    missing: tuple[str, ...]
    attempts: int
    next_attempt_at: float
    last_error: str
    first_seen: float
    updated_at: float
    held_since: float | None = None
    #: How many times a report of this shipment was begun (recorded before each ``on_shipped`` call).
    reports: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRecord:
    """One alert about one order and condition (``codes_missing``): whether its e-mail is queued, sent or
    resolved, the delivery attempts and when a reminder is due. Unique per (connection, order, condition)."""

    id: int
    connection: str
    order_id: str
    condition: str
    state: str  # "queued" | "sent" | "resolved"
    detail: str
    occurrence: int
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    sent_at: float | None
    reminders_sent: int
    reminder_due_at: float | None
    last_error: str
    created_at: float
    updated_at: float
    resolved_at: float | None


class Journal(ABC):
    """All durable state. Every method is one transaction; what it returns has been committed."""

    @abstractmethod
    async def open(self) -> None:
        """Open the store and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    # ---------------------------------------------------------------- cursors
    @abstractmethod
    async def get_cursor(self, connection: str, name: str) -> str | None: ...

    @abstractmethod
    async def set_cursor(self, connection: str, name: str, value: str) -> None: ...

    # ---------------------------------------------------------------- orders
    @abstractmethod
    async def persist_fetched(
        self, connection: str, raws: Sequence[RawOrder], now: float, *, system: str
    ) -> list[str]:
        """Store fetched raw orders not seen before (state ``received``); return the new order ids.

        Orders already known keep the payload first persisted; a re-fetch with a new modification time and a
        changed payload is noted once in the order's history.
        """

    @abstractmethod
    async def get_order(self, connection: str, order_id: str) -> OrderRecord | None: ...

    @abstractmethod
    async def has_order(self, connection: str, order_id: str) -> bool:
        """Whether the connection knows the order (without reading and validating the whole record)."""

    @abstractmethod
    async def due_orders(
        self, connection: str, states: Sequence[OrderState], now: float, limit: int
    ) -> list[OrderRecord]:
        """Orders in ``states`` whose next attempt is due, oldest first."""

    @abstractmethod
    async def set_mapped(self, connection: str, order_id: str, order: Order, now: float) -> None:
        """Store the normalized order of a received raw order."""

    @abstractmethod
    async def record_create_attempt(self, connection: str, order_id: str, now: float) -> int:
        """Count a create attempt *before* the store is called; returns the new count."""

    @abstractmethod
    async def transition(
        self,
        connection: str,
        order_id: str,
        target: OrderState,
        now: float,
        detail: str,
        *,
        store_order_id: str | None = None,
        store_order_number: str | None = None,
        reason: str | None = None,
        events: Sequence[Event] = (),
    ) -> OrderRecord:
        """Move the order to ``target`` (checked against the state machine), resetting its retry counter."""

    @abstractmethod
    async def schedule_retry(
        self,
        connection: str,
        order_id: str,
        next_attempt_at: float,
        error: str,
        now: float,
        events: Sequence[Event] = (),
        *,
        count: bool = True,
    ) -> int:
        """Record a failed attempt and when to try again; returns the consecutive failure count."""

    @abstractmethod
    async def add_events(self, connection: str, order_id: str, events: Sequence[Event]) -> None: ...

    @abstractmethod
    async def history(self, connection: str, order_id: str) -> list[Event]: ...

    @abstractmethod
    async def retry_order(self, connection: str, order_id: str, now: float) -> OrderRecord:
        """Return a ``needs_attention`` order to where it was (``orders retry``), due now."""

    @abstractmethod
    async def list_orders(
        self,
        *,
        connection: str | None = None,
        state: OrderState | None = None,
        text: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[OrderRecord], int]:
        """A page of orders (newest first) and the total matching."""

    @abstractmethod
    async def count_by_state(self) -> dict[tuple[str, OrderState], int]: ...

    @abstractmethod
    async def pending_units(self, connection: str | Sequence[str]) -> dict[str, int]:
        """Units of orders fetched but not yet created in the store (for stock netting), keyed ``sku:<SKU>``
        and ``ean:<EAN>`` (a line with both is counted under both keys)."""

    # ---------------------------------------------------------------- shipments
    @abstractmethod
    async def upsert_shipment(self, connection: str, reported: Shipment, now: float) -> ShipmentRecord | None:
        """Store a shipment the store reported. Returns the record when it is new or its codes changed and it
        must be (re)considered, ``None`` when nothing changed."""

    @abstractmethod
    async def due_shipments(self, connection: str, now: float, limit: int) -> list[ShipmentRecord]: ...

    @abstractmethod
    async def begin_shipment_report(self, connection: str, shipment_id: str) -> int:
        """Record, before ``on_shipped`` is called, that a report of the shipment begins; returns the attempt
        number (1 for the first report ever begun, counting reports a crash interrupted and reports of earlier
        codes of the same shipment; 0 when the shipment is unknown). Setting the shipment ``held`` takes the
        attempt back: missing codes are raised before anything is sent."""

    @abstractmethod
    async def set_shipment_state(
        self,
        connection: str,
        shipment_id: str,
        state: ShipmentState,
        now: float,
        *,
        missing: Sequence[str] = (),
        error: str = "",
        next_attempt_at: float | None = None,
    ) -> None: ...

    @abstractmethod
    async def set_shipment_codes(
        self,
        connection: str,
        shipment_id: str,
        now: float,
        *,
        tracking_code: str | None,
        return_tracking_code: str | None,
        carrier: str | None,
    ) -> ShipmentRecord:
        """Codes entered by a person: update the held shipment and make it due now."""

    @abstractmethod
    async def shipments(
        self,
        *,
        connection: str | None = None,
        order_id: str | None = None,
        state: ShipmentState | None = None,
    ) -> list[ShipmentRecord]: ...

    @abstractmethod
    async def held_shipments_by_connection(self) -> dict[str, tuple[int, float | None]]:
        """For every connection with held shipments (waiting for a missing code): how many there are and the
        earliest ``held_since`` among them (``None`` when none has one). Connections without held shipments are
        absent. One query for all connections (the metrics scrape reads it for thousands)."""

    # ---------------------------------------------------------------- alerts
    @abstractmethod
    async def queue_alert(
        self, connection: str, order_id: str, condition: str, detail: str, now: float
    ) -> AlertRecord:
        """Queue the alert of an order and condition unless it is already open (queued or sent): one e-mail per
        order and condition. A resolved alert whose condition comes back is queued again (a new occurrence)."""

    @abstractmethod
    async def resolve_alert(self, connection: str, order_id: str, condition: str, now: float) -> bool:
        """Resolve an open alert (cancelling its reminder); True when there was one."""

    @abstractmethod
    async def due_alerts(self, now: float, limit: int = 100) -> list[AlertRecord]:
        """Queued alerts whose next attempt is due and sent alerts whose reminder is due, oldest first."""

    @abstractmethod
    async def record_alert_attempt(self, alert_id: int, now: float) -> AlertRecord | None:
        """Count a delivery attempt *before* the SMTP server is called; ``None`` when the alert is no longer
        due (resolved or sent meanwhile)."""

    @abstractmethod
    async def record_alert_sent(
        self, alert_id: int, now: float, *, reminder: bool, reminder_due_at: float | None, detail: str
    ) -> None:
        """Record that the SMTP server accepted the e-mail (``reminder``: it was a reminder)."""

    @abstractmethod
    async def record_alert_failed(self, alert_id: int, now: float, error: str, retry_at: float) -> None:
        """Record a failed delivery and when to try again."""

    @abstractmethod
    async def alerts(
        self,
        *,
        connection: str | None = None,
        order_id: str | None = None,
        states: Sequence[str] = (),
    ) -> list[AlertRecord]:
        """Alerts, oldest first, optionally filtered."""

    @abstractmethod
    async def search_orders(
        self,
        *,
        connections: Sequence[str] | None = None,
        state: OrderState | None = None,
        text: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[OrderRecord], int]:
        """Like :meth:`list_orders`, for a set of connections (``None``: all; empty: none), for the pages."""

    # ---------------------------------------------------------------- stock

    @abstractmethod
    async def record_stock_results(
        self, account: str, connection: str, results: Sequence[StockRecord]
    ) -> None:
        """Store per-item push outcomes (``accepted_quantity`` ``None`` keeps the previous one)."""

    @abstractmethod
    async def all_stock_records(self, account: str) -> dict[str, StockRecord]:
        """Every push record of a marketplace account (loaded once into the stock job's memory)."""

    @abstractmethod
    async def all_store_quantities(self, store: str) -> dict[str, int]:
        """Every store quantity last read or estimated (loaded once into the stock job's memory)."""

    @abstractmethod
    async def stock_problems(self, account: str) -> list[StockRecord]:
        """Items whose last push was not accepted (rejected, failed, pending), for ``stock status``."""

    @abstractmethod
    async def stock_summary(self, account: str) -> dict[str, int]:
        """Number of products per last push status."""

    @abstractmethod
    async def set_store_quantities(self, store: str, quantities: Mapping[str, int], now: float) -> None: ...
