"""The journal: all durable state of the daemon, behind one interface (:class:`Journal`).

SQLite (WAL) is the default implementation; a PostgreSQL implementation can follow without touching the
pipeline. This package is the only place that speaks SQL.
"""

from .base import Journal, OrderRecord, ShipmentRecord, StockRecord
from .sqlite import SqliteJournal
from .states import ALLOWED_TRANSITIONS, OrderState, ShipmentState, check_transition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Journal",
    "OrderRecord",
    "OrderState",
    "ShipmentRecord",
    "ShipmentState",
    "SqliteJournal",
    "StockRecord",
    "check_transition",
    "open_journal",
]


def open_journal(state_dir: "Path", synchronous: str = "full") -> Journal:
    """The journal configured for ``state_dir`` (SQLite file ``journal.sqlite3`` inside it)."""
    return SqliteJournal(state_dir / "journal.sqlite3", synchronous=synchronous)


from pathlib import Path  # noqa: E402  (used in the annotation above)
