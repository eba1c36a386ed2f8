"""Fixtures for the Shopify store plugin tests: a simulated shop and a started plugin wired to it."""

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
from ordersyncd_plugins.store_shopify import ShopifyStore
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator, create_app

BASE_URL = "http://127.0.0.1:8081"
TOKEN = "shpat_test_token_0123456789"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> ShopifySimulator:
    # a Shopify Plus sized bucket, so functional tests do not wait; throttling has its own tests
    app = create_app(access_tokens=(TOKEN,), bucket_size=2000, restore_rate=1000)
    app.shop.add_variant("SKU-1", "4006381333931", inventory=10, price="49.95")
    app.shop.add_variant("SKU-2", "4006381333948", inventory=5, price="19.95")
    return app


def context_for(app: Any, tmp_path: Path) -> PluginContext:
    def factory(system: str, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), **kwargs)

    return PluginContext(name="shop", kind="store", state_dir=tmp_path, http_client_factory=factory)


def base_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "plugin": "shopify",
        "shop_domain": "simulator.myshopify.com",
        "base_url": BASE_URL,
        "access_token": TOKEN,
        "tax_rates": {"DE": "19", "AT": "20"},
    }
    config.update(overrides)
    return config


StoreFactory = Callable[..., Any]


@pytest.fixture
async def make_store(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """``await make_store(app, **config overrides)`` → a validated, started :class:`ShopifyStore`."""
    started: list[ShopifyStore] = []

    async def build(app: Any, **overrides: Any) -> ShopifyStore:
        store = ShopifyStore(name="shop", config=base_config(**overrides), context=context_for(app, tmp_path))
        assert store.validate_config() == []
        await store.startup()
        started.append(store)
        return store

    yield build
    for store in started:
        await store.shutdown()


@pytest.fixture
async def store(sim: ShopifySimulator, make_store: StoreFactory) -> ShopifyStore:
    result: ShopifyStore = await make_store(sim)
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
        created_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        customer=Customer(email="buyer@example.org", phone="+49 221 1234567"),
        billing_address=address(country),
        shipping_address=address(country),
        lines=order_lines,
        shipping_cost=Money(amount=Decimal("4.95"), currency="EUR"),
        payment=Payment(method="invoice", transaction_id="PAY-42"),
        update_store_inventory=update_store_inventory,
    )
