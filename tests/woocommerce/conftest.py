"""Fixtures for the WooCommerce store plugin tests: a simulated store and a started plugin wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordersyncd.plugin import (
    Address,
    ConnectionInfo,
    Customer,
    Money,
    Order,
    OrderLine,
    Payment,
    PluginContext,
)
from ordersyncd_plugins.store_woocommerce import WooCommerceStore
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator, create_app

#: Plain HTTP on loopback: the plugin signs with OAuth 1.0a.
BASE_URL = "http://127.0.0.1:8082"
KEY = "ck_test_0123456789abcdef0123456789abcdef"
SECRET = "cs_test_fedcba9876543210fedcba9876543210"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> WooCommerceSimulator:
    app = create_app(consumer_key=KEY, consumer_secret=SECRET)
    app.state.add_product("SKU-1", ean="4006381333931", stock=10, price="49.95")
    app.state.add_product("SKU-2", ean="4006381333948", stock=5, price="19.95")
    return app


def context_for(app: Any, tmp_path: Path) -> PluginContext:
    def factory(system: str, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), **kwargs)

    return PluginContext(name="shop", kind="store", state_dir=tmp_path, http_client_factory=factory)


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "plugin": "woocommerce",
        "store_url": BASE_URL,
        "consumer_key": KEY,
        "consumer_secret": SECRET,
    }
    config.update(overrides)
    return config


StoreFactory = Callable[..., Any]


@pytest.fixture
async def make_store(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """``await make_store(app, **config overrides)`` → a validated, started :class:`WooCommerceStore`."""
    started: list[WooCommerceStore] = []

    async def build(app: Any, **overrides: Any) -> WooCommerceStore:
        store = WooCommerceStore(
            name="shop", config=base_config(**overrides), context=context_for(app, tmp_path)
        )
        assert store.validate_config() == []
        await store.startup()
        started.append(store)
        return store

    yield build
    for store in started:
        await store.shutdown()


@pytest.fixture
async def store(sim: WooCommerceSimulator, make_store: StoreFactory) -> WooCommerceStore:
    result: WooCommerceStore = await make_store(sim)
    return result


@pytest.fixture
def connection() -> ConnectionInfo:
    return ConnectionInfo(name="zalando-shop", account="zalando-de", store="shop")


def address(country: str = "DE", **overrides: Any) -> Address:
    values: dict[str, Any] = {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "street": "Heidestraße",
        "house_number": "17",
        "postal_code": "51147",
        "city": "Köln",
        "country_code": country,
    }
    values.update(overrides)
    return Address(**values)


def make_order(
    order_id: str = "10401234567",
    lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "49.95"),),
    *,
    tax_rate: Decimal | None = None,
    country: str = "DE",
    update_store_inventory: bool = True,
    marketplace: str = "zalando",
    ean: bool = False,
    created_at: datetime | None = None,
) -> Order:
    """An order with ``(sku or ean, quantity, unit price)`` lines, line ids L1, L2, …"""
    order_lines = tuple(
        OrderLine(
            line_id=f"L{i + 1}",
            **({"ean": ident} if ean else {"sku": ident}),
            title=f"Product {ident}",
            quantity=qty,
            unit_price=Money(amount=Decimal(price), currency="EUR"),
            tax_rate=tax_rate,
        )
        for i, (ident, qty, price) in enumerate(lines)
    )
    return Order(
        marketplace=marketplace,
        order_id=order_id,
        number=f"N-{order_id}",
        order_type="FBR",
        created_at=created_at or datetime.now(UTC),
        customer=Customer(email="buyer@example.org", phone="+49 221 1234567"),
        billing_address=address(country),
        shipping_address=address(country),
        lines=order_lines,
        shipping_cost=Money(amount=Decimal("4.95"), currency="EUR"),
        payment=Payment(method="invoice", transaction_id="PAY-42"),
        update_store_inventory=update_store_inventory,
    )


def meta(node: dict[str, Any]) -> dict[str, Any]:
    """``meta_data`` of a WooCommerce object as a dict."""
    return {entry["key"]: entry["value"] for entry in node.get("meta_data") or ()}
