"""End to end through the real daemon and pipeline: idealo simulator → ordersyncd → fake store / Shopify
simulator. Orders are fetched and created exactly once and acknowledged with the store's number; a crash
between fetch and acknowledge loses nothing; shipping sends carrier and tracking, or holds the order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from ordersyncd.journal import OrderState
from ordersyncd.runtime import Daemon
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.marketplace_idealo.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SHOP_ID,
    IdealoSimulator,
)
from ordersyncd_plugins.marketplace_idealo.simulator import create_app as idealo_app
from ordersyncd_plugins.store_shopify.simulator import create_app as shopify_app

from support import FakeBackend

pytestmark = pytest.mark.anyio

TOKEN = "shpat_idealo_e2e_0123456789"
CONNECTION = "idealo-shop"


def config_text(tmp_path: Path, idealo_url: str, store_block: str) -> str:
    (tmp_path / "idealo.secret").write_text(DEFAULT_CLIENT_SECRET)
    return f"""
[daemon]
state_dir = "{tmp_path / "state"}"
[log]
format = "json"
[http]
port = 0

[marketplaces.idealo]
plugin = "idealo"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret_file = "{tmp_path / "idealo.secret"}"
mode = "sandbox"
base_url = "{idealo_url}"
sweep_interval_seconds = 1

[marketplaces.idealo.tax.rates.DE]
standard = 19

{store_block}

[connections.{CONNECTION}]
marketplace = "idealo"
store = "shop"
backoff_initial = "1s"
backoff_max = "2s"
[connections.{CONNECTION}.intervals]
poll_orders = "1s"
advance_orders = "1s"
poll_shipments = "1s"
sync_stock = "1h"
"""


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        with anyio.fail_after(20):
            while not daemon.readiness()[0]:
                await anyio.sleep(0.05)
        try:
            yield daemon
        finally:
            daemon.request_stop()


async def state_of(daemon: Daemon, order_id: str) -> OrderState | None:
    assert daemon.journal is not None
    record = await daemon.journal.get_order(CONNECTION, order_id)
    return None if record is None else record.state


async def until_state(daemon: Daemon, order_id: str, state: OrderState, timeout: float = 30) -> None:
    with anyio.fail_after(timeout):
        while await state_of(daemon, order_id) is not state:
            await anyio.sleep(0.1)


def acks(sim: IdealoSimulator, order_id: str) -> list[Any]:
    path = f"/api/v2/shops/{SHOP_ID}/orders/{order_id}/merchant-order-number"
    return [e.json()["merchantOrderNumber"] for e in sim.recorder.calls("POST", path) if e.status == 204]


async def test_into_shopify_once_acknowledged_shipped_or_held(tmp_path: Path):
    idealo = idealo_app(seed=3)
    shopify = shopify_app(access_tokens=(TOKEN,))
    for sku in ("IDL-101", "IDL-102"):
        shopify.shop.add_variant(sku, price="29.99", inventory=20)
    (tmp_path / "shopify.token").write_text(TOKEN)
    with serve_asgi(idealo) as i, serve_asgi(shopify) as s:
        store = f"""
[stores.shop]
plugin = "shopify"
shop_domain = "idealo-e2e.myshopify.com"
base_url = "{s.base_url}"
access_token_file = "{tmp_path / "shopify.token"}"
"""
        config = tmp_path / "ordersyncd.toml"
        config.write_text(config_text(tmp_path, i.base_url, store))
        tracked = idealo.state.add_order(lines=[("IDL-101", "29.99", 2)], phone="")
        untracked = idealo.state.add_order(lines=[("IDL-102", "89.95", 1)])
        unknown = idealo.state.add_order(lines=[("IDL-404", "9.95", 1)])
        no_street = idealo.state.add_order(
            lines=[("IDL-101", "29.99", 1)], drop=("billingAddress.addressLine1",)
        )
        async with running(config) as daemon:
            for order in (tracked, untracked):
                await until_state(daemon, order.order_id, OrderState.ACKNOWLEDGED)
            await until_state(daemon, unknown.order_id, OrderState.NEEDS_ATTENTION)
            await until_state(daemon, no_street.order_id, OrderState.NEEDS_ATTENTION)
            created = {o.source_identifier: o for o in shopify.orders()}
            assert sorted(created) == sorted(f"{CONNECTION}:{o.order_id}" for o in (tracked, untracked))
            shop_order = created[f"{CONNECTION}:{tracked.order_id}"]
            assert shop_order.taxes_included
            assert sum(item.quantity for item in shop_order.line_items) == 2
            assert idealo.state.orders[tracked.order_id].merchant_order_number == shop_order.name
            assert acks(idealo, tracked.order_id) == [shop_order.name]
            assert idealo.state.orders[unknown.order_id].merchant_order_number == ""
            journal = daemon.journal
            assert journal is not None
            assert "IDL-404" in (await journal.get_order(CONNECTION, unknown.order_id)).reason
            assert "addressLine1" in (await journal.get_order(CONNECTION, no_street.order_id)).reason

            shopify.fulfill(shop_order, tracking_numbers=["00340434161234567890"], company="DHL Express")
            shopify.fulfill(created[f"{CONNECTION}:{untracked.order_id}"], tracking_numbers=[])
            await until_state(daemon, tracked.order_id, OrderState.SHIPPED)
            await until_state(daemon, untracked.order_id, OrderState.HELD)
            shipped = idealo.state.orders[tracked.order_id]
            assert shipped.status == "COMPLETED"
            assert shipped.tracking == [{"code": "00340434161234567890", "carrier": "DHL"}]
            assert idealo.state.orders[untracked.order_id].tracking == []
            assert idealo.state.orders[untracked.order_id].status == "PROCESSING"


async def test_into_the_fake_store_a_crash_between_fetch_and_acknowledge_loses_nothing(
    tmp_path: Path, fake_backend: FakeBackend
):
    idealo = idealo_app(seed=5, new_orders="once")
    fake_backend.world.products.update({"IDL-101": 50, "IDL-103": 50})
    store = f"""
[stores.shop]
plugin = "fake-store"
base_url = "{fake_backend.base_url}"
"""
    with serve_asgi(idealo) as i:
        config = tmp_path / "ordersyncd.toml"
        config.write_text(config_text(tmp_path, i.base_url, store))
        lost_in_flight = idealo.state.add_order(lines=[("IDL-103", "12.50", 1)])
        idealo.state.take_new_orders()  # handed out once to a process that died before persisting it
        order = idealo.state.add_order(lines=[("IDL-101", "29.99", 1)])
        ack_path = f"/api/v2/shops/{SHOP_ID}/orders/{order.order_id}/merchant-order-number"
        idealo.faults.only_paths = (ack_path,)
        idealo.faults.error_rate = 1.0  # the store order is created, the acknowledgement never lands
        async with running(config) as daemon:
            await until_state(daemon, order.order_id, OrderState.CREATED)
            await until_state(daemon, lost_in_flight.order_id, OrderState.ACKNOWLEDGED)
        # "Crash": the daemon is gone with the order created but unacknowledged; idealo won't hand it out
        # through /new-orders again.
        assert idealo.state.orders[order.order_id].merchant_order_number == ""
        assert idealo.state.orders[order.order_id].delivered == 1
        idealo.faults.reset()
        async with running(config) as daemon:
            await until_state(daemon, order.order_id, OrderState.ACKNOWLEDGED)
        store_orders = fake_backend.world.state()["store_orders"]
        by_order: dict[str, list[dict[str, Any]]] = {}
        for item in store_orders:
            by_order.setdefault(item["marketplace_order_id"], []).append(item)
        assert sorted(by_order) == sorted([order.order_id, lost_in_flight.order_id])
        assert all(len(items) == 1 for items in by_order.values())
        for sim_order in (order, lost_in_flight):
            number = by_order[sim_order.order_id][0]["number"]
            assert idealo.state.orders[sim_order.order_id].merchant_order_number == number
            assert acks(idealo, sim_order.order_id) == [number]
        line = by_order[order.order_id][0]["lines"][0]
        assert (line["sku"], line["quantity"], Decimal(line["price"])) == ("IDL-101", 1, Decimal("29.99"))
