"""End to end through the real daemon and pipeline: Zalando simulator → ordersyncd → Shopify simulator."""

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
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
)
from ordersyncd_plugins.marketplace_zalando.simulator import create_app as zalando_app
from ordersyncd_plugins.store_shopify.simulator import create_app as shopify_app

pytestmark = pytest.mark.anyio

TOKEN = "shpat_e2e_token_0123456789"


@asynccontextmanager
async def world(
    tmp_path: Path, *, bucket: float = 1000, restore: float = 100
) -> AsyncIterator[dict[str, Any]]:
    zalando = zalando_app(rate_limits="off")
    shopify = shopify_app(access_tokens=(TOKEN,), bucket_size=bucket, restore_rate=restore)
    for sku, ean in (("SKU-1", "4006381333931"), ("SKU-2", "4006381333948")):
        shopify.shop.add_variant(sku, ean, price="49.95", inventory=20)
    (tmp_path / "zalando.secret").write_text(DEFAULT_CLIENT_SECRET)
    (tmp_path / "shopify.token").write_text(TOKEN)
    with serve_asgi(zalando) as z, serve_asgi(shopify) as s:
        config = tmp_path / "ordersyncd.toml"
        config.write_text(f"""
[daemon]
state_dir = "{tmp_path / "state"}"
[log]
format = "json"
[http]
port = 0

[marketplaces.zalando-de]
plugin = "zalando"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret_file = "{tmp_path / "zalando.secret"}"
mode = "production"
merchant_id = "{MERCHANT_A}"
base_url = "{z.base_url}"
shipping_gap_seconds = 0

[stores.shop]
plugin = "shopify"
shop_domain = "e2e.myshopify.com"
base_url = "{s.base_url}"
access_token_file = "{tmp_path / "shopify.token"}"

[connections.zalando-shop]
marketplace = "zalando-de"
store = "shop"
backoff_initial = "1s"
backoff_max = "2s"
[connections.zalando-shop.intervals]
poll_orders = "1s"
advance_orders = "1s"
poll_shipments = "1s"
sync_stock = "1h"
""")
        daemon = Daemon(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon.run)
            with anyio.fail_after(20):
                while not daemon.readiness()[0]:
                    await anyio.sleep(0.05)
            try:
                yield {"zalando": zalando, "shopify": shopify, "daemon": daemon}
            finally:
                daemon.request_stop()


async def state_of(daemon: Daemon, order_id: str) -> OrderState | None:
    assert daemon.journal is not None
    record = await daemon.journal.get_order("zalando-shop", order_id)
    return None if record is None else record.state


async def until_state(daemon: Daemon, order_id: str, state: OrderState, timeout: float = 30) -> None:
    with anyio.fail_after(timeout):
        while await state_of(daemon, order_id) is not state:
            await anyio.sleep(0.1)


async def test_zalando_order_becomes_one_shopify_order_and_both_codes_go_back(tmp_path: Path):
    async with world(tmp_path) as w:
        zalando, shopify, daemon = w["zalando"], w["shopify"], w["daemon"]
        complete = zalando.state.add_order(articles=[("SKU-1", "AR1", Decimal("49.95"), 2)])
        partial = zalando.state.add_order(articles=[("SKU-2", "AR2", Decimal("19.95"), 1)])
        unknown = zalando.state.add_order(articles=[("SKU-404", "AR4", Decimal("9.95"), 1)])
        for order in (complete, partial):
            await until_state(daemon, order.order_id, OrderState.ACKNOWLEDGED)
        await until_state(daemon, unknown.order_id, OrderState.NEEDS_ATTENTION)

        created = {o.source_identifier: o for o in shopify.orders()}
        assert sorted(created) == sorted(f"zalando-shop:{o.order_id}" for o in (complete, partial))
        shop_order = created[f"zalando-shop:{complete.order_id}"]
        assert shop_order.financial_status == "PAID" and shop_order.taxes_included
        assert shop_order.inventory_behaviour == "DECREMENT_IGNORING_POLICY"
        assert sum(item.quantity for item in shop_order.line_items) == 2
        # Exported at Zalando with the Shopify order number (alphanumeric).
        assert zalando.state.orders[complete.order_id].merchant_order_id == "".join(
            c for c in shop_order.name if c.isalnum()
        )
        record = await daemon.journal.get_order("zalando-shop", unknown.order_id)
        assert "unknown product" in record.reason.lower() and "SKU-404" in record.reason

        # The merchant fulfils: two tracking numbers → shipping + return code; one → held, nothing sent.
        shopify.fulfill(shop_order, tracking_numbers=["00340434161234567890", "RET-1"], company="DHL")
        shopify.fulfill(
            created[f"zalando-shop:{partial.order_id}"], tracking_numbers=["00340434169999999999"]
        )
        await until_state(daemon, complete.order_id, OrderState.SHIPPED)
        await until_state(daemon, partial.order_id, OrderState.HELD)
        shipped = zalando.state.orders[complete.order_id]
        assert (shipped.tracking_number, shipped.return_tracking_number) == ("00340434161234567890", "RET-1")
        assert {line.status for line in shipped.lines()} == {"shipped"}
        held = zalando.state.orders[partial.order_id]
        assert (held.tracking_number, held.return_tracking_number) == ("", "")
        assert {line.status for line in held.lines()} == {"reserved"}


async def test_a_burst_under_a_small_cost_bucket_never_surfaces_throttled(tmp_path: Path):
    async with world(tmp_path, bucket=120, restore=40) as w:
        zalando, shopify, daemon = w["zalando"], w["shopify"], w["daemon"]
        orders = [zalando.state.add_order(articles=[("SKU-1", "AR1", Decimal("9.95"), 1)]) for _ in range(12)]
        for order in orders:
            await until_state(daemon, order.order_id, OrderState.ACKNOWLEDGED, timeout=60)
        assert len(shopify.orders()) == 12
        history = [e for o in orders for e in await daemon.journal.history("zalando-shop", o.order_id)]
        assert not [e for e in history if e.kind == "error"], (
            "no step failed, THROTTLED never reached the core"
        )
