"""SQLite (WAL) implementation of the journal.

One connection, used from one worker thread at a time (an anyio capacity limiter of 1), so the event loop
never blocks on ``fsync``. Every public method is one transaction. ``synchronous=FULL`` by default: a
committed step survives a power cut, not only a crash.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IllegalTransition
from ..model import Order, RawOrder, Shipment
from .base import AlertRecord, Event, Journal, OrderRecord, ShipmentRecord, StockRecord
from .committer import GroupCommitter
from .due_hints import DueHints
from .migrations import MIGRATIONS
from .states import OrderState, ShipmentState, check_transition

__all__ = ["SqliteJournal"]

T = TypeVar("T")
R = TypeVar("R")

_ORDER_COLUMNS = (
    "connection, order_id, state, number, raw, order_json, store_order_id, store_order_number, create_attempts, "
    "attempts, next_attempt_at, last_error, reason, resume_state, received_at, updated_at"
)
_SHIPMENT_COLUMNS = (
    "connection, shipment_id, order_id, state, payload, missing, attempts, next_attempt_at, last_error, "
    "first_seen, updated_at, held_since, reports"
)


_ALERT_COLUMNS = (
    "id, connection, order_id, condition, state, detail, occurrence, attempts, next_attempt_at, last_attempt_at, "
    "sent_at, reminders_sent, reminder_due_at, last_error, created_at, updated_at, resolved_at"
)


def _alert(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(**dict(row))


def _order(row: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        connection=row["connection"],
        order_id=row["order_id"],
        state=OrderState(row["state"]),
        number=row["number"],
        raw=json.loads(row["raw"]),
        order=Order.model_validate_json(row["order_json"]) if row["order_json"] else None,
        store_order_id=row["store_order_id"],
        store_order_number=row["store_order_number"],
        create_attempts=row["create_attempts"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        reason=row["reason"],
        resume_state=OrderState(row["resume_state"]) if row["resume_state"] else None,
        received_at=row["received_at"],
        updated_at=row["updated_at"],
    )


def _shipment(row: sqlite3.Row) -> ShipmentRecord:
    return ShipmentRecord(
        connection=row["connection"],
        shipment_id=row["shipment_id"],
        order_id=row["order_id"],
        state=ShipmentState(row["state"]),
        shipment=Shipment.model_validate_json(row["payload"]),
        missing=tuple(m for m in row["missing"].split(",") if m),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        first_seen=row["first_seen"],
        updated_at=row["updated_at"],
        held_since=row["held_since"],
        reports=row["reports"],
    )


def _stock(row: sqlite3.Row) -> StockRecord:
    return StockRecord(
        product=row["product"],
        sku=row["sku"],
        ean=row["ean"],
        quantity=row["quantity"],
        accepted_quantity=row["accepted_quantity"],
        status=row["status"],
        reason=row["reason"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        updated_at=row["updated_at"],
    )


def _codes(shipment: Shipment) -> tuple[str, str, str, tuple[tuple[str, int], ...]]:
    return (
        shipment.tracking_code,
        shipment.return_tracking_code,
        shipment.carrier,
        tuple((line.line_id, line.quantity) for line in shipment.lines),
    )


class SqliteJournal(Journal):
    def __init__(self, path: Path, synchronous: str = "full") -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        #: The journal thread: owns the connection, commits the calls that queued up together.
        self.committer = GroupCommitter()
        #: When each connection's next order or shipment can be due, answered without a query while nothing changed.
        self.due_hints = DueHints()

    # ------------------------------------------------------------------ plumbing
    @property
    def is_open(self) -> bool:
        return self.committer.db is not None

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.synchronous == 'FULL' else 'NORMAL'}")
            db.execute("PRAGMA foreign_keys=ON")
            self._migrate(db)
            self._watch_changes(db)
        except BaseException:
            db.close()
            raise
        self.committer.db = db

    def _watch_changes(self, db: sqlite3.Connection) -> None:
        """Temporary triggers (this connection's alone, not part of the schema): every row of ``orders`` or
        ``shipments`` this process inserts, updates or deletes tells :attr:`due_hints` its connection changed."""
        self.due_hints.forget_all()
        db.create_function("ordersyncd_touch", 1, self.due_hints.touch)
        for table in ("orders", "shipments"):
            for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                db.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS ordersyncd_touch_{table}_{event.lower()} "
                    f"AFTER {event} ON main.{table} BEGIN SELECT ordersyncd_touch({row}.connection); END"
                )

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Apply pending migrations, each in its own write transaction. What is applied is read inside that
        transaction, so two processes opening a new journal at once never apply a migration twice."""
        known = {version for version, _, _ in MIGRATIONS}
        for version, _description, sql in (*sorted(MIGRATIONS), (None, "", "")):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
                )
                applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
                if applied - known:
                    raise RuntimeError(
                        f"journal schema version {max(applied)} is newer than this ordersyncd knows "
                        f"({max(known)}); upgrade ordersyncd"
                    )
                if version is not None and version not in applied:
                    for statement in sql.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
                        (version,),
                    )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one transaction on the journal thread (its own savepoint in a group commit); returns
        once that transaction is committed."""
        return await self.committer.run(fn)

    async def open(self) -> None:
        await self.committer.run(lambda _: self._connect(), bare=True)

    async def close(self) -> None:
        def shut(_: object) -> None:
            if self.committer.db is not None:
                self.committer.db.close()
                self.committer.db = None

        await self.committer.run(shut, bare=True)

    @staticmethod
    def _events(db: sqlite3.Connection, connection: str, order_id: str, events: Sequence[Event]) -> None:
        db.executemany(
            "INSERT INTO order_events (connection, order_id, at, kind, direction, system, detail, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (connection, order_id, e.at, e.kind, e.direction, e.system, e.detail, e.outcome)
                for e in events
            ],
        )

    @staticmethod
    def _fetch_order(db: sqlite3.Connection, connection: str, order_id: str) -> OrderRecord:
        row = db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE connection = ? AND order_id = ?",
            (connection, order_id),
        ).fetchone()
        if row is None:
            raise KeyError(f"no order {order_id!r} in connection {connection!r}")
        return _order(row)

    # ------------------------------------------------------------------ cursors
    async def get_cursor(self, connection: str, name: str) -> str | None:
        def q(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT value FROM cursors WHERE connection = ? AND name = ?", (connection, name)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(q)

    async def set_cursor(self, connection: str, name: str, value: str) -> None:
        def q(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO cursors (connection, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (connection, name) DO UPDATE SET value = excluded.value",
                (connection, name, value),
            )

        await self._run(q)

    # ------------------------------------------------------------------ orders
    async def persist_fetched(
        self, connection: str, raws: Sequence[RawOrder], now: float, *, system: str
    ) -> list[str]:
        def q(db: sqlite3.Connection) -> list[str]:
            new: list[str] = []
            for raw in raws:
                payload = json.dumps(raw.payload, sort_keys=True, default=str)
                modified = raw.modified_at.isoformat() if raw.modified_at else None
                digest = hashlib.sha256(payload.encode()).hexdigest()
                cur = db.execute(
                    "INSERT INTO orders (connection, order_id, state, raw, raw_modified_at, raw_latest_hash, "
                    "received_at, updated_at) VALUES (?, ?, 'received', ?, ?, ?, ?, ?) "
                    "ON CONFLICT (connection, order_id) DO NOTHING",
                    (connection, raw.order_id, payload, modified, digest, now, now),
                )
                if cur.rowcount:
                    new.append(raw.order_id)
                    self._events(
                        db,
                        connection,
                        raw.order_id,
                        [
                            Event(
                                at=now,
                                kind="transition",
                                detail="fetched from marketplace; state received",
                                direction="in",
                                system=system,
                                outcome="ok",
                            )
                        ],
                    )
                    continue
                # Known order: note each marketplace-side change once (by the hash of the latest payload seen).
                # The payload first persisted stays the one the order was built from.
                row = db.execute(
                    "SELECT raw_latest_hash FROM orders WHERE connection = ? AND order_id = ?",
                    (connection, raw.order_id),
                ).fetchone()
                if row["raw_latest_hash"] != digest:
                    db.execute(
                        "UPDATE orders SET raw_modified_at = ?, raw_latest_hash = ? WHERE connection = ? AND order_id = ?",
                        (modified, digest, connection, raw.order_id),
                    )
                    self._events(
                        db,
                        connection,
                        raw.order_id,
                        [
                            Event(
                                at=now,
                                kind="note",
                                direction="in",
                                system=system,
                                detail=f"re-fetched with changes at the marketplace (modified {modified or '?'})",
                            )
                        ],
                    )
            return new

        return await self._run(q)

    async def get_order(self, connection: str, order_id: str) -> OrderRecord | None:
        def q(db: sqlite3.Connection) -> OrderRecord | None:
            try:
                return self._fetch_order(db, connection, order_id)
            except KeyError:
                return None

        return await self._run(q)

    async def has_order(self, connection: str, order_id: str) -> bool:
        def q(db: sqlite3.Connection) -> bool:
            return (
                db.execute(
                    "SELECT 1 FROM orders WHERE connection = ? AND order_id = ?", (connection, order_id)
                ).fetchone()
                is not None
            )

        return await self._run(q)

    async def due_orders(
        self, connection: str, states: Sequence[OrderState], now: float, limit: int
    ) -> list[OrderRecord]:
        marks = ",".join("?" for _ in states)
        return await self._due(
            ("orders", connection, *states),
            connection,
            now,
            limit,
            "orders",
            _ORDER_COLUMNS,
            f"connection = ? AND state IN ({marks})",
            (connection, *[s.value for s in states]),
            "received_at, order_id",
            _order,
        )

    async def _due(
        self,
        key: Hashable,
        connection: str,
        now: float,
        limit: int,
        table: str,
        columns: str,
        where: str,
        args: Sequence[Any],
        order_by: str,
        convert: Callable[[sqlite3.Row], R],
    ) -> list[R]:
        """``columns`` of the rows of ``table`` matching ``where`` whose next attempt is due at ``now``, answered
        from :attr:`due_hints` while nothing can have changed. An empty answer comes with the earliest future
        attempt of the matching rows: the hint until then."""
        if self.due_hints.nothing_due(key, connection, now):
            return []

        def q(db: sqlite3.Connection) -> tuple[list[R], tuple[int, int], float | None]:
            # Other processes' commits first (they drop every hint), then what a hint read now depends on.
            self.due_hints.observe_version(db.execute("PRAGMA data_version").fetchone()[0])
            stamp = self.due_hints.stamp(connection)
            rows = db.execute(
                f"SELECT {columns} FROM {table} WHERE {where} AND next_attempt_at <= ? ORDER BY {order_by} LIMIT ?",
                (*args, now, limit),
            ).fetchall()
            until = None
            if not rows:
                (earliest,) = db.execute(
                    f"SELECT MIN(next_attempt_at) FROM {table} WHERE {where} AND next_attempt_at > ?",
                    (*args, now),
                ).fetchone()
                until = math.inf if earliest is None else earliest
            return [convert(row) for row in rows], stamp, until

        found, stamp, until = await self._run(q)
        self.due_hints.store(key, connection, stamp, until)
        return found

    async def set_mapped(self, connection: str, order_id: str, order: Order, now: float) -> None:
        def q(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE orders SET order_json = ?, number = ?, updated_at = ? WHERE connection = ? AND order_id = ?",
                (order.model_dump_json(), order.number, now, connection, order_id),
            )

        await self._run(q)

    async def record_create_attempt(self, connection: str, order_id: str, now: float) -> int:
        def q(db: sqlite3.Connection) -> int:
            record = self._fetch_order(db, connection, order_id)
            if record.state is not OrderState.RECEIVED:
                raise IllegalTransition(f"create attempted for an order in state {record.state.value}")
            db.execute(
                "UPDATE orders SET create_attempts = create_attempts + 1, updated_at = ? "
                "WHERE connection = ? AND order_id = ?",
                (now, connection, order_id),
            )
            self._events(
                db, connection, order_id, [Event(at=now, kind="note", detail="create attempt recorded")]
            )
            return record.create_attempts + 1

        return await self._run(q)

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
        def q(db: sqlite3.Connection) -> OrderRecord:
            record = self._fetch_order(db, connection, order_id)
            check_transition(record.state, target)
            resume = record.state.value if target is OrderState.NEEDS_ATTENTION else None
            db.execute(
                "UPDATE orders SET state = ?, attempts = 0, next_attempt_at = 0, last_error = '', "
                "store_order_id = COALESCE(?, store_order_id), store_order_number = COALESCE(?, store_order_number), "
                "reason = COALESCE(?, CASE WHEN ? = 'needs_attention' THEN reason ELSE '' END), "
                "resume_state = ?, updated_at = ? WHERE connection = ? AND order_id = ?",
                (
                    target.value,
                    store_order_id,
                    store_order_number,
                    reason,
                    target.value,
                    resume,
                    now,
                    connection,
                    order_id,
                ),
            )
            self._events(
                db,
                connection,
                order_id,
                [
                    *events,
                    Event(
                        at=now, kind="transition", detail=f"{record.state.value} → {target.value}: {detail}"
                    ),
                ],
            )
            return self._fetch_order(db, connection, order_id)

        return await self._run(q)

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
        def q(db: sqlite3.Connection) -> int:
            db.execute(
                "UPDATE orders SET attempts = attempts + ?, next_attempt_at = ?, last_error = ?, updated_at = ? "
                "WHERE connection = ? AND order_id = ?",
                (1 if count else 0, next_attempt_at, error, now, connection, order_id),
            )
            self._events(db, connection, order_id, [*events, Event(at=now, kind="error", detail=error)])
            return self._fetch_order(db, connection, order_id).attempts

        return await self._run(q)

    async def add_events(self, connection: str, order_id: str, events: Sequence[Event]) -> None:
        if events:
            await self._run(lambda db: self._events(db, connection, order_id, events))

    async def history(self, connection: str, order_id: str) -> list[Event]:
        def q(db: sqlite3.Connection) -> list[Event]:
            rows = db.execute(
                "SELECT at, kind, direction, system, detail, outcome FROM order_events "
                "WHERE connection = ? AND order_id = ? ORDER BY id",
                (connection, order_id),
            ).fetchall()
            return [Event(**dict(r)) for r in rows]

        return await self._run(q)

    async def retry_order(self, connection: str, order_id: str, now: float) -> OrderRecord:
        def q(db: sqlite3.Connection) -> OrderRecord:
            record = self._fetch_order(db, connection, order_id)
            if record.state is not OrderState.NEEDS_ATTENTION:
                raise IllegalTransition(
                    f"only orders in needs_attention can be retried (this one is {record.state})"
                )
            target = record.resume_state or OrderState.RECEIVED
            check_transition(record.state, target)
            # A retry re-maps the raw order (the plugin or its configuration may have been fixed).
            clear_map = ", order_json = NULL" if target is OrderState.RECEIVED else ""
            db.execute(
                f"UPDATE orders SET state = ?, attempts = 0, next_attempt_at = 0, resume_state = NULL, reason = '', "
                f"updated_at = ?{clear_map} WHERE connection = ? AND order_id = ?",
                (target.value, now, connection, order_id),
            )
            # Shipments waiting after a refusal are due again with the order.
            db.execute(
                "UPDATE shipments SET next_attempt_at = 0, attempts = 0 WHERE connection = ? AND order_id = ? "
                "AND state = 'pending'",
                (connection, order_id),
            )
            self._events(
                db,
                connection,
                order_id,
                [
                    Event(
                        at=now, kind="transition", detail=f"needs_attention → {target.value}: retry requested"
                    )
                ],
            )
            return self._fetch_order(db, connection, order_id)

        return await self._run(q)

    async def list_orders(
        self,
        *,
        connection: str | None = None,
        state: OrderState | None = None,
        text: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[OrderRecord], int]:
        def q(db: sqlite3.Connection) -> tuple[list[OrderRecord], int]:
            where, args = ["1 = 1"], []
            if connection:
                where.append("connection = ?")
                args.append(connection)
            if state:
                where.append("state = ?")
                args.append(state.value)
            if text:
                where.append(
                    "(order_id LIKE ? ESCAPE '\\' OR number LIKE ? ESCAPE '\\' "
                    "OR store_order_number LIKE ? ESCAPE '\\')"
                )
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                like = f"%{escaped}%"
                args += [like, like, like]
            clause = " AND ".join(where)
            total = db.execute(f"SELECT COUNT(*) FROM orders WHERE {clause}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {clause} "
                "ORDER BY received_at DESC, order_id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            return [_order(r) for r in rows], int(total)

        return await self._run(q)

    async def count_by_state(self) -> dict[tuple[str, OrderState], int]:
        def q(db: sqlite3.Connection) -> dict[tuple[str, OrderState], int]:
            rows = db.execute("SELECT connection, state, COUNT(*) FROM orders GROUP BY connection, state")
            return {(r[0], OrderState(r[1])): int(r[2]) for r in rows}

        return await self._run(q)

    async def pending_units(self, connection: str | Sequence[str]) -> dict[str, int]:
        names = [connection] if isinstance(connection, str) else list(connection)

        def q(db: sqlite3.Connection) -> dict[str, int]:
            units: dict[str, int] = {}
            marks = ",".join("?" for _ in names)
            rows = db.execute(
                f"SELECT order_json FROM orders WHERE connection IN ({marks}) AND state = 'received' "
                "AND order_json IS NOT NULL",
                names,
            )
            for (order_json,) in rows:
                for line in Order.model_validate_json(order_json).lines:
                    # Counted under each identifier the line has, so a stock level can match by either.
                    for key in {
                        f"sku:{line.sku}" if line.sku else "",
                        f"ean:{line.ean}" if line.ean else "",
                    } - {""}:
                        units[key] = units.get(key, 0) + line.quantity
            return units

        return await self._run(q)

    # ------------------------------------------------------------------ shipments
    async def upsert_shipment(self, connection: str, reported: Shipment, now: float) -> ShipmentRecord | None:
        def q(db: sqlite3.Connection) -> ShipmentRecord | None:
            shipment = reported
            row = db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments WHERE connection = ? AND shipment_id = ?",
                (connection, shipment.shipment_id),
            ).fetchone()
            payload = shipment.model_dump_json()
            if row is None:
                db.execute(
                    f"INSERT INTO shipments ({_SHIPMENT_COLUMNS}) VALUES (?, ?, ?, 'pending', ?, '', 0, 0, '', ?, ?, NULL, 0)",
                    (connection, shipment.shipment_id, shipment.order_id, payload, now, now),
                )
                self._events(
                    db,
                    connection,
                    shipment.order_id,
                    [
                        Event(
                            at=now,
                            kind="call",
                            direction="in",
                            detail=f"store reports shipment {shipment.shipment_id}",
                            outcome="new",
                        )
                    ],
                )
            else:
                old = _shipment(row)
                # A code, once known (from the store or entered by a person), is not taken away by a later
                # report that lacks it: the store may not hold codes a person entered on the page.
                kept = {
                    field: getattr(old.shipment, field)
                    for field in ("tracking_code", "return_tracking_code", "carrier")
                    if getattr(old.shipment, field) and not getattr(shipment, field)
                }
                if kept:
                    shipment = shipment.model_copy(update=kept)
                    payload = shipment.model_dump_json()
                if _codes(old.shipment) == _codes(shipment):
                    return None
                if old.state is ShipmentState.SENT:
                    self._events(
                        db,
                        connection,
                        shipment.order_id,
                        [
                            Event(
                                at=now,
                                kind="note",
                                detail=f"shipment {shipment.shipment_id} changed in the store after it "
                                "was reported; the marketplace keeps the reported codes",
                            )
                        ],
                    )
                    db.execute(
                        "UPDATE shipments SET payload = ?, updated_at = ? WHERE connection = ? AND shipment_id = ?",
                        (payload, now, connection, shipment.shipment_id),
                    )
                    return None
                db.execute(
                    "UPDATE shipments SET payload = ?, state = 'pending', next_attempt_at = 0, attempts = 0, "
                    "updated_at = ? WHERE connection = ? AND shipment_id = ?",
                    (payload, now, connection, shipment.shipment_id),
                )
                self._events(
                    db,
                    connection,
                    shipment.order_id,
                    [
                        Event(
                            at=now,
                            kind="call",
                            direction="in",
                            detail=f"store updated shipment {shipment.shipment_id}",
                            outcome="changed",
                        )
                    ],
                )
            new_row = db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments WHERE connection = ? AND shipment_id = ?",
                (connection, shipment.shipment_id),
            ).fetchone()
            return _shipment(new_row)

        return await self._run(q)

    async def due_shipments(self, connection: str, now: float, limit: int) -> list[ShipmentRecord]:
        return await self._due(
            ("shipments", connection),
            connection,
            now,
            limit,
            "shipments",
            _SHIPMENT_COLUMNS,
            "connection = ? AND state = 'pending'",
            (connection,),
            "first_seen",
            _shipment,
        )

    async def begin_shipment_report(self, connection: str, shipment_id: str) -> int:
        def q(db: sqlite3.Connection) -> int:
            row = db.execute(
                "UPDATE shipments SET reports = reports + 1 WHERE connection = ? AND shipment_id = ? "
                "RETURNING reports",
                (connection, shipment_id),
            ).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._run(q)

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
    ) -> None:
        def q(db: sqlite3.Connection) -> None:
            retry = next_attempt_at is not None
            db.execute(
                "UPDATE shipments SET state = ?, missing = ?, last_error = ?, "
                "attempts = CASE WHEN ? THEN attempts + 1 ELSE 0 END, next_attempt_at = ?, updated_at = ?, "
                "held_since = CASE WHEN ? = 'held' THEN COALESCE(held_since, ?) ELSE NULL END, "
                # Held = missing codes, raised before anything is sent: the report begun for it sent nothing.
                "reports = CASE WHEN ? = 'held' THEN MAX(reports - 1, 0) ELSE reports END "
                "WHERE connection = ? AND shipment_id = ?",
                (
                    state.value,
                    ",".join(missing),
                    error,
                    retry,
                    next_attempt_at or 0,
                    now,
                    state.value,
                    now,
                    state.value,
                    connection,
                    shipment_id,
                ),
            )

        await self._run(q)

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
        def q(db: sqlite3.Connection) -> ShipmentRecord:
            row = db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments WHERE connection = ? AND shipment_id = ?",
                (connection, shipment_id),
            ).fetchone()
            if row is None:
                raise KeyError(f"no shipment {shipment_id!r} in connection {connection!r}")
            record = _shipment(row)
            if record.state is ShipmentState.SENT:
                raise IllegalTransition("this shipment was already reported to the marketplace")
            changes: dict[str, Any] = {}
            if tracking_code:
                changes["tracking_code"] = tracking_code
            if return_tracking_code:
                changes["return_tracking_code"] = return_tracking_code
            if carrier:
                changes["carrier"] = carrier
            shipment = record.shipment.model_copy(update=changes)
            Shipment.model_validate(shipment.model_dump())
            db.execute(
                "UPDATE shipments SET payload = ?, state = 'pending', next_attempt_at = 0, updated_at = ? "
                "WHERE connection = ? AND shipment_id = ?",
                (shipment.model_dump_json(), now, connection, shipment_id),
            )
            self._events(
                db,
                connection,
                record.order_id,
                [
                    Event(
                        at=now,
                        kind="note",
                        detail=f"codes entered by a person for shipment {shipment_id}: "
                        + ", ".join(sorted(k for k in changes)),
                    )
                ],
            )
            new_row = db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments WHERE connection = ? AND shipment_id = ?",
                (connection, shipment_id),
            ).fetchone()
            return _shipment(new_row)

        return await self._run(q)

    async def shipments(
        self,
        *,
        connection: str | None = None,
        order_id: str | None = None,
        state: ShipmentState | None = None,
    ) -> list[ShipmentRecord]:
        def q(db: sqlite3.Connection) -> list[ShipmentRecord]:
            where, args = ["1 = 1"], []
            for column, value in (
                ("connection", connection),
                ("order_id", order_id),
                ("state", state.value if state else None),
            ):
                if value:
                    where.append(f"{column} = ?")
                    args.append(value)
            rows = db.execute(
                f"SELECT {_SHIPMENT_COLUMNS} FROM shipments WHERE {' AND '.join(where)} ORDER BY first_seen",
                args,
            ).fetchall()
            return [_shipment(r) for r in rows]

        return await self._run(q)

    async def held_shipments_by_connection(self) -> dict[str, tuple[int, float | None]]:
        def q(db: sqlite3.Connection) -> dict[str, tuple[int, float | None]]:
            rows = db.execute(
                "SELECT connection, COUNT(*), MIN(held_since) FROM shipments WHERE state = 'held' "
                "GROUP BY connection"
            )
            return {r[0]: (int(r[1]), r[2]) for r in rows}

        return await self._run(q)

    # ------------------------------------------------------------------ alerts
    async def queue_alert(
        self, connection: str, order_id: str, condition: str, detail: str, now: float
    ) -> AlertRecord:
        def q(db: sqlite3.Connection) -> AlertRecord:
            row = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE connection = ? AND order_id = ? AND condition = ?",
                (connection, order_id, condition),
            ).fetchone()
            note = ""
            if row is None:
                db.execute(
                    "INSERT INTO alerts (connection, order_id, condition, state, detail, next_attempt_at, "
                    "created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (connection, order_id, condition, detail, now, now, now),
                )
                note = f"alert queued ({condition}): {detail}"
            elif row["state"] == "resolved":
                db.execute(
                    "UPDATE alerts SET state = 'queued', detail = ?, occurrence = occurrence + 1, attempts = 0, "
                    "next_attempt_at = ?, last_attempt_at = NULL, sent_at = NULL, reminders_sent = 0, "
                    "reminder_due_at = NULL, last_error = '', resolved_at = NULL, updated_at = ? WHERE id = ?",
                    (detail, now, now, row["id"]),
                )
                note = f"alert queued again ({condition}): {detail}"
            elif row["detail"] != detail:
                db.execute(
                    "UPDATE alerts SET detail = ?, updated_at = ? WHERE id = ?", (detail, now, row["id"])
                )
            if note:
                self._events(db, connection, order_id, [Event(at=now, kind="note", detail=note)])
            return _alert(
                db.execute(
                    f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE connection = ? AND order_id = ? "
                    "AND condition = ?",
                    (connection, order_id, condition),
                ).fetchone()
            )

        return await self._run(q)

    async def resolve_alert(self, connection: str, order_id: str, condition: str, now: float) -> bool:
        def q(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE alerts SET state = 'resolved', reminder_due_at = NULL, resolved_at = ?, updated_at = ? "
                "WHERE connection = ? AND order_id = ? AND condition = ? AND state != 'resolved'",
                (now, now, connection, order_id, condition),
            )
            if cur.rowcount:
                self._events(
                    db,
                    connection,
                    order_id,
                    [Event(at=now, kind="note", detail=f"alert resolved ({condition}); reminders cancelled")],
                )
            return bool(cur.rowcount)

        return await self._run(q)

    async def due_alerts(self, now: float, limit: int = 100) -> list[AlertRecord]:
        def q(db: sqlite3.Connection) -> list[AlertRecord]:
            rows = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE (state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'sent' AND reminder_due_at IS NOT NULL AND reminder_due_at <= ?) "
                "ORDER BY created_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            return [_alert(r) for r in rows]

        return await self._run(q)

    async def record_alert_attempt(self, alert_id: int, now: float) -> AlertRecord | None:
        def q(db: sqlite3.Connection) -> AlertRecord | None:
            cur = db.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_attempt_at = ?, updated_at = ? WHERE id = ? AND "
                "((state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'sent' AND reminder_due_at IS NOT NULL AND reminder_due_at <= ?))",
                (now, now, alert_id, now, now),
            )
            if not cur.rowcount:
                return None
            return _alert(
                db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            )

        return await self._run(q)

    async def record_alert_sent(
        self, alert_id: int, now: float, *, reminder: bool, reminder_due_at: float | None, detail: str
    ) -> None:
        def q(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT connection, order_id FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                return
            db.execute(
                "UPDATE alerts SET state = CASE WHEN state = 'resolved' THEN state ELSE 'sent' END, "
                "sent_at = CASE WHEN ? THEN sent_at ELSE ? END, reminders_sent = reminders_sent + ?, "
                "reminder_due_at = CASE WHEN state = 'resolved' THEN NULL ELSE ? END, "
                "attempts = 0, last_error = '', updated_at = ? WHERE id = ?",
                (reminder, now, 1 if reminder else 0, reminder_due_at, now, alert_id),
            )
            self._events(
                db,
                row["connection"],
                row["order_id"],
                [Event(at=now, kind="call", direction="out", system="smtp", detail=detail, outcome="ok")],
            )

        await self._run(q)

    async def record_alert_failed(self, alert_id: int, now: float, error: str, retry_at: float) -> None:
        def q(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE alerts SET last_error = ?, updated_at = ?, "
                "next_attempt_at = CASE WHEN state = 'queued' THEN ? ELSE next_attempt_at END, "
                "reminder_due_at = CASE WHEN state = 'sent' THEN ? ELSE reminder_due_at END WHERE id = ?",
                (error, now, retry_at, retry_at, alert_id),
            )

        await self._run(q)

    async def alerts(
        self,
        *,
        connection: str | None = None,
        order_id: str | None = None,
        states: Sequence[str] = (),
    ) -> list[AlertRecord]:
        def q(db: sqlite3.Connection) -> list[AlertRecord]:
            where, args = ["1 = 1"], []
            if connection:
                where.append("connection = ?")
                args.append(connection)
            if order_id:
                where.append("order_id = ?")
                args.append(order_id)
            if states:
                where.append(f"state IN ({','.join('?' for _ in states)})")
                args += list(states)
            rows = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY created_at, id",
                args,
            ).fetchall()
            return [_alert(r) for r in rows]

        return await self._run(q)

    async def search_orders(
        self,
        *,
        connections: Sequence[str] | None = None,
        state: OrderState | None = None,
        text: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[OrderRecord], int]:
        def q(db: sqlite3.Connection) -> tuple[list[OrderRecord], int]:
            where, args = ["1 = 1"], []
            if connections is not None:
                where.append(f"connection IN ({','.join('?' for _ in connections) or 'NULL'})")
                args += list(connections)
            if state:
                where.append("state = ?")
                args.append(state.value)
            if text:
                where.append(
                    "(order_id LIKE ? ESCAPE '\\' OR number LIKE ? ESCAPE '\\' "
                    "OR store_order_number LIKE ? ESCAPE '\\')"
                )
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                args += [f"%{escaped}%"] * 3
            clause = " AND ".join(where)
            total = db.execute(f"SELECT COUNT(*) FROM orders WHERE {clause}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {clause} "
                "ORDER BY received_at DESC, order_id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
            return [_order(r) for r in rows], int(total)

        return await self._run(q)

    # ------------------------------------------------------------------ stock

    async def record_stock_results(
        self, account: str, connection: str, results: Sequence[StockRecord]
    ) -> None:
        def q(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO stock_pushes (account, product, sku, ean, quantity, accepted_quantity, status, reason, "
                "attempts, next_attempt_at, connection, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account, product) DO UPDATE SET sku = excluded.sku, ean = excluded.ean, "
                "quantity = excluded.quantity, "
                "accepted_quantity = COALESCE(excluded.accepted_quantity, stock_pushes.accepted_quantity), "
                "status = excluded.status, reason = excluded.reason, attempts = excluded.attempts, "
                "next_attempt_at = excluded.next_attempt_at, connection = excluded.connection, "
                "updated_at = excluded.updated_at",
                [
                    (
                        account,
                        r.product,
                        r.sku,
                        r.ean,
                        r.quantity,
                        r.accepted_quantity,
                        r.status,
                        r.reason,
                        r.attempts,
                        r.next_attempt_at,
                        connection,
                        r.updated_at,
                    )
                    for r in results
                ],
            )

        await self._run(q)

    async def all_stock_records(self, account: str) -> dict[str, StockRecord]:
        def q(db: sqlite3.Connection) -> dict[str, StockRecord]:
            return {
                r["product"]: _stock(r)
                for r in db.execute("SELECT * FROM stock_pushes WHERE account = ?", (account,))
            }

        return await self._run(q)

    async def all_store_quantities(self, store: str) -> dict[str, int]:
        def q(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute("SELECT product, quantity FROM store_stock WHERE store = ?", (store,))
            return {r[0]: int(r[1]) for r in rows}

        return await self._run(q)

    async def stock_problems(self, account: str) -> list[StockRecord]:
        def q(db: sqlite3.Connection) -> list[StockRecord]:
            rows = db.execute(
                "SELECT * FROM stock_pushes WHERE account = ? AND status != 'accepted' ORDER BY status, product",
                (account,),
            )
            return [_stock(r) for r in rows]

        return await self._run(q)

    async def stock_summary(self, account: str) -> dict[str, int]:
        def q(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute(
                "SELECT status, COUNT(*) FROM stock_pushes WHERE account = ? GROUP BY status", (account,)
            )
            return {r[0]: int(r[1]) for r in rows}

        return await self._run(q)

    async def set_store_quantities(self, store: str, quantities: Mapping[str, int], now: float) -> None:
        def q(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO store_stock (store, product, quantity, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (store, product) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
                [(store, product, quantity, now) for product, quantity in quantities.items()],
            )

        if quantities:
            await self._run(q)
