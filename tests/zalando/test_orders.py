"""fetch_orders windowing and map_order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersyncd.plugin import PermanentOrderError, RawOrder
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.mapping import item_id_of, order_line_id, unit_line_items
from ordersyncd_plugins.marketplace_zalando.simulator import ZalandoSimulator

from .conftest import PluginFactory, connection

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _fetch(
    plugin: ZalandoMarketplace, since: datetime | None, until: datetime, types=()
) -> list[RawOrder]:
    return [raw async for raw in plugin.fetch_orders(connection(types), since, until)]


def _list_calls(sim: ZalandoSimulator):
    return [e for e in sim.recorder.exchanges if e.method == "GET" and e.path.endswith("/orders")]


async def test_window_bounds_are_exclusive_below_and_inclusive_above(make_plugin: PluginFactory, sim) -> None:
    at_since = sim.state.add_order(modified_at=T0)
    inside = sim.state.add_order(modified_at=T0 + timedelta(minutes=1))
    at_until = sim.state.add_order(modified_at=T0 + timedelta(minutes=2))
    sim.state.add_order(modified_at=T0 + timedelta(minutes=2, milliseconds=1))  # after until
    plugin = make_plugin()
    await plugin.startup()
    got = await _fetch(plugin, T0, T0 + timedelta(minutes=2))
    assert [r.order_id for r in got] == [inside.order_id, at_until.order_id]
    assert at_since.order_id not in {r.order_id for r in got}
    query = dict(_list_calls(sim)[0].query)
    assert query["last_updated_after"] == "2026-03-02T09:00:00.000Z"
    assert query["last_updated_before"] == "2026-03-02T09:02:00.001Z"
    assert query["sort"] == "modified_at"
    assert query["order_status"] == "approved"
    assert query["include"] == "order_items,order_lines"
    assert query["order_type"] == "PartnerFulfilled"
    await plugin.shutdown()


async def test_full_pagination_with_fixed_upper_bound(make_plugin: PluginFactory, sim) -> None:
    orders = sim.state.generate_orders(23, start=T0, step=timedelta(seconds=10))
    plugin = make_plugin(page_size=5)
    await plugin.startup()
    got = await _fetch(plugin, T0 - timedelta(seconds=1), T0 + timedelta(hours=1))
    assert [r.order_id for r in got] == [o.order_id for o in orders]
    calls = _list_calls(sim)
    assert [dict(c.query)["page[number]"] for c in calls] == ["0", "1", "2", "3", "4"]
    assert len({dict(c.query)["last_updated_before"] for c in calls}) == 1
    assert all(r.payload["items"] and r.payload["lines"] for r in got)
    await plugin.shutdown()


async def test_same_modified_at_across_a_page_boundary(make_plugin: PluginFactory, sim) -> None:
    same = [sim.state.add_order(modified_at=T0 + timedelta(seconds=5)) for _ in range(7)]
    sim.state.add_order(modified_at=T0 + timedelta(seconds=6))
    plugin = make_plugin(page_size=3)
    await plugin.startup()
    got = await _fetch(plugin, T0, T0 + timedelta(minutes=1))
    assert len(got) == 8
    assert {o.order_id for o in same} <= {r.order_id for r in got}
    assert len({r.order_id for r in got}) == len(got)
    await plugin.shutdown()


async def test_order_updated_during_paging_skips_nothing(make_plugin: PluginFactory, sim) -> None:
    orders = sim.state.generate_orders(9, start=T0, step=timedelta(seconds=1))
    until = T0 + timedelta(minutes=5)

    def update_first_order(page: int) -> None:
        if page == 1 and orders[0].modified_at < until:
            sim.state.touch_order(orders[0].order_id, at=until + timedelta(seconds=30))

    sim.state.on_list_page = update_first_order
    plugin = make_plugin(page_size=3)
    await plugin.startup()
    got = await _fetch(plugin, T0 - timedelta(seconds=1), until)
    # Without the restart order 3 would shift onto page 0 after order 0 left, and be skipped.
    assert {r.order_id for r in got} == {o.order_id for o in orders}
    assert len(got) == len(orders)
    # The updated order comes again in the next window (its new modified_at is after this run's bound).
    again = await _fetch(plugin, until - timedelta(minutes=1), until + timedelta(minutes=1))
    assert orders[0].order_id in {r.order_id for r in again}
    await plugin.shutdown()


async def test_overlapping_windows_return_each_order_once_per_run(make_plugin: PluginFactory, sim) -> None:
    sim.state.generate_orders(6, start=T0, step=timedelta(seconds=30))
    plugin = make_plugin(page_size=2)
    await plugin.startup()
    first = await _fetch(plugin, T0 - timedelta(seconds=1), T0 + timedelta(seconds=100))
    second = await _fetch(plugin, T0 + timedelta(seconds=40), T0 + timedelta(minutes=10))  # overlaps
    assert len(first) == 4
    assert len(second) == 4
    assert len({r.order_id for r in first} | {r.order_id for r in second}) == 6
    await plugin.shutdown()


async def test_order_type_filters(make_plugin: PluginFactory, sim) -> None:
    fbr = sim.state.add_order(modified_at=T0 + timedelta(seconds=1))
    fbz = sim.state.add_order(modified_at=T0 + timedelta(seconds=2), order_type="ZalandoFulfilled")
    sim.state.add_order(modified_at=T0 + timedelta(seconds=3), status="initial")
    plugin = make_plugin(order_types=["FBR", "FBZ"])
    await plugin.startup()
    both = await _fetch(plugin, T0, T0 + timedelta(minutes=1))
    assert [r.order_id for r in both] == [fbr.order_id, fbz.order_id]
    assert "order_type" not in dict(_list_calls(sim)[-1].query)
    only_fbz = await _fetch(plugin, T0, T0 + timedelta(minutes=1), types=("FBZ",))
    assert [r.order_id for r in only_fbz] == [fbz.order_id]
    assert dict(_list_calls(sim)[-1].query)["order_type"] == "ZalandoFulfilled"
    await plugin.shutdown()
    fbr_only = make_plugin()
    await fbr_only.startup()
    assert [r.order_id for r in await _fetch(fbr_only, T0, T0 + timedelta(minutes=1))] == [fbr.order_id]
    await fbr_only.shutdown()


async def test_first_run_looks_back_initial_lookback_days(make_plugin: PluginFactory, sim) -> None:
    old = sim.state.add_order(modified_at=T0 - timedelta(days=3))
    sim.state.add_order(modified_at=T0 - timedelta(days=5))
    plugin = make_plugin(initial_lookback_days=4)
    await plugin.startup()
    assert [r.order_id for r in await _fetch(plugin, None, T0)] == [old.order_id]
    await plugin.shutdown()


async def test_map_order_groups_unit_lines_and_keeps_every_line_id(plugin: ZalandoMarketplace, sim) -> None:
    order = sim.state.add_order(
        modified_at=T0,
        articles=[
            ("4063614512884", "AR1-Q11", Decimal("49.95"), 3),
            ("4063614512891", "AR2-Q11", Decimal("9.99"), 1),
        ],
        shipping_costs=Decimal("3.90"),
        order_number="10101010101010",
    )
    (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
    mapped = plugin.map_order(connection(), raw)
    assert mapped.order_id == order.order_id
    assert mapped.number == "10101010101010"
    assert mapped.order_type == "FBR"
    assert mapped.update_store_inventory is True
    first, second = mapped.lines
    assert first.quantity == 3
    assert first.sku == "4063614512884"
    assert first.marketplace_article_id == "AR1-Q11"
    assert set(first.marketplace_line_ids) == {line.line_id for line in order.items[0].lines}
    assert first.unit_price.amount == Decimal("49.95")
    assert second.quantity == 1
    assert mapped.shipping_cost.amount == Decimal("3.9")
    assert mapped.total.amount == Decimal("3.90") + 3 * Decimal("49.95") + Decimal("9.99")
    assert mapped.customer.email == order.customer_email
    assert mapped.attributes["sales_channel_id"] == order.sales_channel_id


ITEM = "3f1c8e2a-9b7d-4c6e-8a5f-1d2e3f4a5b6c"


@pytest.mark.parametrize(("group", "line_id"), [(0, ITEM), (1, f"{ITEM}:1"), (12, f"{ITEM}:12")])
def test_order_line_id_and_item_id_of_are_inverse(group: int, line_id: str) -> None:
    assert order_line_id(ITEM, group) == line_id
    assert item_id_of(line_id) == ITEM


@pytest.mark.parametrize("odd", ["plain-id", "a:b", ":3", "x:"])
def test_item_id_of_leaves_other_ids_alone(odd: str) -> None:
    assert item_id_of(odd) == odd


async def test_unit_lines_of_every_price_group_map_to_their_item(plugin: ZalandoMarketplace, sim) -> None:
    order = sim.state.add_order(
        modified_at=T0,
        articles=[
            ("4063614512884", "AR1-Q11", Decimal("49.95"), 3),
            ("4063614512891", "AR2-Q11", Decimal("9.99"), 1),
        ],
    )
    first, second = order.items
    first.lines[1].price = Decimal("44.95")  # one unit at another price: a second order line of the item
    (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
    mapped = plugin.map_order(connection(), raw)
    assert [line.line_id for line in mapped.lines] == [first.item_id, f"{first.item_id}:1", second.item_id]
    assert unit_line_items(mapped) == {line.line_id: line.item_id for line in order.lines()}


async def test_map_order_product_identifier_ean(make_plugin: PluginFactory, sim) -> None:
    sim.state.add_order(modified_at=T0)
    plugin = make_plugin(product_identification_attribute="ean")
    await plugin.startup()
    (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
    line = plugin.map_order(connection(), raw).lines[0]
    assert line.ean == "4063614512884"
    assert line.sku == ""
    await plugin.shutdown()


async def test_pack_station_and_pickup_point_are_mapped(plugin: ZalandoMarketplace, sim) -> None:
    base = {
        "first_name": "Anna",
        "last_name": "Meyer",
        "zip_code": "10115",
        "city": "Berlin",
        "country_code": "DE",
    }
    pack = {
        **base,
        "address_line_1": "Packstation 123",
        "address_type": "PACK_STATION",
        "service_point_details": {"service_point_id": "123", "service_point_member_id": "987654321"},
    }
    pickup = {
        **base,
        "address_line_1": "Torstraße 1",
        "address_line_2": "Kiosk",
        "address_type": "PICKUP_POINT",
        "service_point_details": {"service_point_id": "DE4711", "service_point_name": "Kiosk am Markt"},
    }
    home = {**base, "address_line_1": "Lindenallee 5", "address_type": "HOME_ADDRESS"}
    sim.state.add_order(modified_at=T0, shipping_address=pack, billing_address=home)
    sim.state.add_order(modified_at=T0 + timedelta(seconds=1), shipping_address=pickup, billing_address=home)
    raws = await _fetch(plugin, T0 - timedelta(seconds=1), T0 + timedelta(seconds=1))
    a, b = (plugin.map_order(connection(), raw) for raw in raws)
    assert a.shipping_address.kind == "pack_station"
    assert a.shipping_address.pickup_point_id == "123"
    assert a.shipping_address.customer_number == "987654321"
    assert b.shipping_address.kind == "pickup_point"
    assert b.shipping_address.pickup_point_id == "DE4711"
    assert b.shipping_address.pickup_point_name == "Kiosk am Markt"
    assert b.shipping_address.address_line2 == "Kiosk"
    assert a.billing_address.kind == "street"


async def test_fbz_orders_and_store_inventory(make_plugin: PluginFactory, sim) -> None:
    sim.state.add_order(modified_at=T0, order_type="ZalandoFulfilled")
    for flag, expected in ((False, False), (True, True)):
        plugin = make_plugin(order_types=["FBZ"], update_stock_for_fbz=flag)
        await plugin.startup()
        (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
        mapped = plugin.map_order(connection(), raw)
        assert mapped.order_type == "FBZ"
        assert mapped.update_store_inventory is expected
        with pytest.raises(PermanentOrderError, match="FBZ"):
            plugin.map_order(connection(("FBR",)), raw)
        await plugin.shutdown()


async def test_canceled_lines_are_not_imported(plugin: ZalandoMarketplace, sim) -> None:
    order = sim.state.add_order(modified_at=T0, articles=[("4063614512884", "AR1", Decimal("10.00"), 2)])
    order.items[0].lines[0].status = "canceled"
    (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
    assert plugin.map_order(connection(), raw).lines[0].quantity == 1
    order.items[0].lines[1].status = "canceled"
    (raw,) = await _fetch(plugin, T0 - timedelta(seconds=1), T0)
    with pytest.raises(PermanentOrderError, match="canceled"):
        plugin.map_order(connection(), raw)


async def test_generated_orders_all_map(make_plugin: PluginFactory, sim) -> None:
    sim.state.generate_orders(40, start=T0, order_types=("PartnerFulfilled", "ZalandoFulfilled"))
    plugin = make_plugin(order_types=["FBR", "FBZ"], page_size=1000)
    await plugin.startup()
    raws = await _fetch(plugin, T0 - timedelta(seconds=1), T0 + timedelta(hours=1))
    mapped = [plugin.map_order(connection(), raw) for raw in raws]
    assert len(mapped) == 40
    assert {m.order_type for m in mapped} == {"FBR", "FBZ"}
    assert {m.shipping_address.kind for m in mapped} == {"street", "pack_station", "pickup_point"}
    await plugin.shutdown()


def test_generator_is_deterministic() -> None:
    from ordersyncd_plugins.marketplace_zalando.simulator import create_app

    first = create_app(seed=3).state.generate_orders(5, start=T0)
    second = create_app(seed=3).state.generate_orders(5, start=T0)
    assert [(o.order_id, o.order_number, len(o.lines())) for o in first] == [
        (o.order_id, o.order_number, len(o.lines())) for o in second
    ]
