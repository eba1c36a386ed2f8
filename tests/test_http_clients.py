"""The clients the core hands to plugins: per-system instrumentation, a small pool each, one TLS context."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ordersyncd.http import CLIENT_LIMITS, ClientFactory, InstrumentedTransport, shared_ssl_context
from ordersyncd.metrics import Metrics

pytestmark = pytest.mark.anyio


def pool_of(client: httpx.AsyncClient) -> httpx.AsyncHTTPTransport:
    transport = client._transport  # the factory's own wiring is what is under test
    assert isinstance(transport, InstrumentedTransport)
    assert isinstance(transport.inner, httpx.AsyncHTTPTransport)
    return transport.inner


async def test_each_client_has_a_pool_of_its_own_on_the_shared_tls_context() -> None:
    factory = ClientFactory(None)
    first, second = factory("zalando"), factory("shopify")
    assert pool_of(first) is not pool_of(second)
    for client in (first, second):
        pool = pool_of(client)._pool
        assert pool._max_keepalive_connections == CLIENT_LIMITS.max_keepalive_connections
        assert pool._ssl_context is shared_ssl_context()
        await client.aclose()


async def test_requests_are_counted_per_system_and_options_reach_the_transport() -> None:
    metrics = Metrics(CollectorRegistry())
    factory = ClientFactory(metrics)
    mocked = factory("shopify", transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    assert (await mocked.get("http://127.0.0.1/anything")).status_code == 204
    assert (
        metrics.registry.get_sample_value(
            "ordersyncd_api_requests_total", {"system": "shopify", "code_class": "2xx"}
        )
        == 1.0
    )
    own = factory("woocommerce", verify=False, limits=httpx.Limits(max_keepalive_connections=7))
    assert pool_of(own)._pool._max_keepalive_connections == 7
    assert pool_of(own)._pool._ssl_context is not shared_ssl_context()
    for client in (mocked, own):
        await client.aclose()
