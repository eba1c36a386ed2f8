"""The journal interface the pipeline, runtime, CLI and pages use."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import Order, RawOrder, Shipment
from .states import OrderState, ShipmentState

__all__ = ["Event", "Journal", "OrderRecord", "ShipmentRecord"]


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
    extra: Mapping[str, Any] = field(default_factory=dict)


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
    async def pending_units(self, connection: str) -> dict[str, int]:
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
