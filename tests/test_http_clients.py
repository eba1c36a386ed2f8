"""The clients the core hands to plugins: per-system instrumentation, a small pool each, one TLS context."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore._async.http11 as httpcore_http11
import httpx
import pytest
from prometheus_client import CollectorRegistry

from ordersyncd import http_backend
from ordersyncd.http import (
    CLIENT_LIMITS,
    KEEPALIVE_EXPIRY,
    ClientFactory,
    InstrumentedTransport,
    shared_ssl_context,
)
from ordersyncd.http_backend import socket_readable
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


async def test_a_poll_a_minute_later_reuses_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs poll every minute or two: the pooled connection must still be there (no new TCP/TLS handshake).
    httpx's own default (5 s) would have expired it."""
    accepted = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = [1000.0]
    monkeypatch.setattr(httpcore_http11.time, "monotonic", lambda: clock[0])
    client = ClientFactory(None)("zalando")
    try:
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{port}/orders")).text == "ok"
            clock[0] += 120.0  # the default poll_orders interval
        assert accepted == 1
        clock[0] += KEEPALIVE_EXPIRY  # idle longer than the expiry: a fresh connection
        assert (await client.get(f"http://127.0.0.1:{port}/orders")).text == "ok"
        assert accepted == 2
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


def test_socket_readable_tells_data_and_a_closed_peer_from_an_idle_connection() -> None:
    import socket

    ours, peer = socket.socketpair()
    with ours, peer:
        assert socket_readable(ours) is False
        peer.sendall(b"x")
        assert socket_readable(ours) is True
        ours.recv(1)
        assert socket_readable(ours) is False
        peer.close()
        assert socket_readable(ours) is True  # the end of the stream is waiting
    assert socket_readable(ours) is True  # closed: as httpcore, gone counts as readable
    assert socket_readable(None) is True


async def test_a_connection_the_server_closed_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pools ask each idle connection whether it is readable (ordersyncd.http_backend): one the server closed
    while idle must be replaced, not used for the next request."""
    accepted = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")  # keep-alive, then closed anyway
        await writer.drain()
        writer.close()

    connects: list[str] = []
    plain_connect = http_backend.AsyncioBackend.connect_tcp

    async def counting(self: http_backend.AsyncioBackend, host: str, port: int, **kwargs: Any) -> Any:
        connects.append(host)
        return await plain_connect(self, host, port, **kwargs)

    monkeypatch.setattr(http_backend.AsyncioBackend, "connect_tcp", counting)
    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ClientFactory(None)("zalando")
    try:
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{port}/orders")).text == "ok"
            await asyncio.sleep(0.05)  # the server's close arrives
        assert accepted == 3
        assert connects == ["127.0.0.1"] * 3, "every connection was made by the daemon's backend"
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_cookies_are_kept_and_responses_without_them_skip_the_jar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cookie an API sets is sent back as httpx would; answers without Set-Cookie never reach the (costly)
    standard-library jar."""
    read_by_jar: list[str] = []
    plain_extract = httpx.Cookies.extract_cookies

    def counting(self: httpx.Cookies, response: httpx.Response) -> None:
        read_by_jar.append(response.request.url.path)
        plain_extract(self, response)

    monkeypatch.setattr(httpx.Cookies, "extract_cookies", counting)
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        if request.url.path == "/login":
            return httpx.Response(200, headers={"set-cookie": "__cf_bm=abc; Path=/"})
        return httpx.Response(200, json={})

    client = ClientFactory(None)("shopify", transport=httpx.MockTransport(answer))
    for path in ("/first", "/login", "/after", "/again"):
        await client.get(f"http://127.0.0.1{path}")
    await client.aclose()
    assert sent == [None, None, "__cf_bm=abc", "__cf_bm=abc"]
    assert read_by_jar == ["/login"]
