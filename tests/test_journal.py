"""The SQLite journal: migrations, orders, the state machine in the database, shipments, durability."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import ordersyncd.journal.sqlite as sqlite_module
from ordersyncd.errors import IllegalTransition
from ordersyncd.journal import OrderState, ShipmentState, SqliteJournal, open_journal
from ordersyncd.journal.base import Event
from ordersyncd.journal.migrations import MIGRATIONS
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

#: The versions this ordersyncd knows, and one it does not know yet (for "newer"/"pending" migrations).
KNOWN = sorted(version for version, _, _ in MIGRATIONS)
NEXT = KNOWN[-1] + 1

S = OrderState
CONN = "zalando-de"
OTHER = "zalando-at"
T0 = 1_000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ---------------------------------------------------------------------------- helpers
def raw(order_id: str, payload: dict[str, Any] | None = None) -> RawOrder:
    return RawOrder(
        order_id=order_id,
        modified_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        payload=payload if payload is not None else {"id": order_id, "items": [1, 2]},
    )


def make_order(
    order_id: str, lines: Iterable[tuple[str, str, int]] = (("SKU-1", "", 1),), number: str = ""
) -> Order:
    """An order whose lines are (sku, ean, quantity)."""
    address = Address(
        last_name="Mustermann", street="Hauptstraße 5", postal_code="10115", city="Berlin", country_code="DE"
    )
    return Order(
        marketplace="zalando",
        order_id=order_id,
        number=number or f"N-{order_id}",
        created_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        customer=Customer(email="erika@example.org"),
        billing_address=address,
        shipping_address=address,
        lines=tuple(
            OrderLine(
                line_id=f"L{i}",
                sku=sku,
                ean=ean,
                quantity=qty,
                unit_price=Money(amount=Decimal("9.99"), currency="EUR"),
            )
            for i, (sku, ean, qty) in enumerate(lines, start=1)
        ),
        shipping_cost=Money(amount=Decimal("0"), currency="EUR"),
        payment=Payment(method="invoice"),
    )


def shipment(
    shipment_id: str = "SH-1",
    order_id: str = "O-1",
    *,
    tracking: str = "",
    returns: str = "",
    carrier: str = "DHL",
    lines: Iterable[tuple[str, int]] = (("L1", 1),),
    url: str = "",
) -> Shipment:
    return Shipment(
        shipment_id=shipment_id,
        order_id=order_id,
        carrier=carrier,
        tracking_code=tracking,
        return_tracking_code=returns,
        tracking_url=url,
        lines=tuple(ShipmentLine(line_id=line_id, quantity=qty) for line_id, qty in lines),
    )


def raw_db(path: Path) -> closing[sqlite3.Connection]:
    """A separate plain connection to the journal file, for looking behind the interface."""
    return closing(sqlite3.connect(path, isolation_level=None))


async def add(journal: SqliteJournal, order_id: str, now: float = T0, connection: str = CONN) -> None:
    assert await journal.persist_fetched(connection, [raw(order_id)], now, system="zalando") == [order_id]


async def walk(journal: SqliteJournal, order_id: str, *states: OrderState, now: float = T0) -> None:
    for state in states:
        await journal.transition(CONN, order_id, state, now, "test")


def order_ids(records: Iterable[Any]) -> list[str]:
    return [r.order_id for r in records]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite3"


@pytest.fixture
async def journal(path: Path) -> AsyncIterator[SqliteJournal]:
    j = SqliteJournal(path)
    await j.open()
    try:
        yield j
    finally:
        await j.close()


# ---------------------------------------------------------------------------- migrations and opening
@pytest.mark.anyio
async def test_fresh_journal_applies_migrations_in_wal_mode(journal: SqliteJournal, path: Path) -> None:
    assert journal.is_open
    assert path.exists()  # the state directory was created
    with raw_db(path) as db:
        rows = db.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
        assert [version for version, _ in rows] == KNOWN
        assert rows[0][1]  # applied_at recorded
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"orders", "order_events", "cursors", "shipments", "schema_migrations"} <= tables


@pytest.mark.anyio
async def test_open_journal_uses_the_state_dir(tmp_path: Path) -> None:
    j = open_journal(tmp_path / "state")
    assert isinstance(j, SqliteJournal)
    assert j.path == tmp_path / "state" / "journal.sqlite3"
    assert not j.is_open


@pytest.mark.anyio
@pytest.mark.parametrize(("setting", "expected"), [("full", 2), ("normal", 1)])
async def test_synchronous_setting(path: Path, setting: str, expected: int) -> None:
    j = SqliteJournal(path, synchronous=setting)
    await j.open()
    try:
        assert j.committer.db is not None
        assert j.committer.db.execute("PRAGMA synchronous").fetchone()[0] == expected
    finally:
        await j.close()


@pytest.mark.anyio
async def test_reopening_applies_nothing_twice(path: Path) -> None:
    first = SqliteJournal(path)
    await first.open()
    await add(first, "O-1")
    await first.close()
    assert not first.is_open
    with raw_db(path) as db:
        before = db.execute("SELECT version, applied_at FROM schema_migrations").fetchall()

    second = SqliteJournal(path)
    await second.open()
    try:
        with raw_db(path) as db:
            assert db.execute("SELECT version, applied_at FROM schema_migrations").fetchall() == before
        assert (await second.get_order(CONN, "O-1")) is not None
    finally:
        await second.close()


@pytest.mark.anyio
async def test_pending_migration_is_applied_on_open(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = SqliteJournal(path)
    await first.open()
    await first.close()
    newer = (
        *MIGRATIONS,
        (NEXT, "extra table", "CREATE TABLE extra (id INTEGER); CREATE INDEX extra_id ON extra (id)"),
    )
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", newer)
    second = SqliteJournal(path)
    await second.open()
    await second.close()
    with raw_db(path) as db:
        assert [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")] == [
            *KNOWN,
            NEXT,
        ]
        assert db.execute("SELECT COUNT(*) FROM extra").fetchone()[0] == 0


@pytest.mark.anyio
async def test_failing_migration_is_rolled_back(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = (
        *MIGRATIONS,
        (NEXT, "broken", "CREATE TABLE extra (id INTEGER); INSERT INTO no_such_table VALUES (1)"),
    )
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", broken)
    j = SqliteJournal(path)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await j.open()
    await j.close()
    with raw_db(path) as db:
        assert [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")] == KNOWN
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None


async def _stamp_newer_schema(path: Path) -> None:
    j = SqliteJournal(path)
    await j.open()
    await j.close()
    with raw_db(path) as db:
        db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))", (NEXT,))


@pytest.mark.anyio
async def test_newer_schema_refuses_to_open(path: Path) -> None:
    await _stamp_newer_schema(path)
    j = SqliteJournal(path)
    with pytest.raises(RuntimeError) as info:
        await j.open()
    await j.close()
    assert str(info.value) == (
        f"journal schema version {NEXT} is newer than this ordersyncd knows ({KNOWN[-1]}); upgrade ordersyncd"
    )


@pytest.mark.anyio
async def test_refused_open_leaves_the_journal_closed(path: Path) -> None:
    await _stamp_newer_schema(path)
    j = SqliteJournal(path)
    with pytest.raises(RuntimeError, match="newer than this ordersyncd knows"):
        await j.open()
    try:
        assert not j.is_open
        with pytest.raises(RuntimeError, match="journal is not open"):
            await j.get_order(CONN, "O-1")
    finally:
        await j.close()


@pytest.mark.anyio
async def test_concurrent_first_open_applies_each_migration_once(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.parent.mkdir(parents=True)
    real_migrate = SqliteJournal._migrate
    other = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)

    class OtherProcessMigratesFirst:
        """Runs the other process's migration right before this one's first BEGIN IMMEDIATE."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db
            self.done = False

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "BEGIN IMMEDIATE" and not self.done:
                self.done = True
                real_migrate(other)
            return self.db.execute(sql, *args)

    monkeypatch.setattr(
        SqliteJournal, "_migrate", staticmethod(lambda db: real_migrate(OtherProcessMigratesFirst(db)))
    )
    j = SqliteJournal(path)
    try:
        await j.open()
        with raw_db(path) as db:
            assert [
                r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")
            ] == KNOWN
    finally:
        await j.close()
        other.close()


@pytest.mark.anyio
async def test_calls_on_a_closed_journal_fail(path: Path) -> None:
    j = SqliteJournal(path)
    with pytest.raises(RuntimeError, match="journal is not open"):
        await j.get_cursor(CONN, "orders")
    await j.open()
    await j.close()
    with pytest.raises(RuntimeError, match="journal is not open"):
        await j.get_cursor(CONN, "orders")


# ---------------------------------------------------------------------------- cursors
@pytest.mark.anyio
async def test_cursors(journal: SqliteJournal) -> None:
    assert await journal.get_cursor(CONN, "orders") is None
    await journal.set_cursor(CONN, "orders", "2024-05-01T00:00:00+00:00")
    await journal.set_cursor(CONN, "orders", "2024-05-02T00:00:00+00:00")
    await journal.set_cursor(OTHER, "orders", "other")
    assert await journal.get_cursor(CONN, "orders") == "2024-05-02T00:00:00+00:00"
    assert await journal.get_cursor(CONN, "shipments") is None
    assert await journal.get_cursor(OTHER, "orders") == "other"


# ---------------------------------------------------------------------------- persist_fetched
@pytest.mark.anyio
async def test_persist_fetched_stores_new_orders_once(journal: SqliteJournal) -> None:
    new = await journal.persist_fetched(CONN, [raw("O-1"), raw("O-2")], T0, system="zalando")
    assert new == ["O-1", "O-2"]
    assert await journal.persist_fetched(CONN, [raw("O-1"), raw("O-2")], T0 + 60, system="zalando") == []
    assert await journal.persist_fetched(CONN, [raw("O-2"), raw("O-3")], T0 + 60, system="zalando") == ["O-3"]

    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.state is S.RECEIVED
    assert record.raw == {"id": "O-1", "items": [1, 2]}
    assert record.order is None
    assert (record.received_at, record.updated_at) == (T0, T0)  # the re-fetch did not touch it
    assert (record.create_attempts, record.attempts, record.next_attempt_at) == (0, 0, 0)
    assert record.resume_state is None
    total = (await journal.list_orders())[1]
    assert total == 3


@pytest.mark.anyio
async def test_persist_fetched_records_history_once(journal: SqliteJournal) -> None:
    await journal.persist_fetched(CONN, [raw("O-1")], T0, system="zalando")
    await journal.persist_fetched(CONN, [raw("O-1")], T0 + 60, system="zalando")
    assert await journal.history(CONN, "O-1") == [
        Event(
            at=T0,
            kind="transition",
            detail="fetched from marketplace; state received",
            direction="in",
            system="zalando",
            outcome="ok",
        )
    ]


@pytest.mark.anyio
async def test_persist_fetched_same_id_twice_in_one_batch(journal: SqliteJournal) -> None:
    new = await journal.persist_fetched(CONN, [raw("O-1", {"v": 1}), raw("O-1", {"v": 2})], T0, system="z")
    assert new == ["O-1"]
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.raw == {"v": 1}
    history = await journal.history(CONN, "O-1")
    assert [e.kind for e in history] == ["transition", "note"]
    assert "re-fetched with changes" in history[1].detail


@pytest.mark.anyio
async def test_persist_fetched_is_per_connection(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    assert await journal.persist_fetched(OTHER, [raw("O-1")], T0, system="z") == ["O-1"]
    assert await journal.count_by_state() == {(CONN, S.RECEIVED): 1, (OTHER, S.RECEIVED): 1}


@pytest.mark.anyio
async def test_refetch_keeps_the_first_payload(journal: SqliteJournal) -> None:
    await journal.persist_fetched(CONN, [raw("O-1", {"v": 1})], T0, system="z")
    assert await journal.persist_fetched(CONN, [raw("O-1", {"v": 2})], T0 + 60, system="z") == []
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.raw == {"v": 1}


@pytest.mark.anyio
async def test_refetch_with_changed_payload_is_noted(journal: SqliteJournal) -> None:
    await journal.persist_fetched(CONN, [raw("O-1", {"v": 1})], T0, system="z")
    await journal.persist_fetched(CONN, [raw("O-1", {"v": 1})], T0 + 30, system="z")
    assert len(await journal.history(CONN, "O-1")) == 1  # same payload: no note
    await journal.persist_fetched(CONN, [raw("O-1", {"v": 2})], T0 + 60, system="z")
    assert len(await journal.history(CONN, "O-1")) == 2


# ---------------------------------------------------------------------------- due_orders
@pytest.mark.anyio
async def test_due_orders_respects_states_time_and_order(journal: SqliteJournal) -> None:
    # Ids sort opposite to arrival, so only ordering by received_at gives the expected lists;
    # O-7 and O-6 arrive at the same instant (tie broken by order id).
    await add(journal, "O-9", now=T0)
    await add(journal, "O-5", now=T0 + 1)
    await add(journal, "O-7", now=T0 + 2)
    await add(journal, "O-6", now=T0 + 2)
    await add(journal, "O-1", now=T0 + 3)
    await add(journal, "X-1", now=T0, connection=OTHER)
    await walk(journal, "O-5", S.CREATED)
    await journal.schedule_retry(CONN, "O-7", T0 + 100, "timeout", T0 + 5)

    due = await journal.due_orders(CONN, [S.RECEIVED], T0 + 10, 10)
    assert order_ids(due) == ["O-9", "O-6", "O-1"]
    due = await journal.due_orders(CONN, [S.RECEIVED, S.CREATED], T0 + 10, 10)
    assert order_ids(due) == ["O-9", "O-5", "O-6", "O-1"]
    # not due a moment before next_attempt_at, due exactly at it
    due = await journal.due_orders(CONN, [S.RECEIVED], T0 + 99.9, 10)
    assert order_ids(due) == ["O-9", "O-6", "O-1"]
    due = await journal.due_orders(CONN, [S.RECEIVED], T0 + 100, 10)
    assert order_ids(due) == ["O-9", "O-6", "O-7", "O-1"]
    due = await journal.due_orders(CONN, [S.RECEIVED, S.CREATED], T0 + 100, 2)
    assert order_ids(due) == ["O-9", "O-5"]
    assert await journal.due_orders(CONN, [S.ACKNOWLEDGED], T0 + 100, 10) == []
    assert await journal.due_orders(CONN, [], T0 + 100, 10) == []
    assert order_ids(await journal.due_orders(OTHER, [S.RECEIVED], T0, 10)) == ["X-1"]


# ---------------------------------------------------------------------------- set_mapped, record_create_attempt
@pytest.mark.anyio
async def test_set_mapped_stores_the_order_and_number(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    mapped = make_order("O-1", number="10001")
    await journal.set_mapped(CONN, "O-1", mapped, T0 + 1)
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.order == mapped
    assert record.number == "10001"
    assert record.updated_at == T0 + 1


@pytest.mark.anyio
async def test_record_create_attempt_counts(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    assert await journal.record_create_attempt(CONN, "O-1", T0 + 1) == 1
    assert await journal.record_create_attempt(CONN, "O-1", T0 + 2) == 2
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.create_attempts == 2
    assert record.updated_at == T0 + 2
    notes = [e for e in await journal.history(CONN, "O-1") if e.kind == "note"]
    assert [e.detail for e in notes] == ["create attempt recorded"] * 2


@pytest.mark.anyio
async def test_record_create_attempt_refuses_when_not_received(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.record_create_attempt(CONN, "O-1", T0)
    await walk(journal, "O-1", S.CREATED)
    history_before = await journal.history(CONN, "O-1")
    with pytest.raises(IllegalTransition, match="create attempted for an order in state created"):
        await journal.record_create_attempt(CONN, "O-1", T0 + 1)
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert record.create_attempts == 1
    assert await journal.history(CONN, "O-1") == history_before


@pytest.mark.anyio
async def test_unknown_order(journal: SqliteJournal) -> None:
    assert await journal.get_order(CONN, "nope") is None
    with pytest.raises(KeyError, match="nope"):
        await journal.record_create_attempt(CONN, "nope", T0)
    with pytest.raises(KeyError, match="nope"):
        await journal.transition(CONN, "nope", S.CREATED, T0, "x")
    with pytest.raises(KeyError, match="nope"):
        await journal.retry_order(CONN, "nope", T0)


# ---------------------------------------------------------------------------- transition
@pytest.mark.anyio
async def test_transition_stores_store_order_and_history(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    call = Event(
        at=T0 + 1, kind="call", detail="createOrder", direction="out", system="shopify", outcome="ok"
    )
    record = await journal.transition(
        CONN,
        "O-1",
        S.CREATED,
        T0 + 1,
        "created in store",
        store_order_id="gid://1",
        store_order_number="#1001",
        events=[call],
    )
    assert record.state is S.CREATED
    assert (record.store_order_id, record.store_order_number) == ("gid://1", "#1001")
    assert record.updated_at == T0 + 1
    assert record == await journal.get_order(CONN, "O-1")
    history = await journal.history(CONN, "O-1")
    assert history[-2:] == [
        call,
        Event(at=T0 + 1, kind="transition", detail="received → created: created in store"),
    ]

    # A later transition without store ids keeps them.
    record = await journal.transition(CONN, "O-1", S.ACKNOWLEDGED, T0 + 2, "acknowledged")
    assert (record.store_order_id, record.store_order_number) == ("gid://1", "#1001")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path_to", "target"),
    [
        ((), S.SHIPPED),
        ((), S.RECEIVED),
        ((S.CANCELLED,), S.RECEIVED),
        ((S.CREATED, S.ACKNOWLEDGED), S.RECEIVED),
    ],
)
async def test_illegal_transition_changes_nothing(
    journal: SqliteJournal, path_to: tuple[OrderState, ...], target: OrderState
) -> None:
    await add(journal, "O-1")
    await walk(journal, "O-1", *path_to)
    await journal.schedule_retry(CONN, "O-1", T0 + 50, "boom", T0 + 1)
    before = await journal.get_order(CONN, "O-1")
    history_before = await journal.history(CONN, "O-1")
    assert before is not None
    with pytest.raises(IllegalTransition, match=f"cannot become {target.value}"):
        await journal.transition(
            CONN,
            "O-1",
            target,
            T0 + 9,
            "nope",
            store_order_id="gid://x",
            reason="r",
            events=[Event(at=T0, kind="note", detail="x")],
        )
    assert await journal.get_order(CONN, "O-1") == before
    assert await journal.history(CONN, "O-1") == history_before


@pytest.mark.anyio
async def test_transition_resets_retry_state(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.schedule_retry(CONN, "O-1", T0 + 30, "timeout", T0 + 1)
    await journal.schedule_retry(CONN, "O-1", T0 + 90, "timeout again", T0 + 2)
    record = await journal.transition(CONN, "O-1", S.CREATED, T0 + 3, "created")
    assert (record.attempts, record.next_attempt_at, record.last_error) == (0, 0, "")
    assert order_ids(await journal.due_orders(CONN, [S.CREATED], T0 + 3, 10)) == ["O-1"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "source_path",
    [(), (S.CREATED,), (S.CREATED, S.ACKNOWLEDGED, S.HELD)],
    ids=["received", "created", "held"],
)
async def test_quarantine_records_resume_state_and_reason(
    journal: SqliteJournal, source_path: tuple[OrderState, ...]
) -> None:
    await add(journal, "O-1")
    await walk(journal, "O-1", *source_path)
    source = source_path[-1] if source_path else S.RECEIVED
    record = await journal.transition(
        CONN, "O-1", S.NEEDS_ATTENTION, T0 + 5, "unknown sku", reason="SKU-9 unknown"
    )
    assert record.state is S.NEEDS_ATTENTION
    assert record.resume_state is source
    assert record.reason == "SKU-9 unknown"


@pytest.mark.anyio
async def test_reason_is_cleared_when_leaving_quarantine_by_transition(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.transition(CONN, "O-1", S.NEEDS_ATTENTION, T0, "q", reason="broken")
    record = await journal.transition(CONN, "O-1", S.CANCELLED, T0 + 1, "cancelled by marketplace")
    assert record.reason == ""
    assert record.resume_state is None


# ---------------------------------------------------------------------------- schedule_retry
@pytest.mark.anyio
async def test_schedule_retry_counts(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    call = Event(
        at=T0 + 1, kind="call", detail="createOrder", direction="out", system="shopify", outcome="503"
    )
    assert await journal.schedule_retry(CONN, "O-1", T0 + 10, "HTTP 503", T0 + 1, [call]) == 1
    assert await journal.schedule_retry(CONN, "O-1", T0 + 30, "HTTP 502", T0 + 11) == 2
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert (record.attempts, record.next_attempt_at, record.last_error, record.updated_at) == (
        2,
        T0 + 30,
        "HTTP 502",
        T0 + 11,
    )
    assert record.state is S.RECEIVED
    history = await journal.history(CONN, "O-1")
    assert history[1:] == [
        call,
        Event(at=T0 + 1, kind="error", detail="HTTP 503"),
        Event(at=T0 + 11, kind="error", detail="HTTP 502"),
    ]


@pytest.mark.anyio
async def test_schedule_retry_without_counting(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    assert await journal.schedule_retry(CONN, "O-1", T0 + 10, "HTTP 503", T0 + 1) == 1
    assert await journal.schedule_retry(CONN, "O-1", T0 + 60, "credentials refused", T0 + 2, count=False) == 1
    record = await journal.get_order(CONN, "O-1")
    assert record is not None
    assert (record.attempts, record.next_attempt_at, record.last_error) == (1, T0 + 60, "credentials refused")
    assert await journal.due_orders(CONN, [S.RECEIVED], T0 + 59, 10) == []


@pytest.mark.anyio
async def test_add_events(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    events = [
        Event(at=T0 + 1, kind="note", detail="a"),
        Event(at=T0 + 2, kind="call", detail="b", outcome="ok"),
    ]
    await journal.add_events(CONN, "O-1", events)
    await journal.add_events(CONN, "O-1", [])
    assert (await journal.history(CONN, "O-1"))[1:] == events
    assert await journal.history(OTHER, "O-1") == []


# ---------------------------------------------------------------------------- retry_order
@pytest.mark.anyio
async def test_retry_from_received_clears_the_mapped_order(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.set_mapped(CONN, "O-1", make_order("O-1"), T0)
    await journal.transition(CONN, "O-1", S.NEEDS_ATTENTION, T0 + 1, "unknown sku", reason="SKU-1 unknown")
    await journal.schedule_retry(CONN, "O-1", T0 + 500, "still broken", T0 + 2)
    record = await journal.retry_order(CONN, "O-1", T0 + 3)
    assert record.state is S.RECEIVED
    assert record.order is None
    assert record.resume_state is None
    assert (record.attempts, record.next_attempt_at, record.updated_at) == (0, 0, T0 + 3)
    assert order_ids(await journal.due_orders(CONN, [S.RECEIVED], T0 + 3, 10)) == ["O-1"]
    assert (await journal.history(CONN, "O-1"))[-1] == Event(
        at=T0 + 3, kind="transition", detail="needs_attention → received: retry requested"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "source_path", [(S.CREATED,), (S.CREATED, S.ACKNOWLEDGED, S.HELD)], ids=["created", "held"]
)
async def test_retry_returns_to_where_it_was_and_keeps_the_mapping(
    journal: SqliteJournal, source_path: tuple[OrderState, ...]
) -> None:
    await add(journal, "O-1")
    mapped = make_order("O-1")
    await journal.set_mapped(CONN, "O-1", mapped, T0)
    await journal.transition(
        CONN, "O-1", S.CREATED, T0, "created", store_order_id="gid://1", store_order_number="#1"
    )
    await walk(journal, "O-1", *source_path[1:])
    await journal.transition(CONN, "O-1", S.NEEDS_ATTENTION, T0 + 1, "rejected", reason="r")
    record = await journal.retry_order(CONN, "O-1", T0 + 2)
    assert record.state is source_path[-1]
    assert record.order == mapped
    assert (record.store_order_id, record.store_order_number) == ("gid://1", "#1")
    assert record.resume_state is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "source_path", [(), (S.CREATED,), (S.CANCELLED,)], ids=["received", "created", "cancelled"]
)
async def test_retry_refuses_orders_not_in_needs_attention(
    journal: SqliteJournal, source_path: tuple[OrderState, ...]
) -> None:
    await add(journal, "O-1")
    await walk(journal, "O-1", *source_path)
    before = await journal.get_order(CONN, "O-1")
    with pytest.raises(IllegalTransition, match="only orders in needs_attention can be retried"):
        await journal.retry_order(CONN, "O-1", T0 + 1)
    assert await journal.get_order(CONN, "O-1") == before


@pytest.mark.anyio
async def test_retried_order_can_be_quarantined_and_retried_again(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await walk(journal, "O-1", S.CREATED, S.NEEDS_ATTENTION)
    await journal.retry_order(CONN, "O-1", T0 + 1)
    await walk(journal, "O-1", S.NEEDS_ATTENTION)
    assert (await journal.retry_order(CONN, "O-1", T0 + 2)).state is S.CREATED


# ---------------------------------------------------------------------------- list_orders, count_by_state
async def _catalog(journal: SqliteJournal) -> None:
    """Five orders in CONN and two in OTHER; arrival order is unrelated to id order.

    Newest first: X-1, X-2, O-2, O-0, O-4, O-3, O-1.
    """
    for i, at in enumerate((3, 0, 4, 1, 2)):
        await add(journal, f"O-{i}", now=T0 + at)
        await journal.set_mapped(CONN, f"O-{i}", make_order(f"O-{i}", number=f"1000{i}"), T0 + at)
    await journal.transition(CONN, "O-1", S.CREATED, T0 + 10, "c", store_order_number="#SHOP-77")
    await journal.transition(CONN, "O-3", S.CREATED, T0 + 10, "c", store_order_number="#SHOP-78")
    await journal.transition(CONN, "O-4", S.NEEDS_ATTENTION, T0 + 10, "q", reason="bad")
    await add(journal, "X-2", now=T0 + 20, connection=OTHER)
    await add(journal, "X-1", now=T0 + 21, connection=OTHER)


@pytest.mark.anyio
async def test_list_orders_filters(journal: SqliteJournal) -> None:
    await _catalog(journal)
    records, total = await journal.list_orders()
    assert total == 7
    assert order_ids(records) == ["X-1", "X-2", "O-2", "O-0", "O-4", "O-3", "O-1"]  # newest first

    records, total = await journal.list_orders(connection=CONN)
    assert (order_ids(records), total) == (["O-2", "O-0", "O-4", "O-3", "O-1"], 5)
    records, total = await journal.list_orders(connection=CONN, state=S.CREATED)
    assert (order_ids(records), total) == (["O-3", "O-1"], 2)
    records, total = await journal.list_orders(state=S.RECEIVED)
    assert (order_ids(records), total) == (["X-1", "X-2", "O-2", "O-0"], 4)
    records, total = await journal.list_orders(connection=OTHER, state=S.CREATED)
    assert (records, total) == ([], 0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("O-2", ["O-2"]),  # order id
        ("10004", ["O-4"]),  # marketplace order number
        ("SHOP-7", ["O-3", "O-1"]),  # store order number, substring
        ("shop-78", ["O-3"]),  # case-insensitive
        ("X-", ["X-1", "X-2"]),
        ("nothing", []),
    ],
)
async def test_list_orders_text_search(journal: SqliteJournal, text: str, expected: list[str]) -> None:
    await _catalog(journal)
    records, total = await journal.list_orders(text=text)
    assert order_ids(records) == expected
    assert total == len(expected)


@pytest.mark.anyio
async def test_list_orders_text_is_literal(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await add(journal, "O_1")
    assert order_ids((await journal.list_orders(text="O_1"))[0]) == ["O_1"]
    assert (await journal.list_orders(text="%"))[1] == 0


@pytest.mark.anyio
async def test_list_orders_paging(journal: SqliteJournal) -> None:
    await _catalog(journal)
    pages = []
    for offset in (0, 2, 4, 6, 8):
        records, total = await journal.list_orders(limit=2, offset=offset)
        assert total == 7
        pages.append(order_ids(records))
    assert pages == [["X-1", "X-2"], ["O-2", "O-0"], ["O-4", "O-3"], ["O-1"], []]
    records, total = await journal.list_orders(connection=CONN, text="O-", limit=3, offset=3)
    assert (order_ids(records), total) == (["O-3", "O-1"], 5)


@pytest.mark.anyio
async def test_count_by_state(journal: SqliteJournal) -> None:
    assert await journal.count_by_state() == {}
    await _catalog(journal)
    assert await journal.count_by_state() == {
        (CONN, S.RECEIVED): 2,
        (CONN, S.CREATED): 2,
        (CONN, S.NEEDS_ATTENTION): 1,
        (OTHER, S.RECEIVED): 2,
    }


# ---------------------------------------------------------------------------- pending_units
@pytest.mark.anyio
async def test_pending_units_sums_received_mapped_orders(journal: SqliteJournal) -> None:
    assert await journal.pending_units(CONN) == {}
    for order_id in ("A", "B", "C", "D", "E"):
        await add(journal, order_id)
    await add(journal, "X", connection=OTHER)
    await journal.set_mapped(CONN, "A", make_order("A", [("SKU-1", "", 2), ("SKU-2", "400", 1)]), T0)
    await journal.set_mapped(CONN, "B", make_order("B", [("SKU-1", "", 3), ("", "4006381333931", 4)]), T0)
    # C stays unmapped: nothing known about its lines yet.
    await journal.set_mapped(CONN, "D", make_order("D", [("SKU-1", "", 100)]), T0)
    await walk(journal, "D", S.CREATED)  # in the store already: its stock already reflects it
    await journal.set_mapped(CONN, "E", make_order("E", [("SKU-2", "", 50)]), T0)
    await walk(journal, "E", S.CANCELLED)
    await journal.set_mapped(OTHER, "X", make_order("X", [("SKU-1", "", 7)]), T0)

    assert await journal.pending_units(CONN) == {
        "sku:SKU-1": 5,
        "sku:SKU-2": 1,
        "ean:400": 1,
        "ean:4006381333931": 4,
    }
    assert await journal.pending_units(OTHER) == {"sku:SKU-1": 7}


# ---------------------------------------------------------------------------- shipments
@pytest.mark.anyio
async def test_upsert_new_shipment(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    record = await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0 + 5)
    assert record is not None
    assert (record.connection, record.shipment_id, record.order_id) == (CONN, "SH-1", "O-1")
    assert record.state is ShipmentState.PENDING
    assert record.shipment == shipment(tracking="T1")
    assert (record.missing, record.attempts, record.next_attempt_at, record.last_error) == ((), 0, 0, "")
    assert (record.first_seen, record.updated_at, record.held_since) == (T0 + 5, T0 + 5, None)
    assert (await journal.history(CONN, "O-1"))[-1] == Event(
        at=T0 + 5, kind="call", detail="store reports shipment SH-1", direction="in", outcome="new"
    )
    assert await journal.due_shipments(CONN, T0 + 5, 10) == [record]


@pytest.mark.anyio
async def test_upsert_unchanged_shipment_returns_none(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    first = await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(
        CONN, "SH-1", ShipmentState.HELD, T0 + 1, missing=["return_tracking_code"]
    )
    history = await journal.history(CONN, "O-1")
    # Same codes and lines; a new tracking URL is not a change of codes.
    assert await journal.upsert_shipment(CONN, shipment(tracking="T1", url="https://t/1"), T0 + 2) is None
    (record,) = await journal.shipments(connection=CONN)
    assert record.state is ShipmentState.HELD
    assert first is not None
    assert record.shipment == first.shipment
    assert await journal.history(CONN, "O-1") == history


@pytest.mark.anyio
async def test_has_order(journal: SqliteJournal) -> None:
    assert not await journal.has_order(CONN, "O-1")
    await add(journal, "O-1")
    assert await journal.has_order(CONN, "O-1")
    assert not await journal.has_order("other-connection", "O-1")


@pytest.mark.anyio
async def test_begin_shipment_report_counts_every_attempt_and_survives_changes(
    journal: SqliteJournal,
) -> None:
    await add(journal, "O-1")
    assert await journal.begin_shipment_report(CONN, "SH-1") == 0, "unknown shipment"
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    assert (await journal.shipments(connection=CONN))[0].reports == 0
    assert await journal.begin_shipment_report(CONN, "SH-1") == 1
    assert await journal.begin_shipment_report(CONN, "SH-1") == 2
    # Held (missing codes, raised before anything is sent) takes the attempt back ...
    await journal.set_shipment_state(
        CONN, "SH-1", ShipmentState.HELD, T0 + 1, missing=["return_tracking_code"]
    )
    assert (await journal.shipments(connection=CONN))[0].reports == 1
    # ... new codes do not: the marketplace may have seen the earlier report.
    changed = await journal.upsert_shipment(CONN, shipment(tracking="T2"), T0 + 2)
    assert changed is not None and changed.reports == 1
    assert await journal.begin_shipment_report(CONN, "SH-1") == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "changed",
    [
        {"tracking": "T2"},
        {"tracking": "T1", "returns": "R1"},
        {"tracking": "T1", "carrier": "UPS"},
        {"tracking": "T1", "lines": (("L1", 1), ("L2", 1))},
    ],
    ids=["tracking", "return", "carrier", "lines"],
)
async def test_upsert_changed_held_shipment_is_pending_again(
    journal: SqliteJournal, changed: dict[str, Any]
) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(
        CONN, "SH-1", ShipmentState.HELD, T0 + 1, missing=["return_tracking_code"], next_attempt_at=T0 + 1000
    )
    assert await journal.due_shipments(CONN, T0 + 2, 10) == []
    record = await journal.upsert_shipment(CONN, shipment(**changed), T0 + 2)
    assert record is not None
    assert record.state is ShipmentState.PENDING
    assert record.shipment == shipment(**changed)
    assert (record.next_attempt_at, record.first_seen, record.updated_at) == (0, T0, T0 + 2)
    assert await journal.due_shipments(CONN, T0 + 2, 10) == [record]
    last = (await journal.history(CONN, "O-1"))[-1]
    assert (last.detail, last.outcome) == ("store updated shipment SH-1", "changed")


@pytest.mark.anyio
async def test_upsert_changed_after_sent_is_only_noted(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.SENT, T0 + 1)
    assert await journal.upsert_shipment(CONN, shipment(tracking="T2"), T0 + 2) is None
    (record,) = await journal.shipments(connection=CONN)
    assert record.state is ShipmentState.SENT
    assert await journal.due_shipments(CONN, T0 + 2, 10) == []
    last = (await journal.history(CONN, "O-1"))[-1]
    assert last.at == T0 + 2
    assert last.kind == "note"
    assert "changed in the store after it was reported" in last.detail
    assert "SH-1" in last.detail


@pytest.mark.anyio
async def test_held_since_is_set_once_and_cleared_when_sent(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(), T0)
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.HELD, T0 + 1, missing=["tracking_code"])
    (record,) = await journal.shipments()
    assert (record.state, record.held_since, record.missing) == (
        ShipmentState.HELD,
        T0 + 1,
        ("tracking_code",),
    )
    await journal.set_shipment_state(
        CONN, "SH-1", ShipmentState.HELD, T0 + 50, missing=["tracking_code", "return_tracking_code"]
    )
    (record,) = await journal.shipments()
    assert record.held_since == T0 + 1  # kept
    assert record.missing == ("tracking_code", "return_tracking_code")
    assert record.updated_at == T0 + 50
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.SENT, T0 + 60)
    (record,) = await journal.shipments()
    assert (record.state, record.held_since, record.missing, record.attempts) == (
        ShipmentState.SENT,
        None,
        (),
        0,
    )


@pytest.mark.anyio
async def test_set_shipment_state_with_retry_counts_attempts(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    for n in (1, 2):
        await journal.set_shipment_state(
            CONN, "SH-1", ShipmentState.PENDING, T0 + n, error=f"503 #{n}", next_attempt_at=T0 + 100
        )
        (record,) = await journal.shipments()
        assert (record.attempts, record.last_error, record.next_attempt_at) == (n, f"503 #{n}", T0 + 100)
    assert await journal.due_shipments(CONN, T0 + 99, 10) == []
    assert len(await journal.due_shipments(CONN, T0 + 100, 10)) == 1


@pytest.mark.anyio
async def test_set_shipment_codes_updates_and_makes_due(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(
        CONN, "SH-1", ShipmentState.HELD, T0 + 1, missing=["return_tracking_code"], next_attempt_at=T0 + 1000
    )
    record = await journal.set_shipment_codes(
        CONN, "SH-1", T0 + 2, tracking_code=None, return_tracking_code="R-9", carrier=None
    )
    assert record.state is ShipmentState.PENDING
    assert (record.shipment.tracking_code, record.shipment.return_tracking_code, record.shipment.carrier) == (
        "T1",
        "R-9",
        "DHL",
    )
    assert (record.next_attempt_at, record.updated_at) == (0, T0 + 2)
    assert await journal.due_shipments(CONN, T0 + 2, 10) == [record]
    last = (await journal.history(CONN, "O-1"))[-1]
    assert last == Event(
        at=T0 + 2, kind="note", detail="codes entered by a person for shipment SH-1: return_tracking_code"
    )

    record = await journal.set_shipment_codes(
        CONN, "SH-1", T0 + 3, tracking_code="T2", return_tracking_code=None, carrier="UPS"
    )
    assert (record.shipment.tracking_code, record.shipment.return_tracking_code, record.shipment.carrier) == (
        "T2",
        "R-9",
        "UPS",
    )


@pytest.mark.anyio
async def test_set_shipment_codes_refuses_a_sent_shipment(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.SENT, T0 + 1)
    before = await journal.shipments()
    with pytest.raises(IllegalTransition, match="already reported"):
        await journal.set_shipment_codes(
            CONN, "SH-1", T0 + 2, tracking_code="T2", return_tracking_code=None, carrier=None
        )
    assert await journal.shipments() == before
    with pytest.raises(KeyError, match="SH-404"):
        await journal.set_shipment_codes(
            CONN, "SH-404", T0 + 2, tracking_code="T2", return_tracking_code=None, carrier=None
        )


@pytest.mark.anyio
async def test_shipments_filters(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await add(journal, "O-2")
    await add(journal, "O-1", connection=OTHER)
    await journal.upsert_shipment(CONN, shipment("SH-1", "O-1"), T0)
    await journal.upsert_shipment(CONN, shipment("SH-2", "O-2"), T0 + 1)
    await journal.upsert_shipment(CONN, shipment("SH-3", "O-1"), T0 + 2)
    await journal.upsert_shipment(OTHER, shipment("SH-9", "O-1"), T0 + 3)
    await journal.set_shipment_state(CONN, "SH-3", ShipmentState.HELD, T0 + 4, missing=["tracking_code"])

    def ids(records: Iterable[Any]) -> list[str]:
        return [r.shipment_id for r in records]

    assert ids(await journal.shipments()) == ["SH-1", "SH-2", "SH-3", "SH-9"]
    assert ids(await journal.shipments(connection=CONN)) == ["SH-1", "SH-2", "SH-3"]
    assert ids(await journal.shipments(connection=CONN, order_id="O-1")) == ["SH-1", "SH-3"]
    assert ids(await journal.shipments(state=ShipmentState.HELD)) == ["SH-3"]
    assert ids(await journal.due_shipments(CONN, T0 + 10, 10)) == ["SH-1", "SH-2"]
    assert ids(await journal.due_shipments(CONN, T0 + 10, 1)) == ["SH-1"]


@pytest.mark.anyio
async def test_held_shipments_by_connection_counts_and_finds_the_oldest(journal: SqliteJournal) -> None:
    assert await journal.held_shipments_by_connection() == {}
    await add(journal, "O-1")
    await add(journal, "O-1", connection=OTHER)
    for n in range(1, 5):
        await journal.upsert_shipment(CONN, shipment(f"SH-{n}", "O-1"), T0)
    await journal.upsert_shipment(OTHER, shipment("SH-9", "O-1"), T0)
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.HELD, T0 + 30, missing=["tracking_code"])
    await journal.set_shipment_state(CONN, "SH-2", ShipmentState.HELD, T0 + 10, missing=["tracking_code"])
    await journal.set_shipment_state(CONN, "SH-3", ShipmentState.HELD, T0 + 20, missing=["tracking_code"])
    await journal.set_shipment_state(CONN, "SH-4", ShipmentState.SENT, T0 + 5)  # not held: not counted
    assert await journal.held_shipments_by_connection() == {CONN: (3, T0 + 10)}
    await journal.set_shipment_state(OTHER, "SH-9", ShipmentState.HELD, T0 + 40, missing=["tracking_code"])
    # The oldest one gets its code (pending again); the next oldest is the oldest now.
    await journal.set_shipment_state(CONN, "SH-2", ShipmentState.PENDING, T0 + 50)
    assert await journal.held_shipments_by_connection() == {CONN: (2, T0 + 20), OTHER: (1, T0 + 40)}
    # Held again (the code entered was not enough): it waits since then.
    await journal.set_shipment_state(CONN, "SH-2", ShipmentState.HELD, T0 + 60, missing=["tracking_code"])
    assert await journal.held_shipments_by_connection() == {CONN: (3, T0 + 20), OTHER: (1, T0 + 40)}


# ---------------------------------------------------------------------------- durability
async def _fill(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.set_mapped(CONN, "O-1", make_order("O-1"), T0)
    await journal.transition(CONN, "O-1", S.CREATED, T0 + 1, "created", store_order_id="gid://1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0 + 2)
    await journal.set_cursor(CONN, "orders", "c1")


@pytest.mark.anyio
async def test_committed_data_survives_close_and_reopen(path: Path) -> None:
    first = SqliteJournal(path)
    await first.open()
    await _fill(first)
    order_before = await first.get_order(CONN, "O-1")
    history_before = await first.history(CONN, "O-1")
    shipments_before = await first.shipments()
    await first.close()

    second = SqliteJournal(path)
    await second.open()
    try:
        assert await second.get_order(CONN, "O-1") == order_before
        assert await second.history(CONN, "O-1") == history_before
        assert await second.shipments() == shipments_before
        assert await second.get_cursor(CONN, "orders") == "c1"
    finally:
        await second.close()


@pytest.mark.anyio
async def test_second_journal_on_the_same_file_sees_committed_data(path: Path) -> None:
    daemon = SqliteJournal(path)
    cli = SqliteJournal(path)
    await daemon.open()
    try:
        await cli.open()
        try:
            assert await cli.get_order(CONN, "O-1") is None  # cli connected before anything was written
            await _fill(daemon)
            record = await cli.get_order(CONN, "O-1")
            assert record is not None
            assert (record.state, record.store_order_id) == (S.CREATED, "gid://1")
            assert len(await cli.shipments()) == 1

            # And the other way round: the CLI quarantines, the daemon sees it.
            await cli.transition(CONN, "O-1", S.NEEDS_ATTENTION, T0 + 5, "by hand", reason="operator")
            seen = await daemon.get_order(CONN, "O-1")
            assert seen is not None
            assert (seen.state, seen.reason, seen.resume_state) == (S.NEEDS_ATTENTION, "operator", S.CREATED)
        finally:
            await cli.close()
    finally:
        await daemon.close()
    with raw_db(path) as db:
        assert [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")] == KNOWN


@pytest.mark.anyio
async def test_codes_entered_by_a_person_survive_a_store_report_without_them(journal: SqliteJournal) -> None:
    """The store keeps reporting the shipment it knows (shipping code only) while the return code was entered
    on the page: the entered code is kept and the shipment is not made due again."""
    await add(journal, "O-1")
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    await journal.set_shipment_state(CONN, "SH-1", ShipmentState.HELD, T0, missing=["return_tracking_code"])
    entered = await journal.set_shipment_codes(
        CONN, "SH-1", T0 + 10, tracking_code=None, return_tracking_code="R1", carrier=None
    )
    assert entered.shipment.return_tracking_code == "R1"
    assert await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0 + 20) is None
    (stored,) = await journal.shipments(connection=CONN, order_id="O-1")
    assert (stored.shipment.tracking_code, stored.shipment.return_tracking_code) == ("T1", "R1")
    # A real change from the store (a new shipping code) still counts, keeping the entered return code.
    changed = await journal.upsert_shipment(CONN, shipment(tracking="T2"), T0 + 30)
    assert changed is not None
    assert (changed.shipment.tracking_code, changed.shipment.return_tracking_code) == ("T2", "R1")
