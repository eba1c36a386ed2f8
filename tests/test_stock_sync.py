"""Stock from the store to the marketplaces, through the real daemon against the fake plugins."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from ordersyncd.testing import serve_asgi
from ordersyncd_fakes.server import FakeWorld, create_app

from support import ONLY_STARTUP_STOCK, FakeBackend, run_cli, running, until, write_config

pytestmark = pytest.mark.anyio


async def stock_runs(daemon, connection: str, at_least: int) -> None:
    job = daemon.workers[connection].jobs["sync_stock"]
    await until(lambda: job.runs >= at_least and job.running_since is None, what=f"{at_least} stock runs")


async def test_a_change_reaches_the_marketplace_once_and_an_unchanged_catalog_sends_nothing(
    fake_backend: FakeBackend, tmp_path: Path
):
    world = fake_backend.world
    config = write_config(tmp_path, fake_backend.base_url, intervals=ONLY_STARTUP_STOCK)
    async with running(config) as daemon:
        await stock_runs(daemon, "fake", 1)
        assert len(world.stock_calls) == 1 and len(world.stock_calls[0]) == 20
        daemon.workers["fake"].trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 2)
        assert len(world.stock_calls) == 1, "an unchanged catalog sends nothing"
        with world.lock:
            world.products["SKU-007"] = 42
        daemon.workers["fake"].trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 3)
        assert world.stock_calls[1:] == [[("SKU-007", 42)]]
        daemon.workers["fake"].trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 4)
        assert len(world.stock_calls) == 2, "the change is sent once"
        assert daemon.workers["fake"].request_stock_push(full=True)
        await stock_runs(daemon, "fake", 5)
        assert len(world.stock_calls[2]) == 20, "a full push sends every product"


async def test_rejected_failed_and_pending_items_are_recorded_and_retried_as_they_should(
    fake_backend: FakeBackend, tmp_path: Path
):
    world = fake_backend.world
    world.stock_outcomes = {"SKU-003": "rejected", "SKU-004": "pending", "SKU-005": "failed"}
    config = write_config(tmp_path, fake_backend.base_url, intervals=ONLY_STARTUP_STOCK)
    # A fixed 1-2 s backoff for the failed item (jitter keeps it between half and all of it).
    config.write_text(config.read_text().replace('backoff_initial = "1s"', 'backoff_initial = "2s"'))
    async with running(config) as daemon:
        await stock_runs(daemon, "fake", 1)
        assert daemon.journal is not None
        problems = {p.sku: p for p in await daemon.journal.stock_problems("fakem")}
        assert {sku: p.status for sku, p in problems.items()} == {
            "SKU-003": "rejected",
            "SKU-004": "pending",
            "SKU-005": "failed",
        }
        assert problems["SKU-003"].reason == "rejected by the fake"
        assert problems["SKU-005"].attempts == 1
        status = run_cli(config, "stock", "status", "fake", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["summary"] == {"accepted": 17, "failed": 1, "pending": 1, "rejected": 1}
        assert [p["sku"] for p in report["problems"]] == ["SKU-005", "SKU-004", "SKU-003"]
        # Right away: the pending item is re-sent; the failed one waits for its backoff; the rejected one is not
        # re-sent while its quantity is unchanged.
        daemon.workers["fake"].trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 2)
        assert world.stock_calls[-1] == [("SKU-004", 100)]
        world.stock_outcomes = {"SKU-003": "rejected"}
        await anyio.sleep(2.1)
        daemon.workers["fake"].trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 3)
        assert sorted(world.stock_calls[-1]) == [("SKU-004", 100), ("SKU-005", 100)]
        remaining = await daemon.journal.stock_problems("fakem")
        assert [(p.sku, p.status) for p in remaining] == [("SKU-003", "rejected")]
    human = run_cli(config, "stock", "status", "fake")
    assert "SKU-003" in human.stdout and "rejected by the fake" in human.stdout


async def test_an_import_pushes_the_affected_products_to_the_other_connections_at_once(
    fake_backend: FakeBackend, tmp_path: Path
):
    other_world = FakeWorld()
    with serve_asgi(create_app(other_world)) as other:
        config = write_config(
            tmp_path,
            fake_backend.base_url,
            intervals=ONLY_STARTUP_STOCK,
            extra=f"""
[marketplaces.second-market]
plugin = "fake-marketplace"
base_url = "{other.base_url}"

[connections.second]
marketplace = "second-market"
store = "fakes"
[connections.second.intervals]
poll_orders = "1h"
advance_orders = "1h"
poll_shipments = "1h"
sync_stock = "1h"
reconcile = "1h"
""",
        )
        async with running(config) as daemon:
            await stock_runs(daemon, "second", 1)
            await stock_runs(daemon, "fake", 1)
            assert dict(other_world.stock_calls[0])["SKU-001"] == 100
            (order_id,) = fake_backend.world.generate(1, seed=41)
            line = fake_backend.world.market_orders[order_id]["lines"][0]
            sold = {}
            for item in fake_backend.world.market_orders[order_id]["lines"]:
                sold[item["sku"]] = sold.get(item["sku"], 0) + item["quantity"]
            await until(
                lambda: len(other_world.stock_calls) >= 2,
                timeout=10,
                what="the other connection's immediate push",
            )
            assert daemon.workers["second"].jobs["sync_stock"].runs == 1, "not the hourly job: the guard"
            pushed = dict(other_world.stock_calls[1])
            assert pushed == {sku: 100 - units for sku, units in sold.items()}
            assert line["sku"] in pushed


async def test_a_stock_only_connection_imports_no_orders(fake_backend: FakeBackend, tmp_path: Path):
    fake_backend.world.generate(3, seed=43)
    config = write_config(tmp_path, fake_backend.base_url, connection_extra='level = "stock_only"')
    async with running(config) as daemon:
        assert set(daemon.workers["fake"].jobs) == {"sync_stock"}
        await stock_runs(daemon, "fake", 1)
        assert daemon.journal is not None
        _, total = await daemon.journal.list_orders()
    assert total == 0
    assert fake_backend.world.state()["store_orders"] == [] and fake_backend.world.acks == {}
    assert len(fake_backend.world.stock_calls[0]) == 20


@pytest.mark.parametrize(("interval", "kept"), [("1h", False), ("5s", True)])
async def test_stock_state_stays_in_memory_only_for_frequent_runs(
    fake_backend: FakeBackend, tmp_path: Path, interval: str, kept: bool
):
    intervals = ONLY_STARTUP_STOCK.replace('sync_stock = "1h"', f'sync_stock = "{interval}"')
    config = write_config(tmp_path, fake_backend.base_url, intervals=intervals)
    async with running(config) as daemon:
        await stock_runs(daemon, "fake", 1)
        worker = daemon.workers["fake"]
        cache = worker.stock.cache
        assert (worker.stock.account in cache._records) is kept
        assert (worker.stock.store in cache._store) is kept
        # Either way a second run knows what was pushed: an unchanged catalog sends nothing.
        calls = len(fake_backend.world.stock_calls)
        worker.trigger(("sync_stock",))
        await stock_runs(daemon, "fake", 2)
        assert len(fake_backend.world.stock_calls) == calls
