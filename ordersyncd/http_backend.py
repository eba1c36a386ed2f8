"""The network backend of the daemon's HTTP connection pools: httpcore's own (anyio), with one question answered
cheaply.

Before a request is given a pooled connection, and again when a response is closed, httpcore asks *every* idle
connection of the pool whether its socket is readable (a server that closed it makes it readable). httpcore's
anyio stream answers by asking anyio for the raw socket, and anyio builds its whole table of socket attributes for
that, calling ``getpeername()`` and ``getsockname()`` each time: 10 % of the daemon's Python time importing and
shipping orders (py-spy, GIL samples), where a connection pool holds up to 20 connections. The streams here keep
the socket they were opened on and poll it directly; everything else is httpcore's.
"""

# The methods' ``timeout`` parameters are httpcore's network-backend interface, passed on unchanged.
# ruff: noqa: ASYNC109

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

__all__ = ["CheapReadableBackend", "socket_readable"]

#: httpcore's type of a socket option, e.g. ``(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)``.
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


def socket_readable(sock: socket.socket | None) -> bool:
    """Whether a read of ``sock`` would return at once (data or the end of the stream); a socket that is gone
    counts as readable, as httpcore counts it."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class CheapReadableBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend whose streams answer ``is_readable`` from the socket they keep."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
