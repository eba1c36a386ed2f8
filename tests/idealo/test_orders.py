"""Fetching, mapping and acknowledging idealo orders against the simulator; the HTTP client's behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ordersyncd.plugin import (
    AuthenticationError,
    PermanentOrderError,
    RateLimited,
    RawOrder,
    StoreOrderRef,
    TransientError,
)
from ordersyncd_plugins.marketplace_idealo import IdealoMarketplace
from ordersyncd_plugins.marketplace_idealo.orders import raw_order
from ordersyncd_plugins.marketplace_idealo.simulator import SHOP_ID, IdealoSimulator

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio


def _now() -> datetime:
    return datetime.now(UTC)


def _raw(payload: dict[str, Any]) -> RawOrder:
    return raw_order(payload)


async def fetch_ids(plugin: IdealoMarketplace) -> list[str]:
    return [raw.order_id async for raw in plugin.fetch_orders(connection(), None, _now())]


async def test_new_orders_come_until_acknowledged_and_the_ack_carries_the_store_number(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    first, second = sim.state.generate_orders(2)
    fetched = await fetch_ids(plugin)
    assert sorted(set(fetched)) == sorted([first.order_id, second.order_id])
    raw_orders = {raw.order_id: raw async for raw in plugin.fetch_orders(connection(), None, _now())}
    order = plugin.map_order(connection(), raw_orders[first.order_id])
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="g1", number="#1001"))
    assert sim.state.orders[first.order_id].merchant_order_number == "#1001"
    # Acknowledged: no longer handed out; acknowledging again with the same number is harmless.
    remaining = {raw.order_id async for raw in plugin.fetch_orders(connection(), None, _now())}
    assert remaining == {second.order_id}
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="g1", number="#1001"))
    with pytest.raises(PermanentOrderError, match="already carries merchant order number"):
        await plugin.acknowledge_order(
            connection(), order, StoreOrderRef(store_order_id="g2", number="#1002")
        )
    posted = sim.recorder.calls(
        "POST", f"/api/v2/shops/{SHOP_ID}/orders/{first.order_id}/merchant-order-number"
    )
    assert posted[0].json() == {"merchantOrderNumber": "#1001"}
    assert posted[0].headers["integration-partner"] == "ordersyncd"
    assert posted[0].headers["content-type"].startswith("application/json")


async def test_an_order_handed_out_once_and_lost_before_persisting_comes_back_through_the_sweep(
    make_plugin: PluginFactory, sim: IdealoSimulator, clock: FakeClock
):
    sim.state.new_orders_mode = "once"
    plugin = make_plugin(sweep_interval_seconds=60)
    await plugin.startup()
    try:
        order = sim.state.add_order()
        # The first poll sees it twice (new-orders + first sweep); the process "dies" before persisting.
        assert set(await fetch_ids(plugin)) == {order.order_id}
        assert sim.state.orders[order.order_id].delivered == 1
        # /new-orders will not hand it out again, and the sweep is not due yet.
        assert await fetch_ids(plugin) == []
        clock.now += 61
        assert await fetch_ids(plugin) == [order.order_id]
        sweeps = sim.recorder.calls("GET", f"/api/v2/shops/{SHOP_ID}/orders")
        assert dict(sweeps[-1].query) == {
            "pageSize": "100", "status": "PROCESSING", "acknowledged": "false", "pageNumber": "0"
        }  # fmt: skip
    finally:
        await plugin.shutdown()


async def test_the_sweep_reads_every_page(make_plugin: PluginFactory, sim: IdealoSimulator):
    sim.state.new_orders_mode = "once"
    orders = sim.state.generate_orders(7)
    sim.state.take_new_orders()  # handed out earlier, never persisted
    plugin = make_plugin(page_size=3)
    await plugin.startup()
    try:
        assert sorted(await fetch_ids(plugin)) == sorted(o.order_id for o in orders)
        pages = [
            dict(e.query)["pageNumber"] for e in sim.recorder.calls("GET", f"/api/v2/shops/{SHOP_ID}/orders")
        ]
        assert pages == ["0", "1", "2"]
    finally:
        await plugin.shutdown()


async def test_mapping_keeps_unit_prices_addresses_payment_delivery_and_taxes(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    sim.state.add_order(
        lines=[("IDL-104", "529.00", 1), ("BOOK-1", "12.50", 2)],
        payment_method="PAYPAL",
        phone="030-1231234",
        options=[("TWO_MAN_DELIVERY", Decimal("19.90"))],
        shipping_costs=Decimal("59.80"),
        voucher="FXWFGE (10%, max. 5 EUR)",
    )
    payload = sim.state.orders[next(iter(sim.state.orders))].render()
    payload["shippingAddress"]["addressLine2"] = "c/o Büro Schmitz"
    raw = _raw(payload)
    settings_tax = {"rates": {"DE": {"standard": 19, "reduced": 7}}, "product_classes": {"BOOK-1": "reduced"}}
    order = plugin.map_order(connection(tax=settings_tax), raw)
    assert [(line.sku, line.quantity, line.unit_price.amount, line.tax_rate) for line in order.lines] == [
        ("IDL-104", 1, Decimal("529.00"), Decimal(19)),
        ("BOOK-1", 2, Decimal("12.50"), Decimal(7)),
    ]
    assert order.total.amount == Decimal(payload["grossPrice"])
    assert order.shipping_cost.amount == Decimal("59.80") and order.discount is None
    assert order.payment.method == "PAYPAL"
    assert order.payment.transaction_id == payload["payment"]["transactionId"]
    assert order.customer.phone == "030-1231234" and order.customer.email.endswith("@checkout.idealo.de")
    assert order.shipping_address.street == payload["shippingAddress"]["addressLine1"]
    assert order.shipping_address.address_line2 == "c/o Büro Schmitz"
    assert order.delivery.option == "TWO_MAN_DELIVERY (19.90)"
    assert order.attributes["Voucher (already in the prices)"] == "FXWFGE (10%, max. 5 EUR)"
    assert order.attributes["Delivery time"] == "1-2 Werktage"
    assert order.number == order.order_id == payload["idealoOrderId"]


async def test_absent_phone_is_fine_but_missing_address_lines_and_bad_sums_are_refused(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    no_phone = sim.state.add_order(phone="", drop=("customer.phone",))
    order = plugin.map_order(connection(), _raw(no_phone.render()))
    assert order.customer.phone == "" and order.shipping_address.phone == ""

    no_street = sim.state.add_order(drop=("shippingAddress.addressLine1",))
    with pytest.raises(PermanentOrderError, match="shippingAddress lacks addressLine1"):
        plugin.map_order(connection(), _raw(no_street.render()))

    v1_style = sim.state.add_order(lines=[("IDL-101", "29.99", 2)])
    payload = v1_style.render()
    payload["lineItems"][0]["price"] = "59.98"  # a line total where the unit price belongs
    with pytest.raises(PermanentOrderError, match=r"offersPrice 59\.98 does not match"):
        plugin.map_order(connection(), _raw(payload))

    revoked = sim.state.add_order(status="REVOKED")
    with pytest.raises(PermanentOrderError, match="only PROCESSING orders are imported"):
        plugin.map_order(connection(), _raw(revoked.render()))

    austria = sim.state.add_order(lines=[("BOOK-1", "12.50", 1)])
    payload = austria.render()
    payload["shippingAddress"]["countryCode"] = "AT"
    tax = {"rates": {"AT": {"standard": 20}}, "product_classes": {"BOOK-1": "reduced"}}
    with pytest.raises(PermanentOrderError, match="no tax rate for AT/reduced"):
        plugin.map_order(connection(tax=tax), _raw(payload))


async def test_the_token_is_reused_renewed_on_401_and_names_the_shop(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    sim.state.generate_orders(1)
    await fetch_ids(plugin)
    await fetch_ids(plugin)
    assert sim.state.tokens_issued == 1
    sim.state.expire_tokens()
    assert len(await fetch_ids(plugin)) >= 1
    assert sim.state.tokens_issued == 2
    token_calls = sim.recorder.calls("POST", "/api/v2/oauth/token")
    assert all(e.body == b"grant_type=client_credentials" for e in token_calls)
    assert all(e.headers["authorization"].startswith("Basic ") for e in token_calls)
    assert await plugin.check_credentials() == (
        f"idealo order API client idealo-sim-client (sandbox), shop {SHOP_ID}; offers API shop {SHOP_ID}"
    )


async def test_refused_credentials_are_an_authentication_error_without_the_secret(make_plugin: PluginFactory):
    plugin = make_plugin(client_secret="wrong-secret-value")
    with pytest.raises(AuthenticationError) as caught:
        await plugin.startup()
    assert "wrong-secret-value" not in str(caught.value)
    assert "idealo-sim-client" in str(caught.value)
    await plugin.shutdown()


async def test_429_waits_retry_after_then_gives_up_to_the_core(
    plugin: IdealoMarketplace, sim: IdealoSimulator, clock: FakeClock
):
    sim.state.generate_orders(1)
    sim.state.throttle(2, retry_after=5)
    assert len(await fetch_ids(plugin)) >= 1
    assert clock.sleeps == [5, 5]
    sim.state.throttle(100, retry_after=40)
    with pytest.raises(RateLimited) as caught:
        await fetch_ids(plugin)
    assert caught.value.retry_after == 40


async def test_server_errors_and_garbage_are_transient(plugin: IdealoMarketplace, sim: IdealoSimulator):
    sim.faults.fail_next = 1
    with pytest.raises(TransientError, match="HTTP 503"):
        await fetch_ids(plugin)
    sim.faults.garbage_rate = 1.0
    with pytest.raises(TransientError, match="not JSON"):
        await fetch_ids(plugin)
