"""End to end through the real daemon and pipeline: Zalando and idealo simulators → ordersyncd →
WooCommerce simulator (over a socket, OAuth 1.0a signed), tracking with a return code back to Zalando, and
exactly one WooCommerce order after a crash between "created in the store" and "recorded by the core"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from ordersyncd.journal import OrderState
from ordersyncd.runtime import Daemon
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.marketplace_idealo.simulator import DEFAULT_CLIENT_ID as IDEALO_CLIENT_ID
from ordersyncd_plugins.marketplace_idealo.simulator import DEFAULT_CLIENT_SECRET as IDEALO_SECRET
from ordersyncd_plugins.marketplace_idealo.simulator import create_app as idealo_app
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
)
from ordersyncd_plugins.marketplace_zalando.simulator import create_app as zalando_app
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator
from ordersyncd_plugins.store_woocommerce.simulator import create_app as woo_app

from .conftest import KEY, SECRET, meta

pytestmark = pytest.mark.anyio

INTERVALS = """
backoff_initial = "1s"
backoff_max = "2s"
[connections.{name}.intervals]
poll_orders = "1s"
advance_orders = "1s"
poll_shipments = "1s"
sync_stock = "1h"
"""


def woo_sim() -> WooCommerceSimulator:
    woo = woo_app(consumer_key=KEY, consumer_secret=SECRET)
    for sku, ean in (("SKU-1", "4006381333931"), ("SKU-2", "4006381333948"), ("IDL-101", "")):
        woo.state.add_product(sku, ean=ean, stock=20, price="49.95")
    return woo


def write_config(
    tmp_path: Path, marketplace_block: str, store_url: str, connection: str, account: str
) -> Path:
    (tmp_path / "woo.secret").write_text(SECRET)
    config = tmp_path / "ordersyncd.toml"
    config.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
[log]
format = "json"
[http]
port = 0

{marketplace_block}

[stores.shop]
plugin = "woocommerce"
store_url = "{store_url}"
consumer_key = "{KEY}"
consumer_secret_file = "{tmp_path / "woo.secret"}"
carrier_map = {{ "dhl" = "DHL" }}

[connections.{connection}]
marketplace = "{account}"
store = "shop"
{INTERVALS.format(name=connection)}
"""
    )
    return config


def zalando_block(tmp_path: Path, base_url: str) -> str:
    (tmp_path / "zalando.secret").write_text(DEFAULT_CLIENT_SECRET)
    return f"""
[marketplaces.zalando-de]
plugin = "zalando"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret_file = "{tmp_path / "zalando.secret"}"
mode = "production"
merchant_id = "{MERCHANT_A}"
base_url = "{base_url}"
shipping_gap_seconds = 0
"""


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[tuple[Daemon, anyio.CancelScope]]:
    """The daemon in-process; cancelling the yielded scope kills it mid-flight (a crash)."""
    daemon = Daemon(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        with anyio.fail_after(20):
            while not daemon.readiness()[0]:
                await anyio.sleep(0.05)
        try:
            yield daemon, tg.cancel_scope
        finally:
            daemon.request_stop()


async def until_state(
    daemon: Daemon, connection: str, order_id: str, state: OrderState, timeout: float = 30
) -> None:
    assert daemon.journal is not None
    with anyio.fail_after(timeout):
        while True:
            record = await daemon.journal.get_order(connection, order_id)
            if record is not None and record.state is state:
                return
            await anyio.sleep(0.1)


async def test_zalando_orders_into_woocommerce_and_tracking_with_return_code_back(tmp_path: Path):
    zalando = zalando_app(rate_limits="off")
    woo = woo_sim()
    with serve_asgi(zalando) as z, serve_asgi(woo) as w:
        config = write_config(
            tmp_path, zalando_block(tmp_path, z.base_url), w.base_url, "zalando-woo", "zalando-de"
        )
        complete = zalando.state.add_order(articles=[("SKU-1", "AR1", Decimal("49.95"), 2)])
        partial = zalando.state.add_order(articles=[("SKU-2", "AR2", Decimal("19.95"), 1)])
        unknown = zalando.state.add_order(articles=[("SKU-404", "AR4", Decimal("9.95"), 1)])
        async with running(config) as (daemon, _):
            for order in (complete, partial):
                await until_state(daemon, "zalando-woo", order.order_id, OrderState.ACKNOWLEDGED)
            await until_state(daemon, "zalando-woo", unknown.order_id, OrderState.NEEDS_ATTENTION)
            created = {meta(o)["marketplace_order_id"]: o for o in woo.state.list_orders({})}
            assert sorted(created) == sorted([complete.order_id, partial.order_id])
            woo_order = created[complete.order_id]
            assert woo_order["status"] == "processing" and woo_order["payment_method_title"] == "Zalando"
            assert sum(item["quantity"] for item in woo_order["line_items"]) == 2
            assert woo.state.product_by_sku("SKU-1").stock_quantity == 18
            assert zalando.state.orders[complete.order_id].merchant_order_id == woo_order["number"]
            assert set(woo.keys.methods) == {"oauth1"}

            woo.state.ship(woo_order["id"], [("dhl", "00340434161234567890"), ("dhl", "RET-1")])
            woo.state.ship(created[partial.order_id]["id"], [("dhl", "00340434169999999999")])
            await until_state(daemon, "zalando-woo", complete.order_id, OrderState.SHIPPED)
            await until_state(daemon, "zalando-woo", partial.order_id, OrderState.HELD)
        shipped = zalando.state.orders[complete.order_id]
        assert (shipped.tracking_number, shipped.return_tracking_number) == ("00340434161234567890", "RET-1")
        assert {line.status for line in shipped.lines()} == {"shipped"}
        held = zalando.state.orders[partial.order_id]
        assert (held.tracking_number, held.return_tracking_number) == ("", "")
        assert {line.status for line in held.lines()} == {"reserved"}


async def test_crash_between_create_and_record_leaves_exactly_one_woocommerce_order(tmp_path: Path):
    zalando = zalando_app(rate_limits="off")
    woo = woo_sim()
    with serve_asgi(zalando) as z, serve_asgi(woo) as w:
        config = write_config(
            tmp_path, zalando_block(tmp_path, z.base_url), w.base_url, "zalando-woo", "zalando-de"
        )
        order = zalando.state.add_order(articles=[("SKU-1", "AR1", Decimal("49.95"), 1)])
        woo.faults.response_latency = 5.0  # the store creates the order, its answer is late...
        async with running(config) as (daemon, crash):
            with anyio.fail_after(20):
                while not woo.state.orders:
                    await anyio.sleep(0.02)
            assert daemon.journal is not None
            record = await daemon.journal.get_order("zalando-woo", order.order_id)
            assert record is not None and record.create_attempts == 1 and not record.store_order_id
            crash.cancel()  # ...and the daemon dies before it hears it
        woo.faults.response_latency = 0.0
        async with running(config) as (daemon, _):
            await until_state(daemon, "zalando-woo", order.order_id, OrderState.ACKNOWLEDGED)
            history = await daemon.journal.history("zalando-woo", order.order_id)
        assert len(woo.state.orders) == 1
        only = next(iter(woo.state.orders.values()))
        assert zalando.state.orders[order.order_id].merchant_order_id == only["number"]
        assert any("found (created by an earlier attempt)" in (e.detail or "") for e in history)
        assert not woo.recorder.calls("POST", "/wp-json/wc/v3/orders")[1:]


async def test_idealo_orders_into_woocommerce_acknowledged_and_shipped(tmp_path: Path):
    idealo = idealo_app(seed=3)
    woo = woo_sim()
    (tmp_path / "idealo.secret").write_text(IDEALO_SECRET)
    with serve_asgi(idealo) as i, serve_asgi(woo) as w:
        block = f"""
[marketplaces.idealo]
plugin = "idealo"
client_id = "{IDEALO_CLIENT_ID}"
client_secret_file = "{tmp_path / "idealo.secret"}"
mode = "sandbox"
base_url = "{i.base_url}"
sweep_interval_seconds = 1

[marketplaces.idealo.tax.rates.DE]
standard = 19
"""
        config = write_config(tmp_path, block, w.base_url, "idealo-woo", "idealo")
        order = idealo.state.add_order(lines=[("IDL-101", "29.99", 2)])
        async with running(config) as (daemon, _):
            await until_state(daemon, "idealo-woo", order.order_id, OrderState.ACKNOWLEDGED)
            (woo_order,) = woo.state.list_orders({})
            assert meta(woo_order)["marketplace"] == "idealo"
            assert idealo.state.orders[order.order_id].merchant_order_number == woo_order["number"]
            woo.state.ship(woo_order["id"], [("dhl", "00340434161234567890")])
            await until_state(daemon, "idealo-woo", order.order_id, OrderState.SHIPPED)
        assert idealo.state.orders[order.order_id].tracking == [
            {"code": "00340434161234567890", "carrier": "DHL"}
        ]
