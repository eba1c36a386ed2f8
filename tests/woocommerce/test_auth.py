"""Authentication: OAuth 1.0a one-legged signatures over plain HTTP (checked against oauthlib, an
independent implementation), HTTP Basic over HTTPS, and the simulator's WooCommerce rules."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from ordersyncd.plugin import AuthenticationError, ConnectionInfo, Secret
from ordersyncd.testing import RecordedExchange
from ordersyncd_plugins.store_woocommerce import WooCommerceStore
from ordersyncd_plugins.store_woocommerce.auth import OAuth1Signer
from ordersyncd_plugins.store_woocommerce.simulator import WooCommerceSimulator

from .conftest import KEY, SECRET, StoreFactory, make_order

pytestmark = pytest.mark.anyio

API = "http://127.0.0.1:8082/wp-json/wc/v3"


def url_of(exchange: RecordedExchange, host: str = "127.0.0.1:8082", scheme: str = "http") -> httpx.URL:
    return httpx.URL(f"{scheme}://{host}{exchange.path}", params=exchange.query)


def oauthlib_verifies(method: str, url: httpx.URL, secret: str, algorithm: str = "sha256") -> bool:
    """Verify the request's query-string signature with oauthlib."""
    request = OAuthRequest(str(url.copy_with(query=None)), method)
    request.params = oauth_signature.collect_parameters(uri_query=url.query.decode())
    request.signature = dict(url.params)["oauth_signature"]
    verify = oauth_signature.verify_hmac_sha256 if algorithm == "sha256" else oauth_signature.verify_hmac_sha1
    return bool(verify(request, client_secret=secret))


async def test_every_request_over_plain_http_is_signed_as_oauthlib_expects(
    store: WooCommerceStore, sim: WooCommerceSimulator, connection: ConnectionInfo
):
    await store.create_order(connection, make_order())
    await store.find_order(connection, make_order())
    exchanges = sim.recorder.exchanges
    assert {e.method for e in exchanges} == {"GET", "POST"} and len(exchanges) >= 3
    for exchange in exchanges:
        assert exchange.status in (200, 201)
        assert "authorization" not in exchange.headers
        query = dict(exchange.query)
        assert query["oauth_consumer_key"] == KEY
        assert query["oauth_signature_method"] == "HMAC-SHA256"
        assert "oauth_version" not in query
        assert SECRET not in str(exchange.query)
        assert oauthlib_verifies(exchange.method, url_of(exchange), SECRET)
        # the same check fails with another secret or a changed parameter
        assert not oauthlib_verifies(exchange.method, url_of(exchange), "cs_wrong")
        tampered = url_of(exchange).copy_set_param("oauth_timestamp", "1")
        assert not oauthlib_verifies(exchange.method, tampered, SECRET)
    assert set(sim.keys.methods) == {"oauth1"}


def test_hmac_sha1_with_awkward_parameters_matches_oauthlib():
    signer = OAuth1Signer("ck_1", Secret("cs_ä&=+ /"), "HMAC-SHA1")
    url = httpx.URL("HTTP://Shop.Example:8080/wp-json/wc/v3/orders")
    query = [("after", "2026-11-20T10:00:00"), ("search", "a b+c,d/é~"), ("status", "completed")]
    request = httpx.Request("GET", url.copy_with(params=query))
    signed = signer.apply(request)
    assert oauthlib_verifies("GET", signed.url, "cs_ä&=+ /", algorithm="sha1")


async def test_simulator_accepts_oauthlib_signatures_and_refuses_replays(sim: WooCommerceSimulator):
    client = Client(
        KEY, client_secret=SECRET, signature_method=SIGNATURE_HMAC_SHA256, signature_type=SIGNATURE_TYPE_QUERY
    )
    uri, _, _ = client.sign(f"{API}/products?per_page=5&sku=SKU-1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        first = await http.get(uri)
        assert first.status_code == 200 and [p["sku"] for p in first.json()] == ["SKU-1"]
        replay = await http.get(uri)
        assert replay.status_code == 401
        assert replay.json()["message"] == "Invalid nonce - nonce has already been used."
        forged, _, _ = Client(KEY, client_secret="cs_forged", signature_type=SIGNATURE_TYPE_QUERY).sign(
            f"{API}/products"
        )
        refused = await http.get(forged)
        assert refused.json() == {
            "code": "woocommerce_rest_authentication_error",
            "message": "Invalid signature - provided signature does not match.",
            "data": {"status": 401},
        }
        stale, _, _ = Client(
            KEY,
            client_secret=SECRET,
            signature_type=SIGNATURE_TYPE_QUERY,
            timestamp=str(int(time.time()) - 3600),
        ).sign(f"{API}/products")
        assert (await http.get(stale)).json()["message"] == "Invalid timestamp."


async def test_basic_auth_is_refused_over_plain_http_unless_the_proxy_says_https(sim: WooCommerceSimulator):
    credentials = httpx.BasicAuth(KEY, SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), auth=credentials) as http:
        plain = await http.get(f"{API}/products")
        assert plain.status_code == 401
        assert plain.json()["code"] == "woocommerce_rest_cannot_view"
        proxied = await http.get(f"{API}/products", headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200
        assert proxied.headers["X-WP-Total"] == "2"
        tls = await http.get("https://shop.example/wp-json/wc/v3/products")
        assert tls.status_code == 200
    assert sim.keys.methods == ["basic", "basic"]


async def test_plugin_uses_basic_over_https(make_store: StoreFactory, sim: WooCommerceSimulator):
    store = await make_store(sim, store_url="https://shop.example")
    description = await store.check_credentials()
    assert "WooCommerce 9.8.1" in description and "basic" in description
    exchange = sim.recorder.exchanges[-1]
    assert exchange.headers["authorization"].startswith("Basic ")
    assert not any(k.startswith("oauth_") for k, _ in exchange.query)
    assert sim.keys.methods == ["basic"]


@pytest.mark.parametrize(
    ("url", "overrides", "message"),
    [
        ("https://shop.example", {"consumer_secret": "cs_wrong"}, "Consumer secret is invalid"),
        ("http://127.0.0.1:8082", {"consumer_secret": "cs_wrong"}, "signature does not match"),
        ("https://shop.example", {"consumer_key": "ck_unknown"}, "Consumer key is invalid"),
        ("http://127.0.0.1:8082", {"consumer_key": "ck_unknown"}, "Consumer key is invalid"),
    ],
)
async def test_refused_keys_are_authentication_errors_without_the_secret(
    make_store: StoreFactory, sim: WooCommerceSimulator, url: str, overrides: dict[str, Any], message: str
):
    store = await make_store(sim, store_url=url, **overrides)
    with pytest.raises(AuthenticationError, match=message) as caught:
        await store.check_credentials()
    assert "cs_wrong" not in str(caught.value) and SECRET not in str(caught.value)


async def test_read_only_key_cannot_create_orders(make_store: StoreFactory, connection: ConnectionInfo):
    from ordersyncd_plugins.store_woocommerce.simulator import create_app

    sim = create_app(consumer_key=KEY, consumer_secret=SECRET, permissions="read")
    sim.state.add_product("SKU-1")
    store = await make_store(sim)
    with pytest.raises(AuthenticationError, match="write permissions"):
        await store.create_order(connection, make_order())


def test_settings_refuse_basic_over_plain_http_and_keep_the_secret_out_of_reprs(tmp_path):
    from .conftest import base_config, context_for

    store = WooCommerceStore(
        name="shop", config=base_config(auth="basic"), context=context_for(None, tmp_path)
    )
    problems = store.validate_config()
    assert [p.path for p in problems] == ["auth"]
    assert SECRET not in repr(store.settings) and SECRET not in str(store.settings.model_dump())
    insecure = WooCommerceStore(
        name="shop",
        config=base_config(store_url="http://shop.example.com"),
        context=context_for(None, tmp_path),
    )
    assert [p.path for p in insecure.validate_config()] == ["store_url"]
