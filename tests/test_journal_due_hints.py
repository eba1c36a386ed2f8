"""An idle connection's due queries are answered from memory until something can have changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_journal import CONN, T0, add, raw_db, shipment

from ordersyncd.journal import OrderState, SqliteJournal
from ordersyncd.journal.due_hints import MAX_AGE, VERSION_CHECK, DueHints

pytestmark = pytest.mark.anyio
OTHER = "other-conn"
STATES = (OrderState.RECEIVED, OrderState.CREATED)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def journal(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteJournal]:
    j = SqliteJournal(tmp_path / "journal.sqlite3")
    j.due_hints = DueHints(clock)
    await j.open()
    try:
        yield j
    finally:
        await j.close()


async def queries(journal: SqliteJournal, connection: str = CONN, now: float = T0) -> tuple[list[str], int]:
    """Due order ids at ``now`` and how many calls reached the journal thread for them."""
    before = journal.committer.calls
    found = [r.order_id for r in await journal.due_orders(connection, STATES, now, 10)]
    return found, journal.committer.calls - before


async def test_an_idle_connection_is_answered_from_memory(journal: SqliteJournal, clock: Clock) -> None:
    assert await queries(journal) == ([], 1)
    assert await queries(journal) == ([], 0)
    assert await journal.due_shipments(CONN, T0, 10) == []
    before = journal.committer.calls
    assert await journal.due_shipments(CONN, T0, 10) == []
    assert journal.committer.calls == before
    clock.now += VERSION_CHECK + 0.1  # the check for other processes' commits is too old: ask SQLite
    assert await queries(journal) == ([], 1)
    assert await queries(journal) == ([], 0)


async def test_a_write_of_the_connection_is_seen_at_once(journal: SqliteJournal) -> None:
    assert await queries(journal) == ([], 1)
    await add(journal, "O-1")
    assert await queries(journal) == (["O-1"], 1)
    await journal.transition(CONN, "O-1", OrderState.CREATED, T0, "test")
    assert await queries(journal) == (["O-1"], 1)
    await journal.transition(CONN, "O-1", OrderState.ACKNOWLEDGED, T0, "test")
    assert await queries(journal) == ([], 1)
    assert await queries(journal) == ([], 0)
    await journal.upsert_shipment(CONN, shipment(tracking="T1"), T0)
    assert [r.shipment_id for r in await journal.due_shipments(CONN, T0, 10)] == ["SH-1"]


async def test_another_connections_write_keeps_the_hint(journal: SqliteJournal) -> None:
    assert await queries(journal) == ([], 1)
    await add(journal, "O-9", connection=OTHER)
    assert await queries(journal) == ([], 0)
    assert await queries(journal, OTHER) == (["O-9"], 1)


async def test_a_retry_falls_due_at_its_time_without_any_write(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.schedule_retry(CONN, "O-1", T0 + 50, "HTTP 503", T0 + 1)
    assert await queries(journal, now=T0 + 2) == ([], 1)
    assert await queries(journal, now=T0 + 49) == ([], 0)
    assert await queries(journal, now=T0 + 50) == (["O-1"], 1)


async def test_another_process_commit_is_seen_within_the_version_check(
    journal: SqliteJournal, clock: Clock
) -> None:
    await add(journal, "O-1")
    await journal.schedule_retry(CONN, "O-1", T0 + 500, "HTTP 503", T0 + 1)
    assert await queries(journal) == ([], 1)
    with raw_db(journal.path) as other:  # e.g. `ordersyncd orders retry` in another process
        other.execute("UPDATE orders SET next_attempt_at = 0 WHERE order_id = 'O-1'")
    assert await queries(journal) == ([], 0), "within VERSION_CHECK the hint still answers"
    clock.now += VERSION_CHECK + 0.1
    # Any query that reaches SQLite checks the data version, here one of another connection; it notices the
    # other process's commit, and CONN's hint is no longer used.
    assert await queries(journal, OTHER) == ([], 1)
    assert await queries(journal) == (["O-1"], 1)


async def test_a_hint_is_used_for_max_age_at_most(journal: SqliteJournal, clock: Clock) -> None:
    assert await queries(journal) == ([], 1)
    for _ in range(
        int(MAX_AGE / VERSION_CHECK) + 2
    ):  # keep the version check fresh through another connection
        clock.now += VERSION_CHECK
        await queries(journal, OTHER)
    assert await queries(journal) == ([], 1)


def test_a_hint_read_before_a_change_is_not_kept() -> None:
    hints = DueHints(Clock())
    hints.observe_version(1)
    stamp = hints.stamp(CONN)
    hints.touch(CONN)  # a write of the connection committed between the query and storing its answer
    hints.store("k", CONN, stamp, float("inf"))
    assert not hints.nothing_due("k", CONN, T0)
    stamp = hints.stamp(CONN)
    hints.observe_version(2)  # another process committed
    hints.store("k", CONN, stamp, float("inf"))
    assert not hints.nothing_due("k", CONN, T0)
    hints.store("k", CONN, hints.stamp(CONN), float("inf"))
    assert hints.nothing_due("k", CONN, T0)


async def test_hints_do_not_survive_reopening_the_journal(journal: SqliteJournal) -> None:
    await add(journal, "O-1")
    await journal.schedule_retry(CONN, "O-1", T0 + 500, "HTTP 503", T0 + 1)
    assert await queries(journal) == ([], 1)
    await journal.close()
    with raw_db(journal.path) as other:  # changed while this process had it closed
        other.execute("UPDATE orders SET next_attempt_at = 0 WHERE order_id = 'O-1'")
    await journal.open()
    assert await queries(journal) == (["O-1"], 1)
