"""acknowledge_order (export), on_shipped (tracking + line statuses), ZSS documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersyncd.plugin import (
    MissingCodes,
    Order,
    PermanentOrderError,
    Shipment,
    ShipmentLine,
    StoreOrderRef,
    TransientError,
)
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.simulator import MERCHANT_A, ZalandoSimulator
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
    await plugin.on_shipped(connection(), order, _shipment(order, "", ""), 1)
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
        await plugin.on_shipped(connection(), order, _shipment(order, tracking, returning), 1)
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
    await plugin.on_shipped(connection(), order, _shipment(order), 1)
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
    assert [since is not None and since >= 5 for _, _, since in sim.state.line_shipments] == [True] * 3
    # Called again (the core repeats after a crash, so attempt 2): read first, nothing is sent again.
    await plugin.on_shipped(connection(), order, _shipment(order), 2)
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
    await plugin.on_shipped(connection(), order, _shipment(order), 2)
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
        await plugin.on_shipped(connection(), order, _shipment(order), 2)
    assert (order.order_id, line.line_id, "shipped", 403) in sim.state.line_updates


async def test_partial_shipments_read_first_even_on_their_first_report(
    plugin: ZalandoMarketplace, sim
) -> None:
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
    await plugin.on_shipped(connection(), order, shipment, 1)
    statuses = sorted(line.status for line in sim_order.lines())
    assert statuses == ["reserved", "reserved", "shipped"]
    # A second shipment's first report: another shipment of the order was reported already, so the plugin
    # reads which units are left (an unread PATCH would pick the unit s-1 shipped) and the codes Zalando has.
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
    await plugin.on_shipped(connection(), order, second, 1)
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    assert len(sim.state.tracking_updates) == 1
    order_reads = [e for e in sim.recorder.exchanges if e.method == "GET" and e.path == _order_path(order)]
    assert len(order_reads) == 2
    assert all(status == 204 for *_, status in sim.state.line_updates)


async def test_different_codes_after_first_are_not_sent(plugin: ZalandoMarketplace, sim) -> None:
    _, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    await plugin.on_shipped(connection(), order, _shipment(order, "T-1", "R-1"), 1)
    # The store changed the codes of the reported shipment: the core calls again with attempt 2.
    with pytest.raises(PermanentOrderError, match="first"):
        await plugin.on_shipped(connection(), order, _shipment(order, "T-2", "R-2"), 2)
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
    await plugin.on_shipped(connection(), order, _shipment(order, "", ""), 1)
    outbound = next(d for d in documents if d.type == "OUTBOUND_LABEL").tracking_id
    returning = next(d for d in documents if d.type == "RETURN_LABEL").tracking_id
    assert sim.state.tracking_updates == [(order.order_id, outbound, returning)]
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    downloads = [e for e in sim.recorder.exchanges if e.path.startswith("/zss/shipping-documents/")]
    assert len(downloads) == 3  # not downloaded again when shipping
    await plugin.shutdown()


@pytest.mark.parametrize("attempt", [1, 2])
async def test_shipping_before_export_is_transient(plugin: ZalandoMarketplace, sim, attempt: int) -> None:
    _, order = await _imported(plugin, sim)
    with pytest.raises(TransientError, match="not exported"):
        await plugin.on_shipped(connection(), order, _shipment(order), attempt)
    assert sim.state.tracking_updates == []
    assert sim.state.line_updates == []
    sent = [(e.method, e.status) for e in sim.recorder.exchanges if e.path.startswith(_order_path(order))]
    # First attempt: the tracking PATCH is refused (403, not exported), then the order is read.
    assert sent == ([("PATCH", 403), ("GET", 200)] if attempt == 1 else [("GET", 200)])


# ---------------------------------------------------------------------------------------- first report, unread


def _order_path(order: Order) -> str:
    return f"/merchants/{MERCHANT_A}/orders/{order.order_id}"


def _since(sim: ZalandoSimulator, mark: int) -> list[tuple[str, str, int]]:
    """(method, path, status) of the exchanges after the first ``mark`` ones (token requests left out)."""
    return [(e.method, e.path, e.status) for e in sim.recorder.exchanges[mark:] if e.path != "/auth/token"]


async def test_first_report_sends_tracking_and_lines_without_reading(
    make_plugin: PluginFactory, sim, clock: FakeClock
) -> None:
    plugin = make_plugin(shipping_gap_seconds=5)
    await plugin.startup()
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    mark = len(sim.recorder.exchanges)
    await plugin.on_shipped(connection(), order, _shipment(order), 1)
    lines = [(line.item_id, line.line_id) for line in sim_order.lines()]
    assert _since(sim, mark) == [
        ("PATCH", _order_path(order), 204),
        *[("PATCH", f"{_order_path(order)}/items/{item}/lines/{line}", 204) for item, line in lines],
    ]
    assert sim.state.tracking_updates == [(order.order_id, "00340434161234567890", "RET123456789")]
    assert clock.sleeps == [5]
    # Every line went out after both tracking numbers, with the documented gap.
    assert len(sim.state.line_shipments) == 3
    assert all(since is not None and since >= 5 for *_, since in sim.state.line_shipments)
    assert sim_order.status == "fulfilled"
    await plugin.shutdown()


async def test_shipment_naming_every_unit_counts_as_the_whole_order(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    mark = len(sim.recorder.exchanges)
    shipment = Shipment(
        shipment_id="s-1",
        order_id=order.order_id,
        lines=tuple(ShipmentLine(line_id=line.line_id, quantity=line.quantity) for line in order.lines),
        tracking_code="T-1",
        return_tracking_code="R-1",
    )
    await plugin.on_shipped(connection(), order, shipment, 1)
    assert [method for method, *_ in _since(sim, mark)] == ["PATCH"] * 4
    assert {line.status for line in sim_order.lines()} == {"shipped"}


async def test_later_attempt_reads_the_order_first(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    mark = len(sim.recorder.exchanges)
    await plugin.on_shipped(connection(), order, _shipment(order), 2)
    sent = _since(sim, mark)
    assert sent[0] == ("GET", _order_path(order), 200)
    assert [method for method, *_ in sent[1:]] == ["PATCH"] * 4
    read = next(e for e in sim.recorder.exchanges[mark:] if e.method == "GET")
    assert dict(read.query)["include"] == "order_items,order_lines"
    assert {line.status for line in sim_order.lines()} == {"shipped"}


async def test_order_exported_elsewhere_before_import_is_read_first_and_other_codes_refused(
    plugin: ZalandoMarketplace, sim
) -> None:
    # Another tool claimed the order and sent its tracking numbers before we imported it. Zalando would accept a
    # second tracking PATCH and keep the first numbers silently, so the plugin must not send unread.
    sim_order = sim.state.add_order(modified_at=T0, articles=ARTICLES)
    sim_order.exported, sim_order.merchant_order_id = True, "OTHER1"
    sim_order.tracking_number, sim_order.return_tracking_number = "T-OTHER", "R-OTHER"
    _, order = await _imported_existing(plugin, sim_order)
    assert order.attributes["exported"] == "true"
    mark = len(sim.recorder.exchanges)
    with pytest.raises(PermanentOrderError, match="other tracking numbers"):
        await plugin.on_shipped(connection(), order, _shipment(order, "T-1", "R-1"), 1)
    assert _since(sim, mark) == [("GET", _order_path(order), 200)]
    assert sim.state.tracking_updates == []
    assert {line.status for line in sim_order.lines()} == {"reserved"}


async def test_first_report_falls_back_to_reading_when_a_line_was_shipped_by_someone_else(
    plugin: ZalandoMarketplace, sim
) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    # Between our import and our report another tool sent its numbers (kept: first value wins) and shipped a
    # unit. Our tracking PATCH is accepted and ignored; the refused line (409) reveals it; reading the order
    # shows the other numbers, so nothing more is shipped under them.
    sim_order.tracking_number, sim_order.return_tracking_number = "T-OTHER", "R-OTHER"
    first = sim_order.items[0].lines[0]
    first.status = "shipped"
    mark = len(sim.recorder.exchanges)
    with pytest.raises(PermanentOrderError, match="other tracking numbers"):
        await plugin.on_shipped(connection(), order, _shipment(order, "T-1", "R-1"), 1)
    assert _since(sim, mark) == [
        ("PATCH", _order_path(order), 204),
        ("PATCH", f"{_order_path(order)}/items/{first.item_id}/lines/{first.line_id}", 409),
        ("GET", _order_path(order), 200),
    ]
    assert sorted(line.status for line in sim_order.lines()) == ["reserved", "reserved", "shipped"]
    assert (sim_order.tracking_number, sim_order.return_tracking_number) == ("T-OTHER", "R-OTHER")


async def test_first_report_with_a_line_already_shipped_ships_the_rest(
    plugin: ZalandoMarketplace, sim
) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    second = sim_order.items[0].lines[1]
    second.status = "shipped"
    await plugin.on_shipped(connection(), order, _shipment(order), 1)
    assert {line.status for line in sim_order.lines()} == {"shipped"}
    assert (order.order_id, second.line_id, "shipped", 409) in sim.state.line_updates
    assert len(sim.state.tracking_updates) == 1  # the re-read found our numbers: not sent again
    assert len([e for e in sim.recorder.exchanges if e.method == "GET" and e.path == _order_path(order)]) == 1


async def test_first_report_with_a_canceled_line_is_permanent(plugin: ZalandoMarketplace, sim) -> None:
    sim_order, order = await _imported(plugin, sim)
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    canceled = sim_order.items[1].lines[0]
    canceled.status = "canceled"
    with pytest.raises(PermanentOrderError, match="canceled"):
        await plugin.on_shipped(connection(), order, _shipment(order), 1)
    assert [u for u in sim.state.line_updates if u[1] == canceled.line_id] == [
        (order.order_id, canceled.line_id, "shipped", 403),
        (order.order_id, canceled.line_id, "shipped", 403),
    ]


async def test_price_groups_of_one_item_patch_under_that_item(plugin: ZalandoMarketplace, sim) -> None:
    # Three units of one article, one of them sold at another price: two order lines, "item" and "item:1".
    sim_order = sim.state.add_order(
        modified_at=T0, articles=[("4063614512884", "AR1-Q11", Decimal("49.95"), 3)]
    )
    (item,) = sim_order.items
    item.lines[2].price = Decimal("39.95")
    _, order = await _imported_existing(plugin, sim_order)
    assert [line.line_id for line in order.lines] == [item.item_id, f"{item.item_id}:1"]
    await plugin.acknowledge_order(connection(), order, StoreOrderRef(store_order_id="1", number="1001"))
    mark = len(sim.recorder.exchanges)
    await plugin.on_shipped(connection(), order, _shipment(order), 1)
    line_patches = [(path, status) for method, path, status in _since(sim, mark) if "/lines/" in path]
    assert line_patches == [
        (f"{_order_path(order)}/items/{item.item_id}/lines/{x.line_id}", 204) for x in item.lines
    ]
    assert {line.status for line in item.lines} == {"shipped"}
    assert not any(method == "GET" for method, *_ in _since(sim, mark))


async def _imported_existing(plugin: ZalandoMarketplace, sim_order: SimOrder) -> tuple[SimOrder, Order]:
    types = ("FBR", "FBZ")
    raws = [raw async for raw in plugin.fetch_orders(connection(types), T0 - timedelta(seconds=1), T0)]
    (raw,) = [r for r in raws if r.order_id == sim_order.order_id]
    return sim_order, plugin.map_order(connection(types), raw)
