"""The order pipeline: the exactly-once contract, one idempotent step at a time, each recorded in the journal.

1. Persist before any side effect: fetched raw orders are committed before anything else happens, and the
   poll cursor advances only after they are.
2. Create is idempotent: the attempt is recorded *before* the store is called; when an earlier attempt exists
   the store is asked (``find_order``) before creating again.
3. Acknowledge after create, with the store's order number (acknowledging twice is harmless).
4. One bad order never blocks the rest: permanent errors quarantine that order as ``needs_attention``.
5. Transient errors retry with capped exponential backoff and jitter; rate limits wait their Retry-After.
6. Every remote call and transition is appended to the order's history.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import structlog
from pydantic import ValidationError

from .alerts.conditions import CODES_MISSING, missing_text
from .errors import (
    AuthenticationError,
    IllegalTransition,
    MissingCodes,
    PermanentOrderError,
    PluginError,
    RateLimited,
)
from .exchange import Exchange, recording
from .journal import Journal, OrderRecord, OrderState, ShipmentRecord, ShipmentState
from .journal.base import Event
from .metrics import Metrics
from .model import Order, RawOrder, Shipment, StoreOrderRef
from .plugin_host import ConnectionPlugins, iterate

__all__ = ["ConnectionDown", "OrderPipeline", "StepOutcome", "backoff_delay", "describe_validation_error"]

log = structlog.get_logger("ordersyncd.pipeline")

PERSIST_BATCH = 100

#: Seconds between journal writes of a cursor whose polls find nothing (see ``OrderPipeline._set_cursor``).
CURSOR_IDLE_WRITE = 900.0


class ConnectionDown(Exception):
    """The connection cannot work right now (authentication refused, rate limited); stop this job run."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class StepOutcome:
    order_id: str
    state: OrderState
    error: str = ""


#: Jitter source of every connection that was not given its own (a generator per connection costs 2.5 KB of state,
#: 12 MB at 5,000 connections, for numbers nobody needs to tell apart).
SHARED_RNG = random.Random()


def backoff_delay(attempts: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: between half and all of ``min(max, initial * 2**(n-1))``."""
    ceiling = min(maximum, initial * 2.0 ** max(0, attempts - 1))
    return ceiling * (0.5 + rng.random() / 2)


def describe_validation_error(error: ValidationError) -> str:
    """A readable, single-line reason naming each bad field (no input values: they may be personal data)."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "order"
        parts.append(f"{where}: {item['msg']}")
    return "invalid order data: " + "; ".join(parts)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _events_from(exchanges: list[Exchange], direction: str = "out") -> list[Event]:
    now = time.time()
    return [
        Event(
            at=now, kind="call", direction=direction, system=e.system, detail=e.describe(), outcome=e.outcome
        )
        for e in exchanges
    ]


def _error_text(error: BaseException) -> str:
    if isinstance(error, PluginError):
        return f"{type(error).__name__}: {error.message}"
    # Unclassified exceptions: the type only; arguments could carry secrets or personal data.
    return f"unexpected {type(error).__module__}.{type(error).__qualname__} in plugin (treated as transient)"


def _mapping_error(error: Exception) -> str:
    if isinstance(error, KeyError) and error.args:
        return f"missing field {error.args[0]!r}"
    return f"{type(error).__name__}: {str(error)[:200]}"


class OrderPipeline:
    """The steps of one connection. Everything durable is in the journal; between calls it remembers only the
    cursors it wrote there."""

    def __init__(
        self,
        journal: Journal,
        plugins: ConnectionPlugins,
        metrics: Metrics | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        concurrency: int = 4,
        on_order_created: Callable[[Order], Awaitable[None]] | None = None,
    ) -> None:
        self.journal = journal
        self.plugins = plugins
        self.settings = plugins.settings
        self.name = plugins.info.name
        #: This connection's series (``None`` without metrics).
        self.stats = metrics.connection(self.name) if metrics is not None else None
        self.clock = clock
        self.rng = rng or SHARED_RNG
        self._cursors: dict[str, str | None] = {}
        self._cursor_written: dict[str, float] = {}  # when each cursor was last written to the journal
        self.concurrency = concurrency
        self.on_order_created = on_order_created
        #: Set when the daemon stops: orders not yet started are left for the next run.
        self.stopping = False
        self.log = log.bind(connection=self.name)

    # ------------------------------------------------------------------ helpers
    def _now(self) -> float:
        return self.clock()

    def _down(self, error: PluginError) -> ConnectionDown:
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        return ConnectionDown(_error_text(error), retry_after)

    async def _call(self, hook: str, **kwargs: Any) -> tuple[Any, list[Exchange]]:
        with recording() as exchanges:
            try:
                result = await self.plugins.acall(hook, **kwargs)
            except BaseException as error:
                error.__dict__.setdefault("_ordersyncd_exchanges", list(exchanges))
                raise
        return result, list(exchanges)

    @staticmethod
    def _exchanges_of(error: BaseException) -> list[Exchange]:
        return list(error.__dict__.get("_ordersyncd_exchanges", []))

    # ------------------------------------------------------------------ cursors
    async def _get_cursor(self, name: str) -> str | None:
        """The cursor, read from the journal once and then remembered: only this process writes the cursors of
        its connections (one daemon per state directory), so the journal read is needed once per start."""
        if name not in self._cursors:
            self._cursors[name] = await self.journal.get_cursor(self.name, name)
        return self._cursors[name]

    async def _set_cursor(self, name: str, value: str, *, found: bool) -> None:
        """Move the cursor. It is written to the journal when the poll found something, and otherwise at most
        every :data:`CURSOR_IDLE_WRITE` seconds: an idle connection's polls then cost no journal write (a
        transaction and an fsync each, for thousands of connections a minute), and a restart re-reads at most
        that much more of a window in which nothing was found (what it finds again is already known)."""
        now = self._now()
        if found or now - self._cursor_written.get(name, -math.inf) >= CURSOR_IDLE_WRITE:
            await self.journal.set_cursor(self.name, name, value)
            self._cursor_written[name] = now
        self._cursors[name] = value

    # ------------------------------------------------------------------ poll orders
    async def poll_orders(self, *, window: float | None = None, cursor: str = "orders") -> int:
        """Fetch the window since the cursor (minus the overlap), persist new orders, then advance the cursor.

        ``window`` (seconds) replaces the cursor-based start (used by *reconcile* for a longer look-back).
        Returns how many orders were new.
        """
        now = self._now()
        until = datetime.fromtimestamp(now, UTC)
        if window is not None:
            since: datetime = until - timedelta(seconds=window)
        else:
            stored = await self._get_cursor(cursor)
            if stored is None:
                since = until - timedelta(seconds=self.settings.initial_lookback)
            else:
                since = datetime.fromisoformat(stored) - timedelta(seconds=self.settings.overlap)
        seen: set[str] = set()
        batch: list[RawOrder] = []
        new_ids: list[str] = []
        with recording() as exchanges:
            try:
                async for raw in iterate(self.plugins.call("fetch_orders", since=since, until=until)):
                    if not isinstance(raw, RawOrder):
                        raise PluginError(f"fetch_orders yielded {type(raw).__name__}, expected RawOrder")
                    if raw.order_id in seen:
                        continue
                    seen.add(raw.order_id)
                    batch.append(raw)
                    if len(batch) >= PERSIST_BATCH:
                        new_ids += await self._persist(batch)
                        batch = []
                if batch:
                    new_ids += await self._persist(batch)
            except (AuthenticationError, RateLimited) as error:
                raise self._down(error) from error
        if window is None:
            await self._set_cursor(cursor, _iso(until), found=bool(seen))
        # An idle poll is not news: at 5,000 connections polling every minute its lines alone would be 7 million
        # a day. What happened is logged at info; that runs keep starting on time is ordersyncd_job_start_lag_seconds
        # and ordersyncd_job_last_success_timestamp_seconds.
        (self.log.info if seen or window is not None else self.log.debug)(
            "orders polled",
            fetched=len(seen),
            new=len(new_ids),
            calls=len(exchanges),
            since=_iso(since),
            until=_iso(until),
        )
        return len(new_ids)

    async def _persist(self, raws: list[RawOrder]) -> list[str]:
        return await self.journal.persist_fetched(
            self.name, raws, self._now(), system=self.plugins.marketplace_system
        )

    # ------------------------------------------------------------------ advance orders
    async def advance_orders(self, limit: int = 500, max_batches: int = 20) -> list[StepOutcome]:
        """Take every due order as far as it can go (map → create → acknowledge), ``concurrency`` orders at a
        time, batch after batch while batches come back full (so a backlog does not wait for the next run)."""
        outcomes: list[StepOutcome] = []
        for _ in range(max_batches):
            due = await self.journal.due_orders(
                self.name, (OrderState.RECEIVED, OrderState.CREATED), self._now(), limit
            )

            async def step(record: OrderRecord) -> None:
                outcomes.append(await self.advance(record))

            await self._in_parallel([[record] for record in due], step)
            if len(due) < limit or self.stopping:
                break
        return outcomes

    async def _in_parallel(self, groups: list[list[Any]], step: Callable[[Any], Awaitable[None]]) -> None:
        """Run ``step`` over the items, ``concurrency`` groups at a time and the items of one group in order (e.g.
        the shipments of one order). A :class:`ConnectionDown` stops what has not started and is re-raised."""
        if not groups:  # the usual case of an idle connection: no task group, no limiter
            return
        halted: list[ConnectionDown] = []
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def run(group: list[Any]) -> None:
            async with limiter:
                for item in group:
                    if halted or self.stopping:
                        return
                    try:
                        await step(item)
                    except ConnectionDown as down:
                        halted.append(down)
                        return

        async with anyio.create_task_group() as tg:
            for group in groups:
                tg.start_soon(run, group)
        if halted:
            raise halted[0]

    async def advance(self, record: OrderRecord) -> StepOutcome:
        """Move one order as far as it can go now."""
        bound = self.log.bind(order_id=record.order_id)
        while True:
            if record.state is OrderState.RECEIVED:
                next_record = await self._create(record, bound)
            elif record.state is OrderState.CREATED:
                next_record = await self._acknowledge(record, bound)
            else:
                return StepOutcome(record.order_id, record.state)
            if next_record is None:
                current = await self.journal.get_order(self.name, record.order_id)
                assert current is not None
                return StepOutcome(current.order_id, current.state, current.last_error)
            record = next_record

    async def _map(self, record: OrderRecord, bound: Any) -> Order | None:
        raw = RawOrder(order_id=record.order_id, payload=record.raw)
        try:
            order = await self.plugins.acall("map_order", raw=raw)
            if not isinstance(order, Order):
                raise PermanentOrderError(f"map_order returned {type(order).__name__}, expected Order")
            if order.order_id != record.order_id:
                raise PermanentOrderError(
                    f"map_order returned order id {order.order_id!r} for raw order {record.order_id!r}"
                )
        except ValidationError as error:
            await self._quarantine(record, describe_validation_error(error), [], bound)
            return None
        except PermanentOrderError as error:
            await self._quarantine(record, error.message, [], bound)
            return None
        except (
            Exception
        ) as error:  # a crashing mapper is a problem of this payload, not a transient condition
            await self._quarantine(record, f"could not map order: {_mapping_error(error)}", [], bound)
            return None
        await self.journal.set_mapped(self.name, record.order_id, order, self._now())
        return order

    async def _create(self, record: OrderRecord, bound: Any) -> OrderRecord | None:
        order = record.order or await self._map(record, bound)
        if order is None:
            return None
        found: StoreOrderRef | None = None
        exchanges: list[Exchange] = []
        try:
            if record.create_attempts > 0:
                found, exchanges = await self._call("find_order", order=order)
            if found is None:
                attempts = await self.journal.record_create_attempt(self.name, record.order_id, self._now())
                bound.debug("creating store order", attempt=attempts)
                created, more = await self._call("create_order", order=order)
                exchanges += more
                if not isinstance(created, StoreOrderRef):
                    raise PermanentOrderError(
                        f"create_order returned {type(created).__name__}, expected StoreOrderRef"
                    )
                ref, detail = created, f"store order {created.number} created"
            else:
                ref, detail = found, f"store order {found.number} found (created by an earlier attempt)"
        except BaseException as error:
            exchanges += self._exchanges_of(error)
            await self._failed(record, error, exchanges, bound)
            return None
        new = await self.journal.transition(
            self.name,
            record.order_id,
            OrderState.CREATED,
            self._now(),
            detail,
            store_order_id=ref.store_order_id,
            store_order_number=ref.number,
            events=_events_from(exchanges),
        )
        bound.info("store order created", store_order=ref.number, found_existing=found is not None)
        if self.stats is not None:
            self.stats.orders_imported += 1
        if self.on_order_created is not None:
            await self.on_order_created(order)
        return new

    async def _acknowledge(self, record: OrderRecord, bound: Any) -> OrderRecord | None:
        assert record.order is not None
        ref = StoreOrderRef(store_order_id=record.store_order_id, number=record.store_order_number)
        try:
            _, exchanges = await self._call("acknowledge_order", order=record.order, store_order=ref)
        except BaseException as error:
            await self._failed(record, error, self._exchanges_of(error), bound)
            return None
        new = await self.journal.transition(
            self.name,
            record.order_id,
            OrderState.ACKNOWLEDGED,
            self._now(),
            f"marketplace told store order number {ref.number}",
            events=_events_from(exchanges),
        )
        bound.info("order acknowledged", store_order=ref.number)
        if self.stats is not None:
            self.stats.orders_acknowledged += 1
        return new

    async def _quarantine(
        self, record: OrderRecord, reason: str, exchanges: list[Exchange], bound: Any
    ) -> None:
        await self.journal.transition(
            self.name,
            record.order_id,
            OrderState.NEEDS_ATTENTION,
            self._now(),
            reason,
            reason=reason,
            events=_events_from(exchanges),
        )
        bound.warning("order needs attention", reason=reason)
        if self.stats is not None:
            self.stats.orders_quarantined += 1

    async def _failed(
        self, record: OrderRecord, error: BaseException, exchanges: list[Exchange], bound: Any
    ) -> None:
        if isinstance(error, PermanentOrderError):
            await self._quarantine(record, error.message, exchanges, bound)
            return
        if not isinstance(error, Exception):
            # Cancellation (stop) or a fatal signal: record what was exchanged, then let it propagate.
            with anyio.CancelScope(shield=True):
                await self.journal.add_events(self.name, record.order_id, _events_from(exchanges))
            raise error
        now = self._now()
        text = _error_text(error)
        if isinstance(error, RateLimited):
            next_at = now + error.retry_after
            await self.journal.schedule_retry(
                self.name, record.order_id, next_at, text, now, _events_from(exchanges), count=False
            )
            raise self._down(error)
        if isinstance(error, AuthenticationError):
            await self.journal.schedule_retry(
                self.name, record.order_id, now, text, now, _events_from(exchanges), count=False
            )
            raise self._down(error)
        attempts = record.attempts + 1
        delay = backoff_delay(attempts, self.settings.backoff_initial, self.settings.backoff_max, self.rng)
        await self.journal.schedule_retry(
            self.name, record.order_id, now + delay, text, now, _events_from(exchanges)
        )
        bound.warning("order step failed; will retry", error=text, attempt=attempts, retry_in=round(delay, 1))

    # ------------------------------------------------------------------ shipments
    async def poll_shipments(self, cursor: str = "shipments") -> int:
        """Read shipments the store reports since the cursor (with overlap), store new or changed ones, then
        report due shipments to the marketplace. Returns how many shipments were new or changed."""
        now = self._now()
        until = datetime.fromtimestamp(now, UTC)
        stored = await self._get_cursor(cursor)
        since = (
            until - timedelta(seconds=self.settings.initial_lookback)
            if stored is None
            else datetime.fromisoformat(stored) - timedelta(seconds=self.settings.overlap)
        )
        changed = found = 0
        try:
            async for shipment in iterate(self.plugins.call("find_shipments", since=since, until=until)):
                if not isinstance(shipment, Shipment):
                    raise PluginError(f"find_shipments yielded {type(shipment).__name__}, expected Shipment")
                found += 1
                if not await self.journal.has_order(self.name, shipment.order_id):
                    self.log.info(
                        "shipment for an order this connection does not know; ignored",
                        shipment_id=shipment.shipment_id,
                    )
                    continue
                if await self.journal.upsert_shipment(self.name, shipment, self._now()) is not None:
                    changed += 1
        except (AuthenticationError, RateLimited) as error:
            raise self._down(error) from error
        await self._set_cursor(cursor, _iso(until), found=found > 0)
        await self.advance_shipments()
        return changed

    async def advance_shipments(self, limit: int = 500, max_batches: int = 20) -> None:
        """Report every due shipment: the shipments of one order one after the other, ``concurrency`` orders at a
        time, batch after batch while batches come back full."""
        for _ in range(max_batches):
            due = await self.journal.due_shipments(self.name, self._now(), limit)
            by_order: dict[str, list[ShipmentRecord]] = {}
            for record in due:
                by_order.setdefault(record.order_id, []).append(record)

            moved: list[ShipmentState] = []

            async def step(record: ShipmentRecord, moved: list[ShipmentState] = moved) -> None:
                if (state := await self.report_shipment(record)) is not None:
                    moved.append(state)

            await self._in_parallel(list(by_order.values()), step)
            # Shipments waiting for their order's acknowledgement stay due: stop when a batch moved nothing.
            if len(due) < limit or not moved or self.stopping:
                break

    async def report_shipment(self, record: ShipmentRecord) -> ShipmentState | None:
        """Report one shipment to the marketplace, or hold it when a mandatory code is missing."""
        order = await self.journal.get_order(self.name, record.order_id)
        bound = self.log.bind(order_id=record.order_id, shipment_id=record.shipment_id)
        if order is None or order.order is None:
            return None
        if order.state in (OrderState.RECEIVED, OrderState.CREATED, OrderState.NEEDS_ATTENTION):
            return None  # the order must be acknowledged first; the shipment stays pending
        if order.state in (OrderState.CANCELLED, OrderState.RETURNED):
            return None
        # Recorded before the call, so that after a crash the plugin knows the marketplace may have seen it.
        attempt = await self.journal.begin_shipment_report(self.name, record.shipment_id)
        now = self._now()
        try:
            _, exchanges = await self._call(
                "on_shipped", order=order.order, shipment=record.shipment, attempt=attempt
            )
        except MissingCodes as missing:
            # Missing-code alert: queued before the shipment is held, so a crash in between leaves the shipment
            # pending (considered again), never a held shipment without its alert.
            await self._queue_codes_alert(order.order_id, missing.missing, now)
            await self.journal.set_shipment_state(
                self.name, record.shipment_id, ShipmentState.HELD, now, missing=missing.missing
            )
            detail = f"shipment {record.shipment_id} held: missing {', '.join(missing.missing)}"
            if order.state is not OrderState.HELD:
                await self.journal.transition(
                    self.name,
                    order.order_id,
                    OrderState.HELD,
                    now,
                    detail,
                    events=_events_from(self._exchanges_of(missing)),
                )
            else:
                await self.journal.add_events(
                    self.name, order.order_id, [Event(at=now, kind="note", detail=detail)]
                )
            bound.warning("shipment held: tracking code missing", missing=list(missing.missing))
            return ShipmentState.HELD
        except PermanentOrderError as error:
            await self.journal.set_shipment_state(
                self.name,
                record.shipment_id,
                ShipmentState.PENDING,
                now,
                error=error.message,
                next_attempt_at=now + self.settings.backoff_max,
            )
            try:
                await self.journal.transition(
                    self.name,
                    order.order_id,
                    OrderState.NEEDS_ATTENTION,
                    now,
                    f"shipment rejected: {error.message}",
                    reason=error.message,
                    events=_events_from(self._exchanges_of(error)),
                )
            except IllegalTransition:
                await self.journal.add_events(
                    self.name,
                    order.order_id,
                    [Event(at=now, kind="error", detail=f"shipment rejected: {error.message}")],
                )
            return None
        except (AuthenticationError, RateLimited) as error:
            await self.journal.add_events(self.name, order.order_id, _events_from(self._exchanges_of(error)))
            raise self._down(error) from error
        except Exception as error:
            delay = backoff_delay(
                record.attempts + 1, self.settings.backoff_initial, self.settings.backoff_max, self.rng
            )
            await self.journal.set_shipment_state(
                self.name,
                record.shipment_id,
                ShipmentState.PENDING,
                now,
                error=_error_text(error),
                next_attempt_at=now + delay,
            )
            await self.journal.add_events(
                self.name,
                order.order_id,
                [
                    *_events_from(self._exchanges_of(error)),
                    Event(at=now, kind="error", detail=_error_text(error)),
                ],
            )
            bound.warning(
                "shipment report failed; will retry", error=_error_text(error), retry_in=round(delay, 1)
            )
            return None
        await self.journal.set_shipment_state(self.name, record.shipment_id, ShipmentState.SENT, now)
        held_left = [
            s
            for s in await self.journal.shipments(connection=self.name, order_id=order.order_id)
            if s.state is ShipmentState.HELD
        ]
        if not held_left:
            await self.journal.resolve_alert(self.name, order.order_id, CODES_MISSING, now)
        if not held_left and order.state is not OrderState.SHIPPED:
            await self.journal.transition(
                self.name,
                order.order_id,
                OrderState.SHIPPED,
                now,
                f"shipment {record.shipment_id} reported to the marketplace",
                events=_events_from(exchanges),
            )
        else:
            await self.journal.add_events(
                self.name,
                order.order_id,
                [
                    *_events_from(exchanges),
                    Event(
                        at=now,
                        kind="note",
                        detail=f"shipment {record.shipment_id} reported to the marketplace",
                    ),
                ],
            )
        bound.info("shipment reported", carrier=record.shipment.carrier)
        if self.stats is not None:
            self.stats.orders_shipped += 1
        return ShipmentState.SENT

    # ------------------------------------------------------------------ missing-code alerts
    async def _queue_codes_alert(self, order_id: str, missing: tuple[str, ...], now: float) -> None:
        """Queue the missing-code e-mail of this order (deduplicated by the journal: one per order)."""
        await self.journal.queue_alert(
            self.name, order_id, CODES_MISSING, f"{missing_text(missing)} missing", now
        )
