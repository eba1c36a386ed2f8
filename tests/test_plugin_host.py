"""Plugin discovery through entry points, per-connection plugin managers, validation of plugin blocks."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from ordersyncd import plugin_host
from ordersyncd.config import load_config
from ordersyncd.http import client_factory
from ordersyncd.plugin import MarketplacePlugin, hookimpl
from ordersyncd.plugin_host import InstalledPlugin, build_plugins, discover_plugins
from ordersyncd.testing import serve_asgi
from ordersyncd_fakes.server import FakeWorld, create_app

from support import write_config

pytestmark = pytest.mark.anyio


def test_builtin_and_third_party_plugins_are_found_the_same_way():
    found = discover_plugins()
    assert found["zalando"].distribution == "ordersyncd"
    assert found["fake-marketplace"].distribution == "ordersyncd-fakeplugins"
    assert found["zalando"].target == "ordersyncd_plugins.marketplace_zalando:ZalandoMarketplace"
    assert found["fake-store"].kind == "store" and found["fake-marketplace"].kind == "marketplace"


def test_a_broken_plugin_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch):
    broken = [
        EntryPoint(name="broken", value="no_such_module_xyz:Plugin", group=plugin_host.ENTRY_POINT_GROUP),
        EntryPoint(name="notaplugin", value="pathlib:Path", group=plugin_host.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugin_host, "entry_points", lambda group: broken)
    found = discover_plugins()
    assert found["broken"].cls is None and "ModuleNotFoundError" in found["broken"].error
    assert (
        found["notaplugin"].cls is None
        and "not point at a MarketplacePlugin or StorePlugin" in found["notaplugin"].error
    )


async def test_each_connection_reaches_its_own_instances(tmp_path: Path):
    world_a, world_b = FakeWorld(), FakeWorld()
    world_a.generate(2, seed=1)
    world_b.generate(3, seed=2, start=100)
    with serve_asgi(create_app(world_a)) as a, serve_asgi(create_app(world_b)) as b:
        config_path = write_config(
            tmp_path,
            a.base_url,
            extra=f"""
[marketplaces.other]
plugin = "fake-marketplace"
base_url = "{b.base_url}"

[connections.second]
marketplace = "other"
store = "fakes"
""",
        )
        config = load_config(config_path)
        plugins = await build_plugins(config, discover_plugins(), client_factory(None), tmp_path)
        assert plugins.problems == []
        first, second = plugins.connections["fake"], plugins.connections["second"]
        assert first.store is second.store, "one store block serves both connections with one instance"
        assert first.marketplace is not second.marketplace
        # One call plan per pair of plugin classes, no pluggy manager per connection (see ordersyncd.dispatch).
        assert first.plan is not None and first.plan is second.plan
        assert first.pm is None and second.pm is None
        for conn in (first, second):
            await conn.marketplace.startup()
        try:
            from datetime import UTC, datetime

            got: dict[str, list[str]] = {}
            for name, conn in (("fake", first), ("second", second)):
                got[name] = [
                    raw.order_id
                    async for raw in plugin_host.iterate(
                        conn.call("fetch_orders", since=None, until=datetime.now(UTC))
                    )
                ]
        finally:
            for conn in (first, second):
                await conn.marketplace.shutdown()
    assert got == {"fake": sorted(world_a.market_orders), "second": sorted(world_b.market_orders)}


class OnlyStock(MarketplacePlugin[Any]):
    """A marketplace plugin that can push stock and nothing else."""

    @hookimpl
    def update_stock(self, connection: Any, levels: Any) -> list[Any]:
        return []


async def test_plugin_blocks_are_validated_with_file_and_key(tmp_path: Path):
    installed = dict(discover_plugins())
    installed["only-stock"] = InstalledPlugin("only-stock", "test", "0", "tests:OnlyStock", OnlyStock)
    config_path = write_config(
        tmp_path,
        "http://127.0.0.1:1",
        extra="""
[stores.wrongkind]
plugin = "fake-marketplace"
base_url = "https://example.org"

[marketplaces.stockonly]
plugin = "only-stock"

[connections.needs-orders]
marketplace = "stockonly"
store = "fakes"
level = "orders_and_stock"

[connections.fine]
marketplace = "stockonly"
store = "fakes"
level = "stock_only"
""",
    )
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-timeout.toml").write_text('[stores.fakes]\ntimeout = "soon"\n')
    config = load_config(config_path)
    plugins = await build_plugins(config, installed, client_factory(None), tmp_path)
    problems = {p.path: (p.message, p.file) for p in plugins.problems}
    assert problems["stores.wrongkind.plugin"][0] == (
        "plugin 'fake-marketplace' is a marketplace plugin, not a store plugin"
    )
    message, file = problems["connections.needs-orders.level"]
    assert (
        "cannot do level orders_and_stock: it lacks acknowledge_order, fetch_orders, map_order, on_shipped"
        in message
    )
    assert file == str(config_path)
    message, file = problems["stores.fakes.timeout"]
    assert "valid number" in message
    assert file == str(tmp_path / "conf.d" / "10-timeout.toml"), (
        "the problem names the drop-in that set the key"
    )
    assert "connections.fine.level" not in problems


def test_retry_after_seconds_reads_seconds_and_http_dates():
    from email.utils import format_datetime

    import httpx

    from ordersyncd.plugin import retry_after_seconds

    request = httpx.Request("GET", "https://example.org/x")
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"}, request=request)) == 7.0
    assert retry_after_seconds(httpx.Response(429, request=request)) == 1.0
    assert (
        retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"}, request=request), 3.0) == 3.0
    )
    from datetime import UTC, datetime, timedelta

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    wait = retry_after_seconds(httpx.Response(429, headers={"Retry-After": later}, request=request))
    assert 100 < wait <= 120
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": past}, request=request)) == 0.0


def test_string_table_problems():
    from ordersyncd.plugin import string_table_problems

    assert string_table_problems({}, "carrier_map") == []
    assert string_table_problems({"carrier_map": {"DHL": "DHL"}}, "carrier_map") == []
    (problem,) = string_table_problems({"carrier_map": {"DHL": 1}}, "carrier_map")
    assert (problem.path, problem.message) == ("options.carrier_map", "must be a table of strings")


async def test_one_marketplace_account_cannot_feed_two_connections_the_same_orders(tmp_path: Path):
    config_path = write_config(
        tmp_path,
        "http://127.0.0.1:1",
        extra="""
[stores.other-store]
plugin = "fake-store"
base_url = "http://127.0.0.1:2"

[connections.twice]
marketplace = "fakem"
store = "fakes"

[connections.fbz-elsewhere]
marketplace = "fakem"
store = "other-store"
level = "stock_only"
""",
    )
    config = load_config(config_path)
    plugins = await build_plugins(config, discover_plugins(), client_factory(None), tmp_path)
    problems = {p.path: p.message for p in plugins.problems}
    assert "every order would be created twice" in problems["connections.twice.marketplace"]
    assert "'fake' and 'twice'" in problems["connections.twice.marketplace"]
    assert (
        "push stock of different stores ('fakes', 'other-store')"
        in problems["connections.fbz-elsewhere.store"]
    )
    # Different order types on the same account and store are fine.
    config_path.write_text(
        config_path.read_text()
        .replace(
            '[connections.twice]\nmarketplace = "fakem"',
            '[connections.twice]\norder_types = ["B"]\nmarketplace = "fakem"',
        )
        .replace(
            '[connections.fake]\nmarketplace = "fakem"',
            '[connections.fake]\norder_types = ["A"]\nmarketplace = "fakem"',
        )
        .replace('level = "stock_only"\n', 'level = "stock_only"\nactive = false\n')
    )
    plugins = await build_plugins(
        load_config(config_path), discover_plugins(), client_factory(None), tmp_path
    )
    assert plugins.problems == []


def test_token_cache_renews_early_and_drops_only_the_refused_token():
    from ordersyncd.plugin import TokenCache

    cache = TokenCache(max_early=60)
    key = ("client", "https://auth.example.org/token")
    token = cache.put(key, "t1", expires_in=3600, now=1000.0, shop_id="42")
    assert (token.renew_at, token.extra) == (1000.0 + 3600 - 60, {"shop_id": "42"})
    assert cache.get(key, 1000.0 + 3539) == token
    assert cache.get(key, 1000.0 + 3540) is None, "due for renewal 60 s before expiry"
    short = cache.put(key, "t2", expires_in=100, now=0.0)
    assert short.renew_at == 90.0, "10 % of a short life"
    cache.drop(key, "t1")  # an older token refused by another request: the new one stays
    assert cache.get(key, 0.0) == short
    cache.drop(key, "t2")
    assert cache.get(key, 0.0) is None
