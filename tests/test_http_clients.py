"""The clients the core hands to plugins: one shared connection pool, per-system instrumentation, clean closing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ordersyncd.http import ClientFactory, InstrumentedTransport
from ordersyncd.metrics import Metrics
from ordersyncd.testing import ServedApp, serve_asgi

pytestmark = pytest.mark.anyio


async def peer(request: Request) -> PlainTextResponse:
    """Answers with the client's port: the same port twice means the same TCP connection was reused."""
    client = request.client
    return PlainTextResponse(str(client.port if client else 0))


@pytest.fixture
def served() -> Iterator[ServedApp]:
    with serve_asgi(Starlette(routes=[Route("/peer", peer)])) as app:
        yield app


def pool_of(client: httpx.AsyncClient) -> httpx.AsyncBaseTransport:
    transport = client._transport  # the factory's own wiring is what is under test
    assert isinstance(transport, InstrumentedTransport)
    return transport.inner


async def test_clients_share_one_pool_and_reuse_connections_across_clients(served: ServedApp) -> None:
    metrics = Metrics(CollectorRegistry())
    factory = ClientFactory(metrics)
    zalando = factory("zalando", base_url=served.base_url)
    shopify = factory("shopify", base_url=served.base_url)
    assert pool_of(zalando) is pool_of(shopify)
    assert factory.shared_clients == 2
    first = (await zalando.get("/peer")).text
    second = (await shopify.get("/peer")).text
    assert first == second, "the second client reused the first client's keep-alive connection"
    # Each request is still counted under its client's system.
    for system in ("zalando", "shopify"):
        assert (
            metrics.registry.get_sample_value(
                "ordersyncd_api_requests_total", {"system": system, "code_class": "2xx"}
            )
            == 1.0
        )
    await zalando.aclose()
    await zalando.aclose()  # closing twice releases once
    assert factory.shared_clients == 1
    assert (await shopify.get("/peer")).status_code == 200, "the pool stays open while a client uses it"
    await shopify.aclose()
    assert factory.shared_clients == 0
    # A client made after the last one closed gets a fresh pool.
    again = factory("zalando", base_url=served.base_url)
    assert pool_of(again) is not pool_of(shopify)
    assert (await again.get("/peer")).status_code == 200
    await again.aclose()


async def test_transport_options_get_a_pool_of_their_own(served: ServedApp) -> None:
    factory = ClientFactory(None)
    shared = factory("zalando", base_url=served.base_url)
    own = factory("woocommerce", base_url=served.base_url, verify=False)
    custom = factory("shopify", transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    assert pool_of(own) is not pool_of(shared)
    assert factory.shared_clients == 1
    assert (await custom.get("http://127.0.0.1/anything")).status_code == 204
    assert (await own.get("/peer")).status_code == 200
    for client in (shared, own, custom):
        await client.aclose()
    assert factory.shared_clients == 0
