"""Settings validation, startup's merchant check, Get Available Merchants, tokens."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from ordersyncd.plugin import AuthenticationError, ConnectionInfo, PluginContext
from ordersyncd_plugins.marketplace_zalando import ZalandoMarketplace
from ordersyncd_plugins.marketplace_zalando.settings import ZalandoSettings
from ordersyncd_plugins.marketplace_zalando.simulator import MERCHANT_A, MERCHANT_B, SALES_CHANNELS

from .conftest import FakeClock, PluginFactory, connection

pytestmark = pytest.mark.anyio


def _problems(config: dict[str, object], tmp_path: Path) -> dict[str, str]:
    context = PluginContext(
        name="zal",
        kind="marketplace",
        state_dir=tmp_path,
        http_client_factory=lambda system, **kw: httpx.AsyncClient(),
    )
    plugin = ZalandoMarketplace(name="zal", config=config, context=context)
    return {p.path: p.message for p in plugin.validate_config()}


BASE = {"plugin": "zalando", "client_id": "id", "client_secret": "s3cr3t-value", "mode": "production"}


def test_minimal_config_is_valid_and_defaults_are_safe(tmp_path: Path) -> None:
    assert _problems(BASE, tmp_path) == {}
    context = PluginContext(
        name="zal",
        kind="marketplace",
        state_dir=tmp_path,
        http_client_factory=lambda system, **kw: httpx.AsyncClient(),
    )
    plugin = ZalandoMarketplace(name="zal", config=BASE, context=context)
    plugin.validate_config()
    settings = plugin.settings
    assert settings.api_base_url == "https://api.merchants.zalando.com"
    assert settings.order_types == ("FBR",)
    assert settings.update_stock_for_fbz is False
    assert settings.return_reason_code == 0
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("override", "path", "fragment"),
    [
        ({"mode": "live"}, "mode", "sandbox"),
        ({"merchant_id": "not-a-uuid"}, "merchant_id", "UUID"),
        ({"sales_channels": ["de"]}, "sales_channels", "UUID"),
        ({"order_types": ["FBR", "XYZ"]}, "order_types.1", "FBR"),
        ({"order_types": []}, "order_types", "at least 1"),
        ({"default_return_reason": "BORED"}, "default_return_reason", "SIZE_BIG"),
        ({"product_identification_attribute": "gtin"}, "product_identification_attribute", "sku"),
        ({"base_url": "http://api.example.com"}, "base_url", "https"),
        ({"shipping_gap_seconds": -1}, "shipping_gap_seconds", "greater than or equal"),
        ({"zss": True, "order_types": ["FBZ"]}, "zss", "FBR"),
        ({"surprise": 1}, "surprise", "unknown key"),
        ({"patch_requests_per_minute": 0}, "patch_requests_per_minute", "greater than or equal to 1"),
        ({"order_list_requests_per_minute": "many"}, "order_list_requests_per_minute", "integer"),
    ],
)
def test_invalid_settings_name_key_and_reason(
    tmp_path: Path, override: dict[str, object], path: str, fragment: str
) -> None:
    problems = _problems({**BASE, **override}, tmp_path)
    assert path in problems, problems
    assert fragment in problems[path]


@pytest.mark.parametrize(
    ("override", "quotas"),
    [
        ({"mode": "sandbox"}, {"patch": 40}),
        ({"mode": "production"}, {"patch": 2000}),
        (
            {"mode": "production", "patch_requests_per_minute": 500, "order_list_requests_per_minute": 20},
            {"patch": 500, "orders_list": 20},
        ),
    ],
)
def test_patch_pacing_follows_the_mode_and_list_pacing_is_opt_in(
    tmp_path: Path, override: dict[str, object], quotas: dict[str, int]
) -> None:
    context = PluginContext(
        name="zal",
        kind="marketplace",
        state_dir=tmp_path,
        http_client_factory=lambda system, **kw: httpx.AsyncClient(),
    )
    plugin = ZalandoMarketplace(name="zal", config={**BASE, **override}, context=context)
    assert plugin.validate_config() == []
    assert plugin.settings.request_quotas == quotas


def test_every_setting_is_in_the_plugin_docs_table() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "zalando.md"
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc.read_text(encoding="utf-8"), re.M))
    assert set(ZalandoSettings.model_fields) - documented == set()


def test_missing_client_secret_is_reported(tmp_path: Path) -> None:
    config = {k: v for k, v in BASE.items() if k != "client_secret"}
    assert _problems(config, tmp_path) == {"client_secret": "required key is missing"}


def test_return_reason_accepts_names_and_codes(tmp_path: Path) -> None:
    assert _problems({**BASE, "default_return_reason": "size_small"}, tmp_path) == {}
    assert _problems({**BASE, "default_return_reason": 10}, tmp_path) == {}
    assert "default_return_reason" in _problems({**BASE, "default_return_reason": 7}, tmp_path)


def test_validate_connection_checks_order_types_and_merchant(make_plugin: PluginFactory) -> None:
    plugin = make_plugin()
    assert plugin.validate_connection(connection(("FBR", "FBZ"))) == []
    bad = {p.path: p.message for p in plugin.validate_connection(connection(("FBR", "ZFS")))}
    assert "order_types[1]" in bad
    assert "ZFS" in bad["order_types[1]"]
    twice = plugin.validate_connection(connection(("FBZ", "FBZ")))
    assert [p.path for p in twice] == ["order_types"]
    no_merchant = make_plugin(merchant_id=None)
    problems = no_merchant.validate_connection(connection())
    assert problems
    assert "--select" in problems[0].message


def test_connection_order_types_override_account_default(make_plugin: PluginFactory) -> None:
    plugin = make_plugin(order_types=["FBR"])
    assert plugin.order_types(connection()) == ("FBR",)
    assert plugin.order_types(ConnectionInfo(name="c", account="a", store="s", order_types=("FBZ",))) == (
        "FBZ",
    )


async def test_startup_accepts_a_merchant_the_credentials_may_act_for(make_plugin: PluginFactory) -> None:
    plugin = make_plugin(merchant_id=MERCHANT_B)
    await plugin.startup()
    assert "merchants" in await plugin.check_credentials()
    await plugin.shutdown()


async def test_startup_refuses_a_foreign_merchant_id(make_plugin: PluginFactory) -> None:
    foreign = "11111111-2222-4333-8444-555555555555"
    plugin = make_plugin(merchant_id=foreign)
    with pytest.raises(AuthenticationError, match=foreign):
        await plugin.startup()
    await plugin.shutdown()


async def test_wrong_secret_is_an_authentication_error_without_the_secret(make_plugin: PluginFactory) -> None:
    plugin = make_plugin(client_secret="wrong-secret-xyz")
    with pytest.raises(AuthenticationError) as caught:
        await plugin.startup()
    assert "wrong-secret-xyz" not in str(caught.value)
    await plugin.shutdown()


async def test_list_merchants_without_startup(make_plugin: PluginFactory) -> None:
    plugin = make_plugin(merchant_id=None)
    merchants = {m.merchant_id: m for m in await plugin.list_merchants()}
    assert set(merchants) == {MERCHANT_A, MERCHANT_B}
    a = merchants[MERCHANT_A]
    assert a.live is True
    assert set(a.sales_channels) == {SALES_CHANNELS["de"], SALES_CHANNELS["fr"]}  # ch is not live
    assert "not live" in a.name
    assert plugin.merchant_settings(a) == {
        "merchant_id": MERCHANT_A,
        "sales_channels": list(a.sales_channels),
    }


async def test_token_is_cached_and_renewed_before_expiry(
    make_plugin: PluginFactory, sim, clock: FakeClock
) -> None:
    sim.state.token_lifetime = 600
    plugin = make_plugin()
    await plugin.startup()
    await plugin.list_merchants()
    assert sim.state.token_requests == 1
    clock.now += 500  # still in the first 90 % of the token's life: reused
    await plugin.list_merchants()
    assert sim.state.token_requests == 1
    clock.now += 45  # now in the last 10 %: renewed before it runs out (600 s)
    await plugin.list_merchants()
    assert sim.state.token_requests == 2
    tokens = [e for e in sim.recorder.exchanges if e.path != "/auth/token"]
    assert all(e.status == 200 for e in tokens)
    await plugin.shutdown()


async def test_token_expiry_mid_run_renews_once(plugin: ZalandoMarketplace, sim) -> None:
    before = sim.state.token_requests
    sim.state.expire_tokens()
    merchants = await plugin.list_merchants()
    assert len(merchants) == 2
    assert sim.state.token_requests == before + 1
    assert [e.status for e in sim.recorder.exchanges if e.status == 401] == [401]


async def test_every_request_carries_a_flow_id(plugin: ZalandoMarketplace, sim) -> None:
    await plugin.list_merchants()
    flow_ids = [e.headers.get("x-flow-id") for e in sim.recorder.exchanges]
    assert all(flow_ids)
    assert len(set(flow_ids)) == len(flow_ids)


async def test_secret_and_token_never_reach_the_logs(make_plugin: PluginFactory, sim) -> None:
    from structlog.testing import capture_logs

    sim.state.generate_orders(2)
    with capture_logs() as logs:
        plugin = make_plugin()
        await plugin.startup()
        sim.state.expire_tokens()
        sim.state.throttle_next(1, retry_after=0)
        await plugin.list_merchants()
        await plugin.shutdown()
    tokens = list(sim.state.tokens)
    text = repr(logs)
    assert logs  # requests are logged (with their flow ids)
    assert all("flow_id" in entry for entry in logs if entry["event"] == "zalando request")
    assert "sim-secret" not in text
    assert tokens
    assert not any(token in text for token in tokens)
    assert "Bearer" not in text
