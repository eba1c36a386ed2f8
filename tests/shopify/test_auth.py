"""Authentication: static token and the client-credentials grant with refresh before expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordersyncd.plugin import AuthenticationError, ConnectionInfo
from ordersyncd_plugins.store_shopify import ShopifyStore
from ordersyncd_plugins.store_shopify.auth import ClientCredentialsToken
from ordersyncd_plugins.store_shopify.simulator import ShopifySimulator

from .conftest import base_config, context_for, make_order

pytestmark = pytest.mark.anyio

CLIENT_SECRET = "shpss_very_secret_value_42"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def credentials_config(**overrides: object) -> dict[str, object]:
    config = base_config(client_id="client-abc", client_secret=CLIENT_SECRET, token_refresh_margin=300)
    del config["access_token"]
    config.update(overrides)
    return config


async def started(sim: ShopifySimulator, tmp_path: Path, clock: Clock, **overrides: object) -> ShopifyStore:
    store = ShopifyStore(
        name="shop", config=credentials_config(**overrides), context=context_for(sim, tmp_path)
    )
    assert store.validate_config() == []
    store.clock = clock
    await store.startup()
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def oauth_sim(clock: Clock) -> ShopifySimulator:
    sim = ShopifySimulator(
        access_tokens=(), client_id="client-abc", client_secret=CLIENT_SECRET, token_ttl=3600, clock=clock
    )
    sim.shop.add_variant("SKU-1", inventory=5)
    return sim


def tokens_used(sim: ShopifySimulator) -> list[str]:
    return [e.headers["x-shopify-access-token"] for e in sim.recorder.calls("POST", "/admin/api/")]


async def test_token_is_obtained_and_refreshed_before_it_expires(
    oauth_sim: ShopifySimulator, tmp_path: Path, clock: Clock, connection: ConnectionInfo
) -> None:
    store = await started(oauth_sim, tmp_path, clock)
    try:
        assert "ordersyncd simulator" in await store.check_credentials()
        await store.create_order(connection, make_order("1"))
        assert oauth_sim.token_grants == 1

        clock.now += 3600 - 300 - 1  # still outside the refresh margin
        await store.check_credentials()
        assert oauth_sim.token_grants == 1

        clock.now += 2  # inside the margin, before expiry: refreshed proactively
        await store.check_credentials()
        assert oauth_sim.token_grants == 2
        used = tokens_used(oauth_sim)
        assert len(set(used)) == 2
        # the old token was still valid when it was replaced: no request was refused
        assert all(e.status == 200 for e in oauth_sim.recorder.calls("POST", "/admin/api/"))
        grant = oauth_sim.recorder.calls("POST", "/admin/oauth/access_token")[0]
        assert b"grant_type=client_credentials" in grant.body
    finally:
        await store.shutdown()


async def test_refused_token_is_replaced_once(
    oauth_sim: ShopifySimulator, tmp_path: Path, clock: Clock
) -> None:
    store = await started(oauth_sim, tmp_path, clock)
    try:
        await store.check_credentials()
        oauth_sim.issued_tokens.clear()  # the shop revoked it (or the TTL was shorter than announced)
        await store.check_credentials()
        assert oauth_sim.token_grants == 2
        assert [e.status for e in oauth_sim.recorder.calls("POST", "/admin/api/")] == [200, 401, 200]
    finally:
        await store.shutdown()


async def test_wrong_client_secret_is_an_authentication_error_without_the_secret(
    oauth_sim: ShopifySimulator, tmp_path: Path, clock: Clock
) -> None:
    store = await started(oauth_sim, tmp_path, clock, client_secret="shpss_wrong_value_77")
    try:
        with pytest.raises(AuthenticationError) as caught:
            await store.check_credentials()
        assert "shpss_wrong_value_77" not in str(caught.value)
        assert "shpss_wrong_value_77" not in repr(store.settings)
        assert CLIENT_SECRET not in repr(store.settings)
    finally:
        await store.shutdown()


async def test_client_credentials_token_type_is_chosen(
    oauth_sim: ShopifySimulator, tmp_path: Path, clock: Clock
) -> None:
    store = await started(oauth_sim, tmp_path, clock)
    try:
        assert isinstance(store._tokens, ClientCredentialsToken)
    finally:
        await store.shutdown()
