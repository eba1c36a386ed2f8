"""When each order was first sent to WooCommerce: a small SQLite file in the plugin's state directory.

WooCommerce cannot filter orders by meta, so ``find_order`` scans the orders created since the first
attempt to create this one. The time is written (and synced) *before* the order is posted, so after a crash
the scan can start there.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread

__all__ = ["AttemptLog"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS attempts (order_key TEXT PRIMARY KEY, first_at TEXT NOT NULL)"


class AttemptLog:
    """``order key → first create attempt (UTC)``, kept for ``keep`` (older entries are pruned)."""

    def __init__(self, path: Path, keep: timedelta = timedelta(days=90)) -> None:
        self.path = path
        self.keep = keep

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(_SCHEMA)
        return connection

    def _record(self, key: str, at: datetime) -> datetime:
        connection = self._connect()
        try:
            with connection:
                connection.execute(
                    "INSERT OR IGNORE INTO attempts (order_key, first_at) VALUES (?, ?)",
                    (key, at.astimezone(UTC).isoformat()),
                )
                connection.execute(
                    "DELETE FROM attempts WHERE first_at < ?", ((at - self.keep).astimezone(UTC).isoformat(),)
                )
            row = connection.execute("SELECT first_at FROM attempts WHERE order_key = ?", (key,)).fetchone()
        finally:
            connection.close()
        return datetime.fromisoformat(row[0])

    def _first(self, key: str) -> datetime | None:
        if not self.path.exists():
            return None
        connection = self._connect()
        try:
            row = connection.execute("SELECT first_at FROM attempts WHERE order_key = ?", (key,)).fetchone()
        finally:
            connection.close()
        return None if row is None else datetime.fromisoformat(row[0])

    async def record(self, key: str, at: datetime) -> datetime:
        """Remember ``at`` as the first attempt for ``key`` unless one is known; return the first one."""
        return await anyio.to_thread.run_sync(self._record, key, at)

    async def first(self, key: str) -> datetime | None:
        """The first recorded attempt for ``key``, ``None`` when there is none."""
        return await anyio.to_thread.run_sync(self._first, key)
