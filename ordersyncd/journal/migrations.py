"""Versioned schema migrations of the SQLite journal, applied in order at start (one transaction each)."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "orders, history, cursors, shipments",
        """
        CREATE TABLE orders (
            connection TEXT NOT NULL,
            order_id TEXT NOT NULL,
            state TEXT NOT NULL,
            number TEXT NOT NULL DEFAULT '',
            raw TEXT NOT NULL,
            raw_modified_at TEXT,
            raw_latest_hash TEXT,
            order_json TEXT,
            store_order_id TEXT NOT NULL DEFAULT '',
            store_order_number TEXT NOT NULL DEFAULT '',
            create_attempts INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            resume_state TEXT,
            received_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (connection, order_id)
        );
        CREATE INDEX orders_due ON orders (connection, state, next_attempt_at);
        CREATE INDEX orders_recent ON orders (received_at);
        CREATE TABLE order_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            connection TEXT NOT NULL,
            order_id TEXT NOT NULL,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            direction TEXT NOT NULL DEFAULT '',
            system TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL,
            outcome TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX order_events_order ON order_events (connection, order_id, id);
        CREATE TABLE cursors (
            connection TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (connection, name)
        );
        CREATE TABLE shipments (
            connection TEXT NOT NULL,
            shipment_id TEXT NOT NULL,
            order_id TEXT NOT NULL,
            state TEXT NOT NULL,
            payload TEXT NOT NULL,
            missing TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            first_seen REAL NOT NULL,
            updated_at REAL NOT NULL,
            held_since REAL,
            PRIMARY KEY (connection, shipment_id)
        );
        CREATE INDEX shipments_due ON shipments (connection, state, next_attempt_at);
        CREATE INDEX shipments_order ON shipments (connection, order_id);
        """,
    ),
)
