"""Fixtures: the zDirect simulator in-process on a shared fake clock, a plugin wired to it, and contract
validation of every exchange that reached the simulator's routes (checked when the test ends)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ordersyncd.plugin import ConnectionInfo, PluginContext
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.client import token_cache
from ordersyncd_plugins.marketplace_zalando.quota import quota_registry
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
    ZalandoSimulator,
    create_app,
)

from .contract import Contracts

BASE_URL = "http://127.0.0.1:9"


class FakeClock:
    """Monotonic seconds that only move when someone sleeps; records every sleep."""

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
    """Tokens and pacing windows are process-wide: every test starts without them."""
    token_cache.clear()
    quota_registry.clear()
    yield
    token_cache.clear()
    quota_registry.clear()


@pytest.fixture(scope="session")
def contracts() -> Contracts:
    return Contracts()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "invalid_requests: the test sends invalid requests on purpose; only responses are checked"
    )


@pytest.fixture
def sim(clock: FakeClock, contracts: Contracts, request: pytest.FixtureRequest) -> Iterator[ZalandoSimulator]:
    """The simulator; when the test ends every exchange is checked against the contracts."""
    app = create_app(seed=7, monotonic=clock.monotonic)
    yield app
    requests_too = request.node.get_closest_marker("invalid_requests") is None
    uncovered = set()
    for exchange in app.recorder.exchanges:
        covered = contracts.check_request(exchange) if requests_too else True
        contracts.check_response(exchange)
        if not covered:
            uncovered.add(exchange.path)
    assert all(p in ("/auth/token", "/auth/me") or p.startswith("/zss/shipping-documents") for p in uncovered)


def connection(order_types: tuple[str, ...] = ()) -> ConnectionInfo:
    return ConnectionInfo(name="zal-shop", account="zal", store="shop", order_types=order_types)


PluginFactory = Callable[..., ZalandoMarketplace]


@pytest.fixture
def make_plugin(sim: ZalandoSimulator, clock: FakeClock, tmp_path: Path) -> PluginFactory:
    def factory(**overrides: Any) -> ZalandoMarketplace:
        config: dict[str, Any] = {
            "plugin": "zalando",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "mode": "sandbox",
            "merchant_id": MERCHANT_A,
            "base_url": BASE_URL,
            "shipping_gap_seconds": 0,
        }
        config.update(overrides)
        config = {k: v for k, v in config.items() if v is not None}
        context = PluginContext(
            name="zal",
            kind="marketplace",
            state_dir=tmp_path,
            http_client_factory=lambda system, **kw: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=sim), **kw
            ),
        )
        plugin = ZalandoMarketplace(name="zal", config=config, context=context)
        problems = plugin.validate_config()
        assert problems == [], problems
        plugin.sleep = clock.sleep
        plugin.clock = clock.monotonic
        return plugin

    return factory


@pytest.fixture
async def plugin(make_plugin: PluginFactory) -> AsyncIterator[ZalandoMarketplace]:
    started = make_plugin()
    await started.startup()
    yield started
    await started.shutdown()
