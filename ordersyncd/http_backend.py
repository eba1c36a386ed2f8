"""The network backend of the daemon's HTTP connection pools: httpcore's HTTP over asyncio's own transports.

httpcore (under httpx) does HTTP/1.1; a network backend gives it byte streams. Its default backend goes through
anyio, which on every read and write of every request enters a cancel scope for the timeout, a resource guard
and an extra pass of the event loop (``sleep(0)``), opens each connection in a task group, and answers the pool's
"is this idle connection readable?" (asked of every idle connection at every request and response) through its
table of socket attributes. At 5,000 connections that was a fifth of the daemon's Python time (py-spy, GIL
samples). This backend keeps what the bytes need and nothing more:

- a stream is an :class:`asyncio.Protocol` that buffers what the transport delivers (pausing the transport above
  256 KiB) and a future the reader waits on;
- a read or write timeout is a timer that fails that future (no task is cancelled, so anyio's cancel scopes
  around the request behave exactly as before: cancelling the task cancels the wait);
- connecting and the TLS handshake (``loop.start_tls``) run under ``anyio.fail_after``, as in httpcore;
- errors map to httpcore's exceptions as its anyio backend maps them: ``ConnectError``/``ConnectTimeout``,
  ``ReadError``/``ReadTimeout``, ``WriteError``/``WriteTimeout``; the end of the stream reads ``b""``.

Outside asyncio (e.g. under trio) the pools fall back to httpcore's anyio backend.
"""

# The methods' ``timeout`` parameters are httpcore's network-backend interface, passed on unchanged.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ipaddress
import select
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import sniffio

__all__ = ["AsyncioBackend", "socket_readable"]

#: httpcore's type of a socket option, e.g. ``(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)``.
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]

#: Buffered bytes above which the transport stops reading until the reader has taken some.
HIGH_WATER = 256 * 1024
#: Buffered bytes below which a paused transport reads again.
LOW_WATER = 64 * 1024
#: Seconds before a second address is tried while the first is still connecting (RFC 8305, as anyio does).
HAPPY_EYEBALLS_DELAY = 0.25


def socket_readable(sock: Any) -> bool:
    """Whether a read of ``sock`` would return at once (data or the end of the stream); a socket that is gone
    counts as readable, as httpcore counts it."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Protocol(asyncio.Protocol):
    """Collects what the transport delivers and wakes the one reader or writer waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._reader: asyncio.Future[None] | None = None
        self._drainer: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # the transport closes itself: HTTP/1.1 has nothing to send after the server's end

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self._wake_reader()
        self._wake_drainer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drainer()

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_drainer(self) -> None:
        if self._drainer is not None and not self._drainer.done():
            self._drainer.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        """Until data, the end of the stream or the loss of the connection; TimeoutError after ``timeout``."""
        self._reader = waiter = self.loop.create_future()
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._reader = None
            if timer is not None:
                timer.cancel()

    async def wait_drained(self, timeout: float | None) -> None:
        """Until the transport takes writes again or the connection is lost; TimeoutError after ``timeout``."""
        self._drainer = waiter = self.loop.create_future()
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._drainer = None
            if timer is not None:
                timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: the transport (plain or TLS) and the protocol buffering for it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False
        protocol.transport = transport
        # Kept from the start: a TLS transport answers nothing once closed.
        self._info = {
            "ssl_object": transport.get_extra_info("ssl_object"),
            "client_addr": transport.get_extra_info("sockname"),
            "server_addr": transport.get_extra_info("peername"),
            "socket": transport.get_extra_info("socket"),
        }

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if self._closed:
            raise httpcore.ReadError("the connection was closed by this client")
        if not protocol.buffer and not protocol.eof and not protocol.lost:
            try:
                await protocol.wait_readable(timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data within {timeout} s") from None
        buffer = protocol.buffer
        if buffer:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
            if protocol.reading_paused and len(buffer) < LOW_WATER and not protocol.lost:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._closed or protocol.lost or self._transport.is_closing():
            reason = protocol.error or "the connection is closed"
            raise httpcore.WriteError(str(reason))
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as error:
            raise httpcore.WriteError(str(error)) from error
        if protocol.writing_paused:
            try:
                await protocol.wait_drained(timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send within {timeout} s") from None
            if protocol.lost:
                raise httpcore.WriteError(str(protocol.error or "the connection was lost while sending"))

    async def aclose(self) -> None:
        self._closed = True
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = self._protocol.loop
        try:
            with anyio.fail_after(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout} s") from None
        except (OSError, ssl.SSLError, EOFError) as error:
            self._transport.close()
            raise httpcore.ConnectError(str(error) or type(error).__name__) from error
        if transport is None:  # the connection was lost during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            protocol = self._protocol
            if protocol.buffer or protocol.eof or protocol.lost:
                return True
            return socket_readable(self._info["socket"])
        return self._info.get(info)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend on asyncio transports (see the module's description)."""

    def __init__(self) -> None:
        self._fallback = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if sniffio.current_async_library() != "asyncio":
            return await self._fallback.connect_tcp(host, port, timeout, local_address, socket_options)
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        # Racing addresses needs a task per attempt; an address literal has only one to try.
        delay = None if _is_address(host) else HAPPY_EYEBALLS_DELAY

        async def connect() -> tuple[asyncio.BaseTransport, _Protocol]:
            return await loop.create_connection(
                lambda: _Protocol(loop), host, port, local_addr=local, happy_eyeballs_delay=delay
            )

        transport, protocol = await _connected(connect, timeout, f"{host}:{port}")
        return _stream(transport, protocol, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        if sniffio.current_async_library() != "asyncio":
            return await self._fallback.connect_unix_socket(path, timeout, socket_options)
        loop = asyncio.get_running_loop()

        async def connect() -> tuple[asyncio.BaseTransport, _Protocol]:
            return await loop.create_unix_connection(lambda: _Protocol(loop), path)

        transport, protocol = await _connected(connect, timeout, path)
        return _stream(transport, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def _connected(
    connect: Any, timeout: float | None, where: str
) -> tuple[asyncio.BaseTransport, _Protocol]:
    try:
        with anyio.fail_after(timeout):
            transport, protocol = await connect()
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"could not connect to {where} within {timeout} s") from None
    except OSError as error:
        raise httpcore.ConnectError(str(error) or type(error).__name__) from error
    return transport, protocol


def _stream(
    transport: asyncio.BaseTransport, protocol: _Protocol, socket_options: Iterable[SocketOption] | None
) -> AsyncioStream:
    assert isinstance(transport, asyncio.Transport)
    sock = transport.get_extra_info("socket")
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as error:
        transport.close()
        raise httpcore.ConnectError(f"socket option refused: {error}") from error
    return AsyncioStream(transport, protocol)
