"""create_order / find_order against the simulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ordersyncd.plugin import (
    AuthenticationError,
    ConnectionInfo,
    PermanentOrderError,
    PluginContext,
    TransientError,
)
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.store_shopify import ShopifyStore
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, resolvers

from .conftest import StoreFactory, base_config, make_order

pytestmark = pytest.mark.anyio


async def test_create_order_maps_the_order(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = make_order(lines=[("SKU-1", 2, "49.95"), ("SKU-2", 1, "19.95")])
    ref = await store.create_order(connection, order)

    [created] = sim.orders()
    assert ref.store_order_id == f"gid://shopify/Order/{created.id}"
    assert ref.number == created.name
    assert created.source_identifier == "zalando-shop:10401234567"
    assert {"zalando", "ordersyncd:zalando-shop"} <= set(created.tags)
    attributes = dict(created.custom_attributes)
    assert attributes["Marketplace order number"] == "N-10401234567"
    assert attributes["Payment transaction id"] == "PAY-42"
    assert created.taxes_included is True
    assert created.financial_status == "PAID"
    assert created.inventory_behaviour == "DECREMENT_IGNORING_POLICY"
    assert not created.send_receipt
    assert not created.send_fulfillment_receipt
    assert [(item.sku, item.quantity, item.price) for item in created.line_items] == [
        ("SKU-1", 2, Decimal("49.95")),
        ("SKU-2", 1, Decimal("19.95")),
    ]
    assert [item.properties for item in created.line_items] == [
        [("_ordersyncd_line_id", "L1")],
        [("_ordersyncd_line_id", "L2")],
    ]
    [shipping] = created.shipping_lines
    assert shipping["priceSet"]["shopMoney"] == {"amount": "4.95", "currencyCode": "EUR"}
    assert created.shipping_address is not None
    assert created.shipping_address["address1"] == "Heidestraße 17"
    assert created.shipping_address["countryCode"] == "DE"
    # inventory decremented at the location
    assert sim.shop.variant_by(sku="SKU-1").available == {next(iter(sim.shop.locations)): 8}
    assert sim.shop.variant_by(sku="SKU-2").available == {next(iter(sim.shop.locations)): 4}


async def test_country_rate_applies_when_the_marketplace_sends_no_tax(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    await store.create_order(connection, make_order(lines=[("SKU-1", 2, "59.50")], country="AT"))
    [created] = sim.orders()
    [tax] = created.line_items[0].tax_lines
    # gross 119.00 at 20 % contains 19.83 tax
    assert tax["rate"] == "0.2"
    assert tax["priceSet"]["shopMoney"]["amount"] == "19.83"
    assert created.shipping_lines[0]["taxLines"][0]["priceSet"]["shopMoney"]["amount"] == "0.83"


async def test_marketplace_tax_rate_wins_over_the_country_rate(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    await store.create_order(connection, make_order(lines=[("SKU-1", 1, "107.00")], tax_rate=Decimal(7)))
    [tax] = sim.orders()[0].line_items[0].tax_lines
    assert (tax["rate"], tax["priceSet"]["shopMoney"]["amount"]) == ("0.07", "7.00")


async def test_no_tax_line_without_any_rate(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    store = await make_store(sim, tax_rates={})
    await store.create_order(connection, make_order())
    assert sim.orders()[0].line_items[0].tax_lines == []


async def test_fbz_order_without_stock_update_bypasses_inventory(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    await store.create_order(connection, make_order(update_store_inventory=False))
    assert sim.orders()[0].inventory_behaviour == "BYPASS"
    assert sum(sim.shop.variant_by(sku="SKU-1").available.values()) == 10


async def test_customer_notification_setting_sends_receipts(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    store = await make_store(sim, notify_customer=True)
    await store.create_order(connection, make_order())
    assert sim.orders()[0].send_receipt


async def test_crash_before_recording_then_find_order_finds_it(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    order = make_order()
    first = await make_store(sim)
    created = await first.create_order(connection, order)
    await first.shutdown()  # the daemon dies before the journal records `created`

    restarted = await make_store(sim)
    found = await restarted.find_order(connection, order)
    assert found == created
    assert len(sim.orders()) == 1
    assert sim.shop.create_calls == 1


async def test_find_order_is_none_for_unknown_order_and_other_connection(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = make_order()
    assert await store.find_order(connection, order) is None
    await store.create_order(connection, order)
    other = ConnectionInfo(name="idealo-shop", account="idealo", store="shop")
    assert await store.find_order(other, order) is None


async def test_find_order_scans_recent_orders_when_search_misses(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_order()
    created = await store.create_order(connection, order)
    # the search index lags behind: a source_identifier search finds nothing yet
    original = resolvers._order_matches
    monkeypatch.setattr(
        resolvers, "_order_matches", lambda o, t: t.field != "source_identifier" and original(o, t)
    )
    assert await store._search_order("zalando-shop:10401234567") is None
    assert await store.find_order(connection, order) == created


async def test_unknown_sku_is_permanent_and_creates_nothing(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    with pytest.raises(PermanentOrderError, match="NOPE"):
        await store.create_order(connection, make_order(lines=[("SKU-1", 1, "1.00"), ("NOPE", 1, "1.00")]))
    assert sim.orders() == []


async def test_barcode_identification(
    sim: ShopifySimulator, make_store: StoreFactory, connection: ConnectionInfo
) -> None:
    store = await make_store(sim, product_identifier="barcode")
    await store.create_order(connection, make_order(lines=[("4006381333948", 1, "19.95")], ean=True))
    assert sim.orders()[0].line_items[0].variant_id == sim.shop.variant_by(sku="SKU-2").id
    with pytest.raises(PermanentOrderError, match="no EAN"):
        await store.create_order(connection, make_order("2", lines=[("SKU-1", 1, "1.00")]))


async def test_variant_lookups_are_cached_and_refreshed(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]

    def lookups() -> int:
        return sum(
            "VariantsByIdentifier" in (e.json() or {}).get("query", "") for e in sim.recorder.exchanges
        )

    await store.create_order(connection, make_order("1"))
    await store.create_order(connection, make_order("2"))
    assert lookups() == 1
    now[0] += store.settings.variant_cache_seconds + 1
    await store.create_order(connection, make_order("3"))
    assert lookups() == 2


async def test_user_errors_are_permanent(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    order = make_order()
    # the variant is deleted after it was cached: Shopify answers with a userError
    await store.create_order(connection, make_order("1"))
    sim.shop.variants.pop(sim.shop.variant_by(sku="SKU-1").id)
    with pytest.raises(PermanentOrderError, match=r"lineItems\.0\.variantId: Product variant does not exist"):
        await store.create_order(connection, order)


async def test_server_errors_and_timeouts_are_transient(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    sim.faults.fail_next = 1
    with pytest.raises(TransientError):
        await store.create_order(connection, make_order())
    sim.faults.garbage_rate = 1.0
    with pytest.raises(TransientError, match="malformed"):
        await store.create_order(connection, make_order())
    sim.faults.reset()
    assert (await store.create_order(connection, make_order())).number.startswith("#")


async def test_timeout_is_transient(
    sim: ShopifySimulator, tmp_path: Path, connection: ConnectionInfo
) -> None:
    sim.faults.timeout_rate = 1.0
    sim.faults.hang_seconds = 1.0
    with serve_asgi(sim) as served:
        context = PluginContext(
            name="shop",
            kind="store",
            state_dir=tmp_path,
            http_client_factory=lambda system, **kwargs: httpx.AsyncClient(**kwargs),
        )
        store = ShopifyStore(
            name="shop", config=base_config(base_url=served.base_url, timeout=0.2), context=context
        )
        assert store.validate_config() == []
        await store.startup()
        try:
            with pytest.raises(TransientError, match="timed out"):
                await store.create_order(connection, make_order())
        finally:
            await store.shutdown()


async def test_wrong_token_is_an_authentication_error(
    sim: ShopifySimulator, make_store: StoreFactory
) -> None:
    store = await make_store(sim, access_token="shpat_wrong_secret_value")
    with pytest.raises(AuthenticationError) as caught:
        await store.check_credentials()
    assert "shpat_wrong_secret_value" not in str(caught.value)


async def test_discount_and_pack_station_are_mapped(
    sim: ShopifySimulator, store: ShopifyStore, connection: ConnectionInfo
) -> None:
    from ordersyncd.plugin import Money

    from .conftest import address

    base = make_order()
    order = base.model_copy(
        update={
            "discount": Money(amount=Decimal("5.00"), currency="EUR"),
            "shipping_address": address(
                kind="pack_station", street="Packstation", pickup_point_id="123", customer_number="987654"
            ),
        }
    )
    await store.create_order(connection, type(base).model_validate(order.model_dump()))
    received = sim.orders()[0].received_input
    assert received["discountCode"]["itemFixedDiscountCode"]["amountSet"]["shopMoney"]["amount"] == "5.00"
    assert received["shippingAddress"]["address1"] == "Packstation 123"
    assert received["shippingAddress"]["address2"] == "Postnummer 987654"
    assert received["phone"] == "+492211234567"
