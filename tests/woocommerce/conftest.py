"""Fixtures for the WooCommerce store plugin tests: a simulated store and a started plugin wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ordersyncd.plugin import (
    ConnectionInfo,
    PluginContext,
)
from ordersyncd.testing import asgi_context, sample_address, sample_order
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
    return asgi_context(app, tmp_path, name="shop", kind="store")


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


address = sample_address
make_order = sample_order


def meta(node: dict[str, Any]) -> dict[str, Any]:
    """``meta_data`` of a WooCommerce object as a dict."""
    return {entry["key"]: entry["value"] for entry in node.get("meta_data") or ()}
