"""Creating orders in WooCommerce and finding them again after a crash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest

from ordersyncd.plugin import ConnectionInfo, PermanentOrderError, PluginContext, TransientError
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.store_woocommerce import WooCommerceStore
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator

from .conftest import StoreFactory, base_config, make_order, meta

pytestmark = pytest.mark.anyio


async def test_create_order_maps_the_order(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    order = make_order(lines=(("SKU-1", 2, "49.95"), ("SKU-2", 1, "19.95")))
    ref = await store.create_order(connection, order)

    created = sim.state.order_json(int(ref.store_order_id))
    assert ref.number == created["number"]
    assert created["status"] == "processing"
    assert created["date_paid_gmt"] is not None
    assert (created["payment_method"], created["payment_method_title"]) == ("zalando", "Zalando")
    assert created["transaction_id"] == "PAY-42"
    stamped = meta(created)
    assert stamped["ordersyncd_order_key"] == "zalando-shop:10401234567"
    assert stamped["ordersyncd_connection"] == "zalando-shop"
    assert stamped["marketplace_order_number"] == "N-10401234567"
    assert stamped["marketplace"] == "zalando"
    items = {item["sku"]: item for item in created["line_items"]}
    assert items["SKU-1"]["quantity"] == 2 and Decimal(items["SKU-1"]["total"]) == Decimal("99.90")
    assert items["SKU-1"]["product_id"] == sim.state.product_by_sku("SKU-1").id
    assert meta(items["SKU-2"]) == {"ordersyncd_line_id": "L2"}
    assert created["billing"]["email"] == "buyer@example.org"
    assert created["shipping"]["address_1"] == "Heidestraße 17"
    assert created["shipping"]["postcode"] == "51147" and created["shipping"]["country"] == "DE"
    assert Decimal(created["shipping_lines"][0]["total"]) == Decimal("4.95")
    # no tax configured anywhere: the store's total is the marketplace's gross total
    assert Decimal(created["total"]) == order.total.amount
    # WooCommerce reduced stock
    assert sim.state.product_by_sku("SKU-1").stock_quantity == 8
    assert sim.state.product_by_sku("SKU-2").stock_quantity == 4


async def test_gross_prices_are_sent_net_where_a_rate_is_known_and_the_store_adds_the_tax_back(
    make_store: StoreFactory, connection: ConnectionInfo
):
    from ordersyncd_plugins.store_woocommerce.simulator import create_app

    from .conftest import KEY, SECRET

    sim = create_app(consumer_key=KEY, consumer_secret=SECRET, tax_rates={"DE": Decimal("19")})
    sim.state.add_product("SKU-1", stock=3)
    store = await make_store(sim, tax_rates={"DE": "19"})
    order = make_order(lines=(("SKU-1", 1, "119.00"),))
    ref = await store.create_order(connection, order)
    created = sim.state.order_json(int(ref.store_order_id))
    assert Decimal(created["line_items"][0]["total"]) == Decimal("100.0000")
    assert Decimal(created["total"]) == order.total.amount  # 119.00 + 4.95 gross


async def test_stock_is_not_reduced_when_the_connection_says_not_to(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    ref = await store.create_order(connection, make_order(update_store_inventory=False))
    created = sim.state.order_json(int(ref.store_order_id))
    assert created["status"] == "processing"
    assert "_order_stock_reduced" not in meta(created)  # an internal property, not visible meta
    assert sim.state.product_by_sku("SKU-1").stock_quantity == 10


async def test_variation_is_resolved_by_sku(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    parent = sim.state.add_variable("Shirt", [{"sku": "SHIRT-S", "stock": 4}, {"sku": "SHIRT-M", "stock": 6}])
    ref = await store.create_order(connection, make_order(lines=(("SHIRT-M", 1, "25.00"),)))
    item = sim.state.order_json(int(ref.store_order_id))["line_items"][0]
    assert item["product_id"] == parent.id
    assert item["variation_id"] == parent.variation_ids[1]
    assert sim.state.products[parent.variation_ids[1]].stock_quantity == 5


async def test_ean_identification_via_global_unique_id(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    store = await make_store(sim, product_identifier="ean")
    ref = await store.create_order(connection, make_order(lines=(("4006381333948", 1, "19.95"),), ean=True))
    item = sim.state.order_json(int(ref.store_order_id))["line_items"][0]
    assert item["sku"] == "SKU-2"


async def test_ean_of_a_variation_is_found_through_the_catalogue_index(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    parent = sim.state.add_variable("Shoe", [{"sku": "SHOE-42", "ean": "4012345678901"}])
    store = await make_store(sim, product_identifier="ean")
    ref = await store.create_order(connection, make_order(lines=(("4012345678901", 1, "80"),), ean=True))
    item = sim.state.order_json(int(ref.store_order_id))["line_items"][0]
    assert item["variation_id"] == parent.variation_ids[0]


async def test_ean_in_a_configured_meta_key(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    sim.state.add_product("SKU-EAN", meta={"_alg_ean": "4000000000017"})
    store = await make_store(sim, product_identifier="ean", ean_meta_key="_alg_ean")
    ref = await store.create_order(connection, make_order(lines=(("4000000000017", 1, "5"),), ean=True))
    assert sim.state.order_json(int(ref.store_order_id))["line_items"][0]["sku"] == "SKU-EAN"


async def test_unknown_sku_is_permanent_and_creates_nothing(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    with pytest.raises(PermanentOrderError, match="SKU-404"):
        await store.create_order(connection, make_order(lines=(("SKU-404", 1, "1"),)))
    assert sim.state.orders == {}


async def test_invalid_product_answer_is_permanent_and_drops_the_cache(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    await store.create_order(connection, make_order("A"))  # SKU-1 resolved and cached
    del sim.state.products[sim.state.product_by_sku("SKU-1").id]
    with pytest.raises(PermanentOrderError, match="woocommerce_rest_invalid_product_id"):
        await store.create_order(connection, make_order("B"))
    with pytest.raises(PermanentOrderError, match="unknown product"):
        await store.create_order(connection, make_order("C"))
    assert len(sim.state.orders) == 1


async def test_server_errors_are_transient(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    await store.create_order(connection, make_order("warm-up"))  # products resolved
    sim.faults.fail_next = 1
    with pytest.raises(TransientError, match="503"):
        await store.create_order(connection, make_order("X"))
    assert len(sim.state.orders) == 1


async def test_timeout_after_the_store_created_the_order_is_transient_and_find_order_finds_it(
    sim: WooCommerceSimulator, connection: ConnectionInfo, tmp_path: Path
):
    """Over a real socket (timeouts need one): the answer is lost, the order exists."""
    with serve_asgi(sim) as served:
        context = PluginContext(
            name="shop",
            kind="store",
            state_dir=tmp_path,
            http_client_factory=lambda system, **kw: httpx.AsyncClient(**kw),
        )
        store = WooCommerceStore(
            name="shop", config=base_config(store_url=served.base_url, timeout=0.3), context=context
        )
        assert store.validate_config() == []
        await store.startup()
        try:
            order = make_order("late")
            await store.resolver.resolve(order.lines[0])
            sim.faults.response_latency = 1.0
            with pytest.raises(TransientError, match="timed out"):
                await store.create_order(connection, order)
            sim.faults.response_latency = 0.0
            await anyio.sleep(1.0)  # the simulator finishes the request the client gave up on
            assert len(sim.state.orders) == 1  # the store has it, the core does not know
            found = await store.find_order(connection, order)
        finally:
            await store.shutdown()
    created = next(iter(sim.state.orders.values()))
    assert found is not None and found.store_order_id == str(created["id"])


async def test_find_order_scans_only_orders_created_since_the_attempt(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    for i in range(3):
        await store.create_order(connection, make_order(f"other-{i}"))
    order = make_order("wanted")
    ref = await store.create_order(connection, order)
    first = await store.attempts.first("zalando-shop:wanted")
    assert first is not None
    sim.recorder.exchanges.clear()
    found = await store.find_order(connection, order)
    assert found == ref
    scans = sim.recorder.calls("GET", "/wp-json/wc/v3/orders")
    assert len(scans) == 1
    query = dict(scans[0].query)
    assert query["dates_are_gmt"] == "true" and query["per_page"] == "100"
    assert query["after"] <= first.strftime("%Y-%m-%dT%H:%M:%S")


async def test_find_order_is_none_for_unknown_order_and_other_connection(
    store: WooCommerceStore, connection: ConnectionInfo
):
    order = make_order("mine")
    await store.create_order(connection, order)
    other = ConnectionInfo(name="idealo-shop", account="idealo", store="shop")
    assert await store.find_order(other, order) is None
    assert await store.find_order(connection, make_order("never-created")) is None


async def test_find_order_follows_pages_and_is_unsure_when_cut_off(
    make_store: StoreFactory, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    store = await make_store(sim, find_order_max_pages=1)
    wanted = make_order("wanted")
    await store.create_order(connection, wanted)
    for _ in range(100):
        sim.state.create_order({"line_items": [{"sku": "SKU-2", "quantity": 1}], "status": "pending"})
    # found on page 1 (oldest first)
    assert await store.find_order(connection, wanted) is not None
    with pytest.raises(TransientError, match="find_order_max_pages"):
        await store.find_order(connection, make_order("missing"))
    roomy = await make_store(sim, find_order_max_pages=5)
    assert await roomy.find_order(connection, make_order("missing")) is None
