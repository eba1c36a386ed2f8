"""Fixtures: the idealo simulator in-process on a fake clock, and plugins wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordersyncd.plugin import ConnectionInfo, PluginContext
from ordersyncd_plugins.marketplace_idealo import IdealoMarketplace
from ordersyncd_plugins.marketplace_idealo.client import token_cache
from ordersyncd_plugins.marketplace_idealo.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    OFFERS_CLIENT_ID,
    OFFERS_CLIENT_SECRET,
    IdealoSimulator,
    create_app,
)

BASE_URL = "http://127.0.0.1:9"


class FakeClock:
    """Monotonic seconds that only move when someone sleeps or advances them; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    token_cache.clear()
    yield
    token_cache.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> IdealoSimulator:
    return create_app(seed=7, monotonic=clock.monotonic)


def connection(**options: Any) -> ConnectionInfo:
    return ConnectionInfo(name="idealo-shop", account="idealo", store="shop", options=options)


PluginFactory = Callable[..., IdealoMarketplace]


@pytest.fixture
def make_plugin(sim: IdealoSimulator, clock: FakeClock, tmp_path: Path) -> PluginFactory:
    def factory(**overrides: Any) -> IdealoMarketplace:
        config: dict[str, Any] = {
            "plugin": "idealo",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "mode": "sandbox",
            "base_url": BASE_URL,
            "offers_client_id": OFFERS_CLIENT_ID,
            "offers_client_secret": OFFERS_CLIENT_SECRET,
            "offers_base_url": BASE_URL,
            "offers_auth_url": BASE_URL,
            "tax": {"rates": {"DE": {"standard": 19, "reduced": 7}, "AT": {"standard": 20}}},
        }
        config.update(overrides)
        config = {k: v for k, v in config.items() if v is not None}
        context = PluginContext(
            name="idealo",
            kind="marketplace",
            state_dir=tmp_path,
            http_client_factory=lambda system, **kw: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=sim), **kw
            ),
        )
        plugin = IdealoMarketplace(name="idealo", config=config, context=context)
        problems = plugin.validate_config()
        assert problems == [], problems
        plugin.sleep = clock.sleep
        plugin.clock = clock.monotonic
        return plugin

    return factory


@pytest.fixture
async def plugin(make_plugin: PluginFactory) -> AsyncIterator[IdealoMarketplace]:
    started = make_plugin()
    await started.startup()
    yield started
    await started.shutdown()
