"""The daemon's network backend (ordersyncd.http_backend) under the clients plugins get: plain and TLS
connections, large bodies both ways, timeouts, resets, cancellation, and the errors httpx users expect."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import trustme

from ordersyncd import http_backend
from ordersyncd.http import NETWORK_BACKEND, ClientFactory, InstrumentedTransport

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A server on 127.0.0.1 whose connection handlers are cancelled and connections closed on leaving."""
    handlers: set[asyncio.Task[Any]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The request head and its body (content-length only)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def answer(body: bytes, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_the_factorys_clients_pool_on_this_backend() -> None:
    client = ClientFactory(None)("zalando")
    transport = client._transport  # the factory's wiring is what is under test
    assert isinstance(transport, InstrumentedTransport)
    assert isinstance(transport.inner, httpx.AsyncHTTPTransport)
    assert transport.inner._pool._network_backend is NETWORK_BACKEND
    assert isinstance(NETWORK_BACKEND, http_backend.AsyncioBackend)


async def test_large_bodies_both_ways_over_tls(ca: trustme.CA) -> None:
    """8 MiB up and down over TLS: the transport is paused and resumed many times on the way in (the buffer
    holds at most about HIGH_WATER), and writes wait for the socket on the way out."""
    rng_body = bytes(range(256)) * (8 * 4096)  # 8 MiB with a pattern, so reordering would show
    received: list[bytes] = []

    async def echo_size(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        received.append(body)
        writer.write(answer(rng_body))
        await writer.drain()
        writer.close()

    peak = 0
    plain_data_received = http_backend._Protocol.data_received

    def watching(self: http_backend._Protocol, data: bytes) -> None:
        nonlocal peak
        plain_data_received(self, data)
        peak = max(peak, len(self.buffer))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_backend._Protocol, "data_received", watching)
        async with serving(echo_size, server_tls(ca)) as port:
            client = ClientFactory(None)("shopify", verify=client_tls(ca))
            request = client.build_request("POST", f"https://127.0.0.1:{port}/upload", content=rng_body[::-1])
            response = await client.send(request, stream=True)
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object") is not None
            await asyncio.sleep(0.5)  # the answer arrives while nobody reads it
            content = await response.aread()
            await response.aclose()
            await client.aclose()
    assert content == rng_body
    assert received == [rng_body[::-1]]
    # One delivery more than the mark at most: asyncio's TLS layer hands over up to 256 KiB at a time.
    assert peak <= http_backend.HIGH_WATER + 256 * 1024, (
        f"buffer grew to {peak} bytes: reading was not paused"
    )


async def test_an_untrusted_certificate_is_a_connect_error(ca: trustme.CA) -> None:
    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with serving(never, server_tls(trustme.CA())) as port:  # signed by a CA the client does not trust
        client = ClientFactory(None)("shopify", verify=client_tls(ca))
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://127.0.0.1:{port}/")
        await client.aclose()


async def test_a_silent_server_is_a_read_timeout_and_the_client_goes_on() -> None:
    calls = 0

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await read_request(reader)
        if calls == 1:
            await asyncio.sleep(5)
        writer.write(answer(b"late" if calls == 1 else b"ok"))
        await writer.drain()
        writer.close()

    async with serving(slow_first) as port:
        client = ClientFactory(None)("zalando", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{port}/orders")
        assert time.monotonic() - started < 2
        assert (await client.get(f"http://127.0.0.1:{port}/orders")).text == "ok"
        await client.aclose()


async def test_a_request_cancelled_by_a_cancel_scope_leaves_the_pool_usable() -> None:
    """Jobs are cancelled through anyio cancel scopes (job timeouts, shutdown): the wait for an answer must
    end at once and the client must serve the next request."""
    paths: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, _ = await read_request(reader)
                paths.append(head.split(b" ")[1])
                if head.startswith(b"GET /slow"):
                    await asyncio.sleep(10)
                writer.write(answer(b"ok"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async with serving(handler) as port:
        client = ClientFactory(None)("zalando")
        started = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            await client.get(f"http://127.0.0.1:{port}/slow")
        assert scope.cancelled_caught
        assert time.monotonic() - started < 2
        assert (await client.get(f"http://127.0.0.1:{port}/fast")).text == "ok"
        await client.aclose()
    assert paths == [b"/slow", b"/fast"]


async def test_a_reset_connection_is_a_read_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        writer.transport.abort()

    async with serving(reset) as port:
        client = ClientFactory(None)("zalando")
        with pytest.raises(httpx.ReadError):
            await client.get(f"http://127.0.0.1:{port}/orders")
        await client.aclose()


async def test_a_body_cut_short_is_a_protocol_error_not_a_short_answer() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()
        writer.close()

    async with serving(short) as port:
        client = ClientFactory(None)("zalando")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"http://127.0.0.1:{port}/orders")
        await client.aclose()


async def test_refused_and_hanging_connects() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # bound, never listening: connections are refused
        client = ClientFactory(None)("zalando", timeout=0.3)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")
        await client.aclose()

    loop = asyncio.get_running_loop()

    async def hang(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(10)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "create_connection", hang)
        started = time.monotonic()
        with pytest.raises(httpcore.ConnectTimeout):
            await http_backend.AsyncioBackend().connect_tcp("127.0.0.1", 9, timeout=0.2)
        assert time.monotonic() - started < 2


async def test_stream_reads_the_end_and_refuses_writes_after_the_peer_left() -> None:
    async def hello_and_leave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    async with serving(hello_and_leave) as port:
        stream = await http_backend.AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2)
        assert await stream.read(3, timeout=2) == b"hel"
        assert await stream.read(100, timeout=2) == b"lo"
        assert await stream.read(100, timeout=2) == b""  # the end of the stream
        assert stream.get_extra_info("is_readable") is True
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=2)
        await stream.aclose()
        with pytest.raises(httpcore.ReadError):
            await stream.read(10, timeout=2)


async def test_an_idle_connection_is_readable_once_the_server_speaks_even_before_the_loop_looks() -> None:
    """The pool asks between two passes of the event loop: what the kernel holds counts, not only what the
    transport has delivered."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        stream = await http_backend.AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2)
        peer, _ = listener.accept()
        with peer:
            assert stream.get_extra_info("is_readable") is False
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            peer.sendall(b"!")
            deadline = time.monotonic() + 2
            while not stream.get_extra_info("is_readable") and time.monotonic() < deadline:
                time.sleep(0.01)  # blocking on purpose: the event loop does not run meanwhile
            assert stream.get_extra_info("is_readable") is True
            assert await stream.read(10, timeout=2) == b"!"
            await stream.aclose()


async def test_a_write_the_server_never_reads_times_out() -> None:
    """A server that stops reading: the socket and the transport fill, the write waits, then WriteTimeout."""
    stop = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    async with serving(deaf) as port:
        stream = await http_backend.AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2)
        written = 0
        with pytest.raises(httpcore.WriteTimeout):  # noqa: PT012 - the timeout ends the loop
            while written < 256:  # MiB: far more than loopback socket buffers hold
                await stream.write(b"x" * (1 << 20), timeout=0.3)
                written += 1
        assert written < 256
        stop.set()
        await stream.aclose()


async def test_host_names_race_their_addresses_address_literals_do_not() -> None:
    """RFC 8305 for names (as anyio did); a literal has one address, and racing it costs a task per connect."""

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hi")
        await writer.drain()

    loop = asyncio.get_running_loop()
    plain_create = loop.create_connection
    delays: list[tuple[str, float | None]] = []

    async def recording(factory: Any, host: str, port: int, **kwargs: Any) -> Any:
        delays.append((host, kwargs.get("happy_eyeballs_delay")))
        return await plain_create(factory, host, port, **kwargs)

    async with serving(hello) as port:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loop, "create_connection", recording)
            for host in ("127.0.0.1", "localhost"):
                stream = await http_backend.AsyncioBackend().connect_tcp(host, port, timeout=2)
                assert await stream.read(2, timeout=2) == b"hi"
                await stream.aclose()
    assert delays == [("127.0.0.1", None), ("localhost", http_backend.HAPPY_EYEBALLS_DELAY)]
