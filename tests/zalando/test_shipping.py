"""acknowledge_order (export), on_shipped (tracking + line statuses), ZSS documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersyncd.plugin import MissingCodes, Order, PermanentOrderError, Shipment, ShipmentLine, StoreOrderRef
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.simulator import ZalandoSimulator
from ordersyncd_plugins.marketplace_zalando.simulator.state import SimOrder

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ARTICLES = [
    ("4063614512884", "AR1-Q11", Decimal("49.95"), 2),
    ("4063614512891", "AR2-Q11", Decimal("9.99"), 1),
]


async def _imported(plugin: ZalandoMarketplace, sim: ZalandoSimulator, **kwargs) -> tuple[SimOrder, Order]:
    kwargs.setdefault("articles", ARTICLES)
    sim_order = sim.state.add_order(modified_at=T0, **kwargs)
    types = ("FBR", "FBZ")
    raws = [raw async for raw in plugin.fetch_orders(connection(types), T0 - timedelta(seconds=1), T0)]
    (raw,) = [r for r in raws if r.order_id == sim_order.order_id]
    return sim_order, plugin.map_order(connection(types), raw)


def _shipment(
    order: Order, tracking: str = "00340434161234567890", returning: str = "RET123456789"
) -> Shipment:
    return Shipment(
        shipment_id="s-1", order_id=order.order_id, tracking_code=tracking, return_tracking_code=returning
    )


async def test_acknowledge_exports_with_alphanumeric_store_number(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    store = StoreOrderRef(store_order_id="gid://shopify/Order/77", number="#WEB-1001")
    await plugin.acknowledge_order(connection(), order, store)
    await plugin.acknowledge_order(connection(), order, store)  # harmless twice
    assert sim.state.exports == [(order.order_id, "WEB1001"), (order.order_id, "WEB1001")]
    assert sim_order.exported is True
    patch = next(e for e in sim.recorder.exchanges if e.method == "PATCH")
    assert patch.headers["content-type"] == "application/vnd.api+json"
    assert patch.json() == {
        "data": {"type": "Order", "id": order.order_id, "attributes": {"merchant_order_id": "WEB1001"}}
    }


async def test_acknowledge_without_any_alphanumeric_is_permanent(plugin: ZalandoMarketplace, sim) -> None:
    _, order = await _imported(plugin, sim)
    with pytest.raises(PermanentOrderError):
        await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="#", number="#-"))
    assert sim.state.exports == []


async def test_fbz_orders_are_never_exported_or_shipped(make_plugin: PluginFactory, sim) -> None:
    plugin = make_plugin(order_types=["FBR", "FBZ"])
    await plugin.startup()
    _, order = await _imported(plugin, sim, order_type="ZalandoFulfilled")
    before = len(sim.recorder.exchanges)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    await plugin.on_shipped(connection(), order, _shipment(order, "", ""))
    assert len(sim.recorder.exchanges) == before
    await plugin.shutdown()


@pytest.mark.parametrize(
    ("tracking", "returning", "missing"),
    [
        ("", "RET1", ("tracking_code",)),
        ("T1", " ", ("return_tracking_code",)),
        ("", "", ("tracking_code", "return_tracking_code")),
    ],
)
async def test_missing_codes_send_nothing(
    plugin: ZalandoMarketplace, sim, tracking, returning, missing
) -> None:
    _, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    before = len(sim.recorder.exchanges)
    with pytest.raises(MissingCodes) as caught:
        await plugin.on_shipped(connection(), order, _shipment(order, tracking, returning))
    assert caught.value.missing == missing
    assert len(sim.recorder.exchanges) == before
    assert sim.state.tracking_updates == []


async def test_ship_sends_both_codes_once_waits_then_ships_every_line(
    make_plugin: PluginFactory, sim, clock: FakeClock
) -> None:
    plugin = make_plugin(shipping_gap_seconds=5)
    await plugin.startup()
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    await plugin.on_shipped(connection(), order, _shipment(order))
    assert sim.state.tracking_updates == [(order.order_id, "00340434161234567890", "RET123456789")]
    assert clock.sleeps == [5]
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    assert sim_order.status == "fulfilled"
    patches = [e for e in sim.recorder.exchanges if e.method == "PATCH"]
    assert [p.json()["data"]["type"] for p in patches] == [
        "Order",
        "Order",
        "OrderLine",
        "OrderLine",
        "OrderLine",
    ]
    assert all(p.json()["data"]["attributes"] == {"status": "shipped"} for p in patches[2:])
    # Called again (the core repeats after a crash): nothing is sent again.
    await plugin.on_shipped(connection(), order, _shipment(order))
    assert len([e for e in sim.recorder.exchanges if e.method == "PATCH"]) == len(patches)
    assert clock.sleeps == [5]
    await plugin.shutdown()


async def test_line_already_shipped_answers_409_and_counts_as_success(
    plugin: ZalandoMarketplace, sim
) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    line = sim_order.items[0].lines[0]
    # Someone marks the first line shipped after our read: our PATCH gets 409, the re-read says "shipped".
    original = plugin._ship_line

    async def racing(order_id: str, item_id: str, line_id: str) -> None:
        if line_id == line.line_id:
            line.status = "shipped"
        await original(order_id, item_id, line_id)

    plugin._ship_line = racing  # type: ignore[method-assign]
    await plugin.on_shipped(connection(), order, _shipment(order))
    assert (order.order_id, line.line_id, "shipped", 409) in sim.state.line_updates
    assert {x.status for x in sim_order.lines()} == {"shipped"}


async def test_line_that_cannot_ship_is_permanent(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    line = sim_order.items[1].lines[0]
    original = plugin._ship_line

    async def cancel_first(order_id: str, item_id: str, line_id: str) -> None:
        if line_id == line.line_id:
            line.status = "canceled"  # canceled → shipped is not a legal transition (403)
        await original(order_id, item_id, line_id)

    plugin._ship_line = cancel_first  # type: ignore[method-assign]
    with pytest.raises(PermanentOrderError, match="canceled"):
        await plugin.on_shipped(connection(), order, _shipment(order))
    assert (order.order_id, line.line_id, "shipped", 403) in sim.state.line_updates


async def test_partial_shipment_ships_only_its_units(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    first_line = order.lines[0]
    shipment = Shipment(
        shipment_id="s-1",
        order_id=order.order_id,
        lines=(ShipmentLine(line_id=first_line.line_id, quantity=1),),
        tracking_code="T-1",
        return_tracking_code="R-1",
    )
    await plugin.on_shipped(connection(), order, shipment)
    statuses = sorted(line.status for line in sim_order.lines())
    assert statuses == ["reserved", "reserved", "shipped"]
    second = Shipment(
        shipment_id="s-2",
        order_id=order.order_id,
        lines=(
            ShipmentLine(line_id=first_line.line_id, quantity=1),
            ShipmentLine(line_id=order.lines[1].line_id, quantity=1),
        ),
        tracking_code="T-1",
        return_tracking_code="R-1",
    )
    await plugin.on_shipped(connection(), order, second)
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    assert len(sim.state.tracking_updates) == 1


async def test_different_codes_after_first_are_not_sent(plugin: ZalandoMarketplace, sim) -> None:
    _, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    await plugin.on_shipped(connection(), order, _shipment(order, "T-1", "R-1"))
    with pytest.raises(PermanentOrderError, match="first"):
        await plugin.on_shipped(connection(), order, _shipment(order, "T-2", "R-2"))
    assert len(sim.state.tracking_updates) == 1


async def test_zss_documents_are_downloaded_and_their_codes_used(
    make_plugin: PluginFactory, sim, tmp_path
) -> None:
    plugin = make_plugin(zss=True)
    await plugin.startup()
    sim_order, order = await _imported(plugin, sim, zss=True)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    documents = sim.state.documents[order.order_id]
    folder = tmp_path / "zss" / order.order_id
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 3
    assert all((folder / f).read_bytes().startswith(b"%PDF") for f in files)
    # The store has no codes: the labels' tracking ids are used.
    await plugin.on_shipped(connection(), order, _shipment(order, "", ""))
    outbound = next(d for d in documents if d.type == "OUTBOUND_LABEL").tracking_id
    returning = next(d for d in documents if d.type == "RETURN_LABEL").tracking_id
    assert sim.state.tracking_updates == [(order.order_id, outbound, returning)]
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    downloads = [e for e in sim.recorder.exchanges if e.path.startswith("/zss/shipping-documents/")]
    assert len(downloads) == 3  # not downloaded again when shipping
    await plugin.shutdown()


async def test_shipping_before_export_is_transient(plugin: ZalandoMarketplace, sim) -> None:
    from ordersyncd.plugin import TransientError

    _, order = await _imported(plugin, sim)
    with pytest.raises(TransientError, match="not exported"):
        await plugin.on_shipped(connection(), order, _shipment(order))
    assert sim.state.tracking_updates == []
