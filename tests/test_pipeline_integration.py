"""The real pipeline, driven by the real runtime, against the fake marketplace and store (over HTTP)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import structlog

from ordersyncd.journal import OrderState, ShipmentState
from ordersyncd.pipeline import CURSOR_IDLE_WRITE

from support import ONLY_STARTUP_STOCK, FakeBackend, running, until, write_config

pytestmark = pytest.mark.anyio


def acked_once(backend: FakeBackend, ids: list[str]) -> bool:
    state = backend.world.state()
    return all(len(state["acks"].get(i, [])) == 1 for i in ids)


async def test_orders_flow_exactly_once_and_malformed_ones_are_quarantined(
    fake_backend: FakeBackend, tmp_path: Path
):
    good = fake_backend.world.generate(25, seed=3, bad=4)
    valid, bad = good[:25], good[25:]
    config = write_config(tmp_path, fake_backend.base_url)
    async with running(config) as daemon:
        await until(lambda: acked_once(fake_backend, valid), what="every valid order acknowledged")
        assert daemon.journal is not None
        records, _ = await daemon.journal.list_orders(state=OrderState.NEEDS_ATTENTION)
    state = fake_backend.world.state()
    by_market_id: dict[str, list[dict[str, Any]]] = {}
    for order in state["store_orders"]:
        by_market_id.setdefault(order["marketplace_order_id"], []).append(order)
    assert sorted(by_market_id) == sorted(valid)
    assert all(len(orders) == 1 for orders in by_market_id.values())
    for order_id in valid:
        assert state["acks"][order_id] == [by_market_id[order_id][0]["number"]]
    reasons = {r.order_id: r.reason for r in records}
    assert sorted(reasons) == sorted(bad)
    # Each malformed order carries a reason a person can act on.
    assert "missing field 'address'" in reasons[bad[0]]
    assert "quantity" in reasons[bad[1]] and "integer" in reasons[bad[1]]
    assert "quantity" in reasons[bad[2]] and "greater than 0" in reasons[bad[2]]
    assert "unknown currency 'XXY'" in reasons[bad[3]]


async def test_transient_faults_are_retried_and_nothing_is_duplicated(
    fake_backend: FakeBackend, tmp_path: Path
):
    ids = fake_backend.world.generate(30, seed=5)
    fake_backend.faults.error_rate = 0.25
    fake_backend.faults.garbage_rate = 0.1
    config = write_config(tmp_path, fake_backend.base_url)
    async with running(config):
        await anyio.sleep(1.5)
        assert sum(fake_backend.faults.injected.values()) > 0
        fake_backend.faults.reset()
        await until(
            lambda: acked_once(fake_backend, ids), timeout=30, what="all orders acknowledged after faults"
        )
    created = [o["marketplace_order_id"] for o in fake_backend.world.state()["store_orders"]]
    assert sorted(created) == sorted(ids)


async def test_a_create_whose_answer_was_lost_is_found_not_duplicated(
    fake_backend: FakeBackend, tmp_path: Path
):
    """The store created the order but the answer never arrived (timeout): the retry finds it."""
    ids = fake_backend.world.generate(1, seed=9)
    # The first POST /store/orders reaches the store app (the order is created) but its answer is replaced by
    # a 503, exactly like a proxy timing out after the backend did the work.
    world = fake_backend.world
    original_next = world.next_store_id
    fake_backend.faults.only_paths = ("/marketplace/orders/",)  # no faults on polling
    config = write_config(tmp_path, fake_backend.base_url)

    created_before_answer: list[str] = []

    class LosingAnswer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if (
                scope["type"] == "http"
                and scope["method"] == "POST"
                and scope["path"] == "/store/orders"
                and not created_before_answer
            ):

                async def swallow(message: Any) -> None:
                    if message["type"] == "http.response.start":
                        created_before_answer.append("lost")

                await self.app(scope, receive, swallow)
                await send({"type": "http.response.start", "status": 504, "headers": []})
                await send({"type": "http.response.body", "body": b"gateway timeout"})
                return
            await self.app(scope, receive, send)

    fake_backend.served._server.config.app = LosingAnswer(fake_backend.served._server.config.app)
    fake_backend.served._server.config.loaded_app = LosingAnswer(
        fake_backend.served._server.config.loaded_app
    )
    async with running(config) as daemon:
        await until(lambda: acked_once(fake_backend, ids), timeout=30, what="the order acknowledged")
        assert daemon.journal is not None
        history = await daemon.journal.history("fake", ids[0])
    assert created_before_answer == ["lost"]
    state = world.state()
    assert len(state["store_orders"]) == 1
    assert world.next_store_id == original_next + 1
    details = [e.detail for e in history]
    assert any("found (created by an earlier attempt)" in d for d in details), details
    assert any("-> 504" in d for d in details), details


async def test_shipments_with_both_codes_are_reported_and_missing_codes_hold(
    fake_backend: FakeBackend, tmp_path: Path
):
    ids = fake_backend.world.generate(2, seed=11)
    config = write_config(tmp_path, fake_backend.base_url)
    async with running(config) as daemon:
        await until(lambda: acked_once(fake_backend, ids), what="orders acknowledged")
        client = fake_backend.served
        httpx.post(
            f"{client.base_url}/_control/ship",
            json={"order_id": ids[0], "tracking_numbers": ["TRACK1", "RETURN1"]},
        )
        httpx.post(
            f"{client.base_url}/_control/ship", json={"order_id": ids[1], "tracking_numbers": ["TRACK2"]}
        )
        await until(
            lambda: fake_backend.world.state()["shipments"].get(ids[0]), what="first shipment reported"
        )
        assert daemon.journal is not None
        journal = daemon.journal

        async def held() -> bool:
            record = await journal.get_order("fake", ids[1])
            return record is not None and record.state is OrderState.HELD

        with anyio.fail_after(20):
            while not await held():
                await anyio.sleep(0.05)
        shipments = await journal.shipments(connection="fake", order_id=ids[1])
        assert [s.state for s in shipments] == [ShipmentState.HELD]
        assert shipments[0].reports == 0, "held: the attempt sent nothing and is taken back"
        assert shipments[0].missing == ("return_tracking_code",)
        assert ids[1] not in fake_backend.world.state()["shipments"], "nothing partial may be sent"
        # The store adds the second tracking number later: the held shipment goes out with both codes.
        httpx.post(
            f"{client.base_url}/_control/ship",
            json={"order_id": ids[1], "tracking_numbers": ["TRACK2", "RETURN2"]},
        )
        await until(
            lambda: fake_backend.world.state()["shipments"].get(ids[1]), what="held shipment released"
        )
        # The marketplace has the codes; the journal records the transition right after the call returns.
        with anyio.fail_after(10):
            while True:
                first = await journal.get_order("fake", ids[0])
                second = await journal.get_order("fake", ids[1])
                if first and second and first.state is second.state is OrderState.SHIPPED:
                    break
                await anyio.sleep(0.05)
    sent = fake_backend.world.state()["shipments"]
    assert (
        sent[ids[0]][0]["tracking_code"] == "TRACK1" and sent[ids[0]][0]["return_tracking_code"] == "RETURN1"
    )
    assert (
        sent[ids[1]][0]["tracking_code"] == "TRACK2" and sent[ids[1]][0]["return_tracking_code"] == "RETURN2"
    )
    assert first is not None and first.state is OrderState.SHIPPED
    assert second is not None and second.state is OrderState.SHIPPED


async def test_one_failing_connection_does_not_stall_another(fake_backend: FakeBackend, tmp_path: Path):
    ids = fake_backend.world.generate(5, seed=13)
    config = write_config(
        tmp_path,
        fake_backend.base_url,
        extra="""
[marketplaces.broken]
plugin = "fake-marketplace"
base_url = "http://127.0.0.1:9"

[connections.broken]
marketplace = "broken"
store = "fakes"
""",
    )
    started = time.monotonic()
    async with running(config) as daemon:
        await until(lambda: acked_once(fake_backend, ids), what="the healthy connection's orders")
        elapsed = time.monotonic() - started
        await until(lambda: daemon.workers["broken"].up is False, what="the broken connection reported down")
        assert daemon.workers["fake"].up is True
    assert elapsed < 15


async def test_stock_is_pushed_net_of_orders_not_yet_in_the_store(fake_backend: FakeBackend, tmp_path: Path):
    """Units of orders fetched but not yet created in the store are not offered again; only the products whose
    published quantity changed are sent."""
    # The store refuses every create for now: fetched orders stay received (mapped) in the journal.
    fake_backend.faults.only_paths = ("/store/orders",)
    fake_backend.faults.error_rate = 1.0
    config = write_config(tmp_path, fake_backend.base_url, intervals=ONLY_STARTUP_STOCK)
    async with running(config) as daemon:
        assert daemon.journal is not None
        journal = daemon.journal
        stock_job = daemon.workers["fake"].jobs["sync_stock"]
        await until(lambda: stock_job.runs >= 1 and stock_job.running_since is None, what="first stock run")
        assert len(fake_backend.world.stock_calls[0]) == 20, "the first run sends every product"
        ids = fake_backend.world.generate(3, seed=17)
        waiting: dict[str, int] = {}
        for order_id in ids:
            for line in fake_backend.world.market_orders[order_id]["lines"]:
                waiting[line["sku"]] = waiting.get(line["sku"], 0) + line["quantity"]

        async def all_mapped() -> bool:
            records, _ = await journal.list_orders(connection="fake")
            return len(records) == 3 and all(r.order is not None for r in records)

        with anyio.fail_after(20):
            while not await all_mapped():
                await anyio.sleep(0.05)
        calls_before = len(fake_backend.world.stock_calls)
        daemon.workers["fake"].trigger(("sync_stock",))
        await until(lambda: len(fake_backend.world.stock_calls) > calls_before, what="second stock push")
        pushed = dict(fake_backend.world.stock_calls[-1])
        assert pushed == {sku: 100 - units for sku, units in waiting.items()}
        assert fake_backend.world.state()["store_orders"] == []


async def test_cursors_are_read_from_the_journal_once_then_remembered(
    fake_backend: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon's own jobs run once at start, then not for an hour: only the test's polls read the cursors.
    hourly = "\n".join(
        f'{job} = "1h"'
        for job in ("poll_orders", "advance_orders", "poll_shipments", "sync_stock", "reconcile")
    )
    config = write_config(tmp_path, fake_backend.base_url, intervals=hourly)
    async with running(config) as daemon:
        assert daemon.journal is not None
        journal = daemon.journal
        worker = daemon.workers["fake"]
        pipeline = worker.pipeline
        await until(
            lambda: all(j.runs >= 1 and j.running_since is None for j in worker.jobs.values()),
            what="every job's first run",
        )
        reads: list[str] = []
        original = journal.get_cursor

        async def counting(connection: str, name: str) -> str | None:
            reads.append(name)
            return await original(connection, name)

        monkeypatch.setattr(journal, "get_cursor", counting)
        pipeline._cursors.clear()  # as after a start
        for _ in range(3):
            await pipeline.poll_orders()
        assert reads == ["orders"], "one journal read, then the remembered value"
        # Polls that found nothing wrote the cursor once (the first); the remembered one has moved on since.
        written = await original("fake", "orders")
        assert written is not None and pipeline._cursors["orders"] is not None
        assert written < pipeline._cursors["orders"]
        # A poll that finds an order writes its cursor at once.
        fake_backend.world.generate(1, seed=11)
        assert await pipeline.poll_orders() == 1
        assert await original("fake", "orders") == pipeline._cursors["orders"]
        await pipeline.poll_orders()
        assert await original("fake", "orders") < pipeline._cursors["orders"]
        # An idle one after CURSOR_IDLE_WRITE seconds, so a restart re-reads a bounded window.
        monkeypatch.setattr(pipeline, "clock", lambda: time.time() + CURSOR_IDLE_WRITE + 1)
        await pipeline.poll_orders()
        assert await original("fake", "orders") == pipeline._cursors["orders"]


async def test_a_poll_that_finds_nothing_logs_at_debug_and_one_that_finds_orders_at_info(
    fake_backend: FakeBackend, tmp_path: Path
) -> None:
    # At 5,000 connections polling every minute, an info line per idle poll is 7 million lines a day.
    hourly = "\n".join(
        f'{job} = "1h"'
        for job in ("poll_orders", "advance_orders", "poll_shipments", "sync_stock", "reconcile")
    )
    config = write_config(tmp_path, fake_backend.base_url, intervals=hourly)
    config.write_text(config.read_text().replace('level = "info"', 'level = "debug"', 1))
    async with running(config) as daemon:
        worker = daemon.workers["fake"]
        await until(
            lambda: all(j.runs >= 1 and j.running_since is None for j in worker.jobs.values()),
            what="every job's first run",
        )
        with structlog.testing.capture_logs() as logs:
            await worker.pipeline.poll_orders()
            fake_backend.world.generate(2, seed=12)
            await worker.pipeline.poll_orders()
    polled = [(e["log_level"], e["fetched"], e["new"]) for e in logs if e["event"] == "orders polled"]
    assert polled == [("debug", 0, 0), ("info", 2, 2)]
