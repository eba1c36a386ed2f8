"""Fixtures for the Shopify store plugin tests: a simulated shop and a started plugin wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ordersyncd.plugin import (
    ConnectionInfo,
    Order,
    PluginContext,
)
from ordersyncd.testing import asgi_context, sample_address, sample_order
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
    return asgi_context(app, tmp_path, name="shop", kind="store")


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


address = sample_address


def make_order(*args: Any, **kwargs: Any) -> Order:
    """:func:`ordersyncd.testing.sample_order`, created at a fixed moment."""
    kwargs.setdefault("created_at", datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    return sample_order(*args, **kwargs)
