"""`ordersyncd shipments missing` and `ordersyncd shipments set-codes` against the journal."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from alerts_support import make_order, seed_order

from ordersyncd.journal import ShipmentState, SqliteJournal

from support import run_cli, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, "http://127.0.0.1:9")

    async def seed() -> None:
        journal = SqliteJournal(tmp_path / "state" / "journal.sqlite3")
        await journal.open()
        try:
            await seed_order(journal, make_order(1))
            await seed_order(journal, make_order(2), missing=("tracking_code", "return_tracking_code"))
        finally:
            await journal.close()

    anyio.run(seed)
    return path


def shipments(config: Path) -> dict[str, tuple[ShipmentState, str, str]]:
    async def read() -> dict[str, tuple[ShipmentState, str, str]]:
        journal = SqliteJournal(config.parent / "state" / "journal.sqlite3")
        await journal.open()
        try:
            return {
                s.order_id: (s.state, s.shipment.tracking_code, s.shipment.return_tracking_code)
                for s in await journal.shipments()
            }
        finally:
            await journal.close()

    return anyio.run(read)


def test_missing_lists_held_shipments(config: Path):
    result = run_cli(config, "shipments", "missing")
    assert result.returncode == 0, result.stderr
    assert "2 shipment(s) waiting for codes" in result.stdout
    assert "tracking_code,return_tracking_code" in result.stdout
    rows = json.loads(run_cli(config, "shipments", "missing", "--json", "-c", "fake").stdout)
    assert [(r["order_id"], r["number"], r["missing"]) for r in rows] == [
        ("MO-00001", "10001", ["return_tracking_code"]),
        ("MO-00002", "10002", ["tracking_code", "return_tracking_code"]),
    ]
    assert json.loads(run_cli(config, "shipments", "missing", "--json", "-c", "other").stdout) == []


def test_set_codes_checks_the_entry_then_makes_the_shipment_due(config: Path):
    bad = run_cli(config, "shipments", "set-codes", "MO-00001", "--return-tracking", "x")
    assert bad.returncode == 2 and "must be 3 to 64 characters" in bad.stderr
    same = run_cli(config, "shipments", "set-codes", "MO-00001", "--return-tracking", "TRACK0001")
    assert same.returncode == 2 and "must differ from the shipping tracking code" in same.stderr
    unknown = run_cli(config, "shipments", "set-codes", "MO-09999", "--return-tracking", "RET1")
    assert unknown.returncode == 1 and "no order 'MO-09999'" in unknown.stderr
    assert shipments(config)["MO-00001"][0] is ShipmentState.HELD

    ok = run_cli(
        config, "shipments", "set-codes", "MO-00001", "--return-tracking", "RET-0001", "--carrier", "UPS"
    )
    assert ok.returncode == 0, ok.stderr
    assert "codes saved for shipment FMO-00001" in ok.stdout and "no running daemon reached" in ok.stdout
    assert shipments(config)["MO-00001"] == (ShipmentState.PENDING, "TRACK0001", "RET-0001")
    again = run_cli(config, "shipments", "set-codes", "MO-00001", "--return-tracking", "RET-0001")
    assert again.returncode == 1 and "no shipment waiting for codes" in again.stderr

    partial = run_cli(config, "shipments", "set-codes", "MO-00002", "--tracking", "TRK-2")
    assert partial.returncode == 0 and "still missing: return tracking code" in partial.stdout
