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
    (
        2,
        "alerts: missing-code e-mails, one per order and condition",
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            connection TEXT NOT NULL,
            order_id TEXT NOT NULL,
            condition TEXT NOT NULL,
            state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            occurrence INTEGER NOT NULL DEFAULT 1,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_attempt_at REAL,
            sent_at REAL,
            reminders_sent INTEGER NOT NULL DEFAULT 0,
            reminder_due_at REAL,
            last_error TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            resolved_at REAL,
            UNIQUE (connection, order_id, condition)
        );
        CREATE INDEX alerts_due ON alerts (state, next_attempt_at);
        CREATE INDEX alerts_reminder ON alerts (state, reminder_due_at);
        """,
    ),
    (
        3,
        "stock: last pushed value per marketplace account and product, last known store quantities",
        """
        CREATE TABLE stock_pushes (
            account TEXT NOT NULL,
            product TEXT NOT NULL,
            sku TEXT NOT NULL DEFAULT '',
            ean TEXT NOT NULL DEFAULT '',
            quantity INTEGER NOT NULL,
            accepted_quantity INTEGER,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            connection TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (account, product)
        );
        CREATE INDEX stock_pushes_status ON stock_pushes (account, status);
        CREATE TABLE store_stock (
            store TEXT NOT NULL,
            product TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (store, product)
        );
        """,
    ),
    (
        4,
        "shipments: how many times a report of the shipment was begun (the marketplace may have seen it)",
        """
        ALTER TABLE shipments ADD COLUMN reports INTEGER NOT NULL DEFAULT 0;
        """,
    ),
)
