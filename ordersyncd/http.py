"""HTTP clients handed to plugins: every request counted in metrics and recorded in the order's history."""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import certifi
import httpx

from .exchange import Exchange, record
from .metrics import Metrics, code_class

__all__ = ["ClientFactory", "InstrumentedTransport", "client_factory"]


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; measures each request and reports it to metrics and the exchange recorder."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        system: str,
        metrics: Metrics | None,
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.inner = inner
        self.system = system
        self.metrics = metrics
        #: Called instead of closing ``inner`` when ``inner`` is a pool shared with other clients.
        self._release = release

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.monotonic()
        status: int | None = None
        outcome = "error"
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            outcome = "ok" if status < 400 else ("throttled" if status == 429 else "failed")
            return response
        except httpx.TimeoutException:
            outcome = "timeout"
            raise
        except httpx.TransportError as error:
            outcome = type(error).__name__
            raise
        finally:
            duration = time.monotonic() - start
            if self.metrics is not None:
                self.metrics.api_requests.labels(system=self.system, code_class=code_class(status)).inc()
                self.metrics.api_duration.labels(system=self.system).observe(duration)
                if status == 429:
                    self.metrics.api_throttled.labels(system=self.system).inc()
            record(
                Exchange(
                    system=self.system,
                    method=request.method,
                    target=request.url.path,
                    status=status,
                    duration=duration,
                    outcome=outcome,
                )
            )

    async def aclose(self) -> None:
        if self._release is None:
            await self.inner.aclose()
            return
        release, self._release = self._release, None
        if release is not None:
            await release()


_SSL_CONTEXT: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (CA bundle loaded once) for every client of the process. A context per client costs about
    1 MB and 30 ms of CPU; with thousands of connections that was most of the daemon's memory."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
    return _SSL_CONTEXT


#: Arguments that configure the transport itself: a client given any of them gets a pool of its own.
TRANSPORT_OPTIONS = ("verify", "cert", "http1", "http2", "limits", "proxy", "retries", "uds", "local_address")

#: The shared pool: as many connections as requests need at once (as a pool per client allowed), and at most
#: this many idle keep-alive connections kept for reuse across all clients.
SHARED_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=256, keepalive_expiry=5.0)


class ClientFactory:
    """The ``PluginContext.http_client_factory`` of a daemon: instrumented ``httpx.AsyncClient``\\ s.

    Clients that do not configure the transport (no ``verify``, ``cert``, ``limits``, ``proxy``, … — see
    :data:`TRANSPORT_OPTIONS`) share one connection pool: keep-alive connections to a host are reused by every
    connection that talks to it, instead of each client opening (and keeping) its own. Closing a client releases
    its share; the pool closes with the last client. Clients with transport options get a pool of their own, as
    do clients given a ``transport``.
    """

    def __init__(self, metrics: Metrics | None, default_timeout: float = 30.0) -> None:
        self.metrics = metrics
        self.default_timeout = default_timeout
        self._pool: httpx.AsyncHTTPTransport | None = None
        self._users = 0

    def __call__(self, system: str, **kwargs: Any) -> httpx.AsyncClient:
        options = {key: kwargs.pop(key) for key in TRANSPORT_OPTIONS if key in kwargs}
        inner = kwargs.pop("transport", None)
        release: Callable[[], Awaitable[None]] | None = None
        if inner is None and not options:
            inner, release = self._share(), self._release
        elif inner is None:
            if options.get("verify") is None:
                options["verify"] = shared_ssl_context()
            options.setdefault("retries", 0)
            inner = httpx.AsyncHTTPTransport(**options)
        kwargs.setdefault("timeout", self.default_timeout)
        kwargs.setdefault("headers", {})
        return httpx.AsyncClient(
            transport=InstrumentedTransport(inner, system, self.metrics, release), **kwargs
        )

    @property
    def shared_clients(self) -> int:
        """Clients currently using the shared pool."""
        return self._users

    def _share(self) -> httpx.AsyncHTTPTransport:
        if self._pool is None:
            self._pool = httpx.AsyncHTTPTransport(
                retries=0, verify=shared_ssl_context(), limits=SHARED_LIMITS
            )
        self._users += 1
        return self._pool

    async def _release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self._pool is not None:
            pool, self._pool, self._users = self._pool, None, 0
            await pool.aclose()


def client_factory(metrics: Metrics | None, default_timeout: float = 30.0) -> ClientFactory:
    """A ``PluginContext.http_client_factory`` producing instrumented clients (see :class:`ClientFactory`)."""
    return ClientFactory(metrics, default_timeout)
