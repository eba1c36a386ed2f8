"""validate_config / validate_connection of the Shopify store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ordersyncd.plugin import ConnectionInfo, Secret
from ordersyncd_plugins.store_shopify import ShopifyStore

from .conftest import base_config, context_for


def problems(tmp_path: Path, **overrides: Any) -> dict[str, str]:
    config = base_config(**overrides)
    for key in [k for k, v in overrides.items() if v is None]:
        del config[key]
    store = ShopifyStore(name="shop", config=config, context=context_for(None, tmp_path))
    return {problem.path: problem.message for problem in store.validate_config()}


def test_valid_config(tmp_path: Path) -> None:
    store = ShopifyStore(name="shop", config=base_config(), context=context_for(None, tmp_path))
    assert store.validate_config() == []
    settings = store.settings
    assert settings.api_version == "2026-10"
    assert settings.product_identifier == "sku"
    assert settings.taxes_included is True
    assert settings.notify_customer is False
    assert isinstance(settings.access_token, Secret)
    assert settings.graphql_path == "/admin/api/2026-10/graphql.json"


def test_secret_references_resolved_by_the_core_are_accepted(tmp_path: Path) -> None:
    assert problems(tmp_path, access_token=Secret("shpat_x")) == {}


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"shop_domain": "acme.com"}, "shop_domain", "myshopify.com"),
        ({"base_url": "http://shop.example.org"}, "base_url", "https"),
        ({"api_version": "2026-11"}, "api_version", "2026-10"),
        ({"access_token": None}, "access_token", "missing"),
        ({"client_id": "abc"}, "access_token", "not both"),
        ({"access_token": None, "client_id": "abc"}, "client_secret", "client_secret"),
        ({"tax_rates": {"Germany": 19}}, "tax_rates", "country"),
        ({"location_ids": ["warehouse"]}, "location_ids", "location id"),
        ({"product_identifier": "ean"}, "product_identifier", ""),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_invalid_config(tmp_path: Path, overrides: dict[str, Any], path: str, fragment: str) -> None:
    found = problems(tmp_path, **overrides)
    assert path in found, found
    assert fragment in found[path]


def test_loopback_http_base_url_is_accepted_for_simulators(tmp_path: Path) -> None:
    assert problems(tmp_path, base_url="http://127.0.0.1:9000") == {}


def test_connection_carrier_map_must_be_a_string_table(tmp_path: Path) -> None:
    store = ShopifyStore(name="shop", config=base_config(), context=context_for(None, tmp_path))
    good = ConnectionInfo(name="c", account="a", store="shop", options={"carrier_map": {"DHL": "DHL_DE"}})
    bad = ConnectionInfo(name="c", account="a", store="shop", options={"carrier_map": {"DHL": 1}})
    assert store.validate_connection(good) == []
    assert [p.path for p in store.validate_connection(bad)] == ["options.carrier_map"]


def test_hooks_match_the_hook_specifications(tmp_path: Path) -> None:
    import pluggy

    from ordersyncd import hookspecs

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    store = ShopifyStore(name="shop", config=base_config(), context=context_for(None, tmp_path))
    manager.register(store)  # pluggy rejects implementations whose arguments differ from the spec
    manager.check_pending()
    implemented = {name for name, caller in manager.hook.__dict__.items() if caller.get_hookimpls()}
    assert implemented >= {
        "validate_config",
        "validate_connection",
        "startup",
        "shutdown",
        "check_credentials",
        "find_order",
        "create_order",
        "find_shipments",
        "read_stock",
    }
    assert manager.hook.validate_config() == []
