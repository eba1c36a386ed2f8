"""Shipments (carrier mapping, tracking codes, missing codes), revocations and refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from ordersyncd.plugin import MissingCodes, Money, Order, PermanentOrderError, Shipment
from ordersyncd_plugins.marketplace_idealo import IdealoMarketplace, IdealoSettings, RevocationReason
from ordersyncd_plugins.marketplace_idealo.orders import raw_order
from ordersyncd_plugins.marketplace_idealo.simulator import SHOP_ID, IdealoSimulator, SimOrder

from .conftest import PluginFactory, connection

pytestmark = pytest.mark.anyio


def mapped(plugin: IdealoMarketplace, order: SimOrder) -> Order:
    return plugin.map_order(connection(), raw_order(order.render()))


def fulfillment_calls(sim: IdealoSimulator, order_id: str) -> list[object]:
    return [
        e.json() for e in sim.recorder.calls("POST", f"/api/v2/shops/{SHOP_ID}/orders/{order_id}/fulfillment")
    ]


async def test_shipping_sends_the_mapped_carrier_and_the_code_once(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 1)])
    domain = mapped(plugin, order)
    shipment = Shipment(
        shipment_id="F1", order_id=order.order_id, carrier="DHL Express", tracking_code="00340434"
    )
    await plugin.on_shipped(connection(), domain, shipment)
    await plugin.on_shipped(connection(), domain, shipment)  # repeated: nothing new sent
    assert fulfillment_calls(sim, order.order_id) == [{"trackingCode": ["00340434"], "carrier": "DHL"}]
    assert sim.state.orders[order.order_id].status == "COMPLETED"
    second = Shipment(shipment_id="F2", order_id=order.order_id, carrier="hermes", tracking_code="H-2")
    await plugin.on_shipped(connection(), domain, second)
    assert [t["code"] for t in sim.state.orders[order.order_id].tracking] == ["00340434", "H-2"]
    assert fulfillment_calls(sim, order.order_id)[-1] == {"trackingCode": ["H-2"], "carrier": "Hermes"}


async def test_carrier_table_default_and_unknown_carriers(make_plugin: PluginFactory, sim: IdealoSimulator):
    plugin = make_plugin(carrier_map={"Spedition Müller": "Cargo"}, default_carrier="DPD")
    await plugin.startup()
    try:
        first = sim.state.add_order(lines=[("IDL-101", "29.99", 1)])
        ship = Shipment(
            shipment_id="S1", order_id=first.order_id, carrier="Spedition Müller", tracking_code="C1"
        )
        await plugin.on_shipped(connection(), mapped(plugin, first), ship)
        second = sim.state.add_order(lines=[("IDL-101", "29.99", 1)])
        other = Shipment(
            shipment_id="S2", order_id=second.order_id, carrier="Nachtexpress", tracking_code="N1"
        )
        await plugin.on_shipped(connection(), mapped(plugin, second), other)
        assert fulfillment_calls(sim, first.order_id) == [{"trackingCode": ["C1"], "carrier": "Cargo"}]
        assert fulfillment_calls(sim, second.order_id) == [{"trackingCode": ["N1"], "carrier": "DPD"}]
    finally:
        await plugin.shutdown()
    without_default = make_plugin()
    assert without_default.settings.idealo_carrier("Nachtexpress") is None
    assert without_default.settings.idealo_carrier("deutsche post") == "Deutsche Post"
    with pytest.raises(ValidationError, match="not an idealo carrier"):
        IdealoSettings.model_validate(
            {"client_id": "c", "client_secret": "s", "mode": "sandbox", "carrier_map": {"Nacht": "NightStar"}}
        )


async def test_a_missing_tracking_code_holds_the_shipment_before_anything_is_sent(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 1)])
    shipment = Shipment(shipment_id="F1", order_id=order.order_id, carrier="DHL")
    calls_before = len(sim.recorder.exchanges)
    with pytest.raises(MissingCodes) as caught:
        await plugin.on_shipped(connection(), mapped(plugin, order), shipment)
    assert caught.value.missing == ("tracking_code",)
    assert len(sim.recorder.exchanges) == calls_before
    assert sim.state.orders[order.order_id].status == "PROCESSING"


async def test_without_required_tracking_the_order_is_marked_shipped_without_codes(
    make_plugin: PluginFactory, sim: IdealoSimulator
):
    plugin = make_plugin(require_tracking_code=False)
    await plugin.startup()
    try:
        order = sim.state.add_order(lines=[("IDL-104", "529.00", 1)])
        domain = mapped(plugin, order)
        shipment = Shipment(shipment_id="F1", order_id=order.order_id, carrier="Spedition")
        await plugin.on_shipped(connection(), domain, shipment)
        await plugin.on_shipped(connection(), domain, shipment)
        assert fulfillment_calls(sim, order.order_id) == [{"trackingCode": [], "carrier": "Cargo"}]
    finally:
        await plugin.shutdown()


async def test_a_revoked_order_is_not_reported_shipped(plugin: IdealoMarketplace, sim: IdealoSimulator):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 1)])
    domain = mapped(plugin, order)
    sim.state.customer_revokes(order.order_id)
    with pytest.raises(PermanentOrderError, match="REVOKING at idealo"):
        await plugin.on_shipped(
            connection(), domain, Shipment(shipment_id="F", order_id=order.order_id, tracking_code="X")
        )
    assert fulfillment_calls(sim, order.order_id) == []


async def test_partial_and_full_revocations_per_sku(plugin: IdealoMarketplace, sim: IdealoSimulator):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 3), ("IDL-103", "12.50", 1)])
    assert await plugin.revoke(order.order_id, "IDL-101", remaining_quantity=1, reason="MERCHANT_DECLINE")
    assert sim.state.orders[order.order_id].status == "PARTIALLY_REVOKED"
    # Repeating the same call sends nothing: idealo already has one unit left.
    assert not await plugin.revoke(order.order_id, "IDL-101", remaining_quantity=1, reason="MERCHANT_DECLINE")
    sent = await plugin.revoke_order(mapped_after(order), reason=RevocationReason.RETOUR, comment="Retoure")
    assert sent == ["IDL-101", "IDL-103"]
    assert sim.state.orders[order.order_id].status == "REVOKED"
    assert sim.state.orders[order.order_id].revocations == [
        {"sku": "IDL-101", "remainingQuantity": 1, "reason": "MERCHANT_DECLINE", "comment": ""},
        {"sku": "IDL-101", "remainingQuantity": 0, "reason": "RETOUR", "comment": "Retoure"},
        {"sku": "IDL-103", "remainingQuantity": 0, "reason": "RETOUR", "comment": "Retoure"},
    ]
    with pytest.raises(PermanentOrderError, match="no line with SKU"):
        await plugin.revoke(order.order_id, "NOPE", reason="RETOUR")
    with pytest.raises(ValueError, match="UNKNOWN"):
        await plugin.revoke(order.order_id, "IDL-101", reason="UNKNOWN")


def mapped_after(order: SimOrder) -> Order:
    """The domain order as imported (before any revocation changed the simulator's view)."""
    from ordersyncd_plugins.marketplace_idealo.mapping import build_order

    payload = order.render()
    payload["status"] = "PROCESSING"
    return build_order(payload, tax=None)


async def test_refunds_reach_the_total_once_and_their_status_is_polled(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 2)], payment_method="IDEALO_CHECKOUT_PAYMENTS")
    created = await plugin.refund(order.order_id, Money(amount=Decimal("29.99"), currency="EUR"))
    assert [(r.amount.amount, r.status) for r in created] == [(Decimal("29.99"), "OPEN")]
    assert await plugin.refund(order.order_id, Money(amount=Decimal("29.99"), currency="EUR")) == []
    more = await plugin.refund(order.order_id, Money(amount=Decimal("40.00"), currency="EUR"))
    assert [r.amount.amount for r in more] == [Decimal("10.01")]
    posted = sim.recorder.calls("POST", f"/api/v2/shops/{SHOP_ID}/orders/{order.order_id}/refunds")
    assert [e.json() for e in posted] == [
        {"refundAmount": 29.99, "currency": "EUR"},
        {"refundAmount": 10.01, "currency": "EUR"},
    ]
    assert {r.status for r in await plugin.refunds(order.order_id)} == {"OPEN"}
    sim.state.settle_refunds()
    assert {r.status for r in await plugin.refunds(order.order_id)} == {"SUCCESS"}
    with pytest.raises(PermanentOrderError, match="REFUND_AMOUNT_EXCEEDS_ORDER_PRICE"):
        await plugin.refund(order.order_id, Money(amount=Decimal("999.00"), currency="EUR"))


async def test_orders_paid_elsewhere_are_refunded_at_their_payment_service(
    plugin: IdealoMarketplace, sim: IdealoSimulator
):
    order = sim.state.add_order(lines=[("IDL-101", "29.99", 1)], payment_method="PAYPAL")
    with pytest.raises(PermanentOrderError, match="paid with PAYPAL"):
        await plugin.refund(order.order_id, Money(amount=Decimal("5.00"), currency="EUR"))
    assert sim.state.orders[order.order_id].refunds == []


async def test_customer_withdrawals_are_listed(plugin: IdealoMarketplace, sim: IdealoSimulator):
    from datetime import UTC, datetime, timedelta

    kept, withdrawn = sim.state.generate_orders(2)
    sim.state.customer_revokes(withdrawn.order_id)
    found = await plugin.revoked_orders(datetime.now(UTC) - timedelta(hours=1))
    assert [(o["idealoOrderId"], o["status"]) for o in found] == [(withdrawn.order_id, "REVOKING")]
    assert kept.order_id not in {o["idealoOrderId"] for o in found}
