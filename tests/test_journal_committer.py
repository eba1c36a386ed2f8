"""Group commit: calls that queue up share a transaction, each keeps its own outcome, none is lost."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from ordersyncd.journal.committer import GroupCommitter

pytestmark = pytest.mark.anyio


async def open_committer(path: Path) -> GroupCommitter:
    committer = GroupCommitter()

    def connect(_: object) -> None:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)")
        committer.db = db

    await committer.run(connect, bare=True)
    return committer


async def close(committer: GroupCommitter) -> None:
    def shut(_: object) -> None:
        assert committer.db is not None
        committer.db.close()
        committer.db = None

    await committer.run(shut, bare=True)


def rows(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT k, v FROM t").fetchall())
    finally:
        db.close()


async def test_concurrent_calls_share_transactions_and_each_gets_its_result(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    committer = await open_committer(path)
    results: dict[int, int] = {}

    async def write(i: int) -> None:
        def q(db: sqlite3.Connection) -> int:
            db.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", i))
            return i * 10

        results[i] = await committer.run(q)

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(write, i)
    assert results == {i: i * 10 for i in range(200)}
    assert committer.calls == 200
    assert committer.transactions < 200, "calls waiting together must share a commit"
    # Durable and visible to another connection once the calls returned.
    assert rows(path) == {f"k{i}": i for i in range(200)}
    await close(committer)


async def test_a_failing_call_is_rolled_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    committer = await open_committer(path)
    gate = threading.Event()

    def blocker(db: sqlite3.Connection) -> None:
        gate.wait(5)  # holds the journal thread so the next three calls queue into one batch
        db.execute("INSERT INTO t VALUES ('first', 1)")

    def good(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO t VALUES ('good', 2)")
        return "ok"

    def bad(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t VALUES ('bad', 3)")
        raise KeyError("no such order")

    def after(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COUNT(*) FROM t").fetchone()[0])

    outcomes: dict[str, object] = {}

    async def call(name: str, fn: object) -> None:
        try:
            outcomes[name] = await committer.run(fn)  # type: ignore[arg-type]
        except KeyError as error:
            outcomes[name] = error

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "blocker", blocker)
        await anyio.sleep(0.05)
        for name, fn in (("good", good), ("bad", bad), ("after", after)):
            tg.start_soon(call, name, fn)
        await anyio.sleep(0.05)
        before = committer.transactions
        gate.set()
    assert outcomes["good"] == "ok"
    assert isinstance(outcomes["bad"], KeyError)
    assert outcomes["after"] == 2, "the failed call's insert is not visible to the next call"
    assert committer.transactions - before == 2, "the three queued calls shared one transaction"
    assert rows(path) == {"first": 1, "good": 2}
    await close(committer)


async def test_a_cancelled_caller_still_waits_for_its_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    committer = await open_committer(path)
    gate = threading.Event()

    def slow(db: sqlite3.Connection) -> None:
        gate.wait(5)
        db.execute("INSERT INTO t VALUES ('slow', 1)")

    timer = threading.Timer(0.2, gate.set)
    timer.start()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await committer.run(slow)
    assert scope.cancelled_caught or scope.cancel_called
    assert rows(path) == {"slow": 1}, "the work ran to its commit before the cancellation was delivered"
    await close(committer)


async def test_calls_on_a_closed_journal_fail_clearly(tmp_path: Path) -> None:
    committer = await open_committer(tmp_path / "j.sqlite3")
    await close(committer)
    with pytest.raises(RuntimeError, match="journal is not open"):
        await committer.run(lambda db: db.execute("SELECT 1"))
