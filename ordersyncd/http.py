"""HTTP clients handed to plugins: every request counted in metrics and recorded in the order's history."""

from __future__ import annotations

import ssl
import time
from typing import Any

import certifi
import httpcore
import httpx

from .exchange import Exchange, record
from .http_backend import AsyncioBackend
from .metrics import Metrics

__all__ = ["ClientFactory", "InstrumentedTransport", "client_factory"]


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; measures each request and reports it to metrics and the exchange recorder."""

    def __init__(self, inner: httpx.AsyncBaseTransport, system: str, metrics: Metrics | None) -> None:
        self.inner = inner
        self.system = system
        self.metrics = metrics

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
                self.metrics.system(self.system).record(status, duration)
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
        await self.inner.aclose()


class ResponseCookies(httpx.Cookies):
    """A client's cookie jar that reads a response only when it sets cookies.

    httpx hands every response to the standard library's cookie jar, which first wraps request and response in
    ``urllib`` look-alikes (parsing the URL again): 5 % of the daemon's Python time at 5,000 connections, for
    API answers that almost never carry a cookie. Without a ``Set-Cookie`` (or ``Set-Cookie2``) header the jar
    would take nothing from the response, so skipping it changes nothing; cookies that are set are kept and
    sent as before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


_SSL_CONTEXT: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (CA bundle loaded once) for every client of the process. A context per client costs about
    1 MB and 30 ms of CPU; with thousands of connections that was most of the daemon's memory."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
    return _SSL_CONTEXT


#: Seconds an idle pooled connection may be reused. httpx's default (5 s) is shorter than any job interval, so
#: every poll paid a TCP (and in production a TLS) handshake and a close: 10 % of the daemon's CPU with 2,000
#: connections polling every minute (py-spy), while the expired connection stayed open until the next request
#: anyway (httpcore closes expired connections lazily). 150 s covers the default order poll (120 s); a server
#: that closed the connection sooner is noticed before reuse (httpcore checks the socket), and a close racing a
#: request is a transport error, retried like any other.
KEEPALIVE_EXPIRY = 150.0

#: Each client's own pool. One pool shared by every client was tried and measured: httpcore scans every pooled
#: connection for every queued request whenever a request starts or ends, so with thousands of connections a
#: shared pool's scans took 99 % of the daemon's CPU while the simulators idled. A pool per client stays small;
#: up to 20 idle connections are kept, enough for a connection's ``concurrency`` (16 by default) to reuse them
#: (with 2, the CPU per order rose by the connects and closes).
CLIENT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY
)


#: One backend for every pool (it holds no state of its own), see :mod:`ordersyncd.http_backend`.
NETWORK_BACKEND = AsyncioBackend()


def _pool(verify: ssl.SSLContext | str | bool, limits: httpx.Limits) -> httpcore.AsyncConnectionPool:
    """The connection pool httpx's transport would make for these settings, on :data:`NETWORK_BACKEND`.

    httpx's transport takes no network backend, so its ``_pool`` is replaced by this one (for clients without a
    proxy, client certificate or HTTP/2, i.e. all the built-in plugins'); tests/test_http_clients.py fails when a
    new httpx no longer uses it."""
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
    return httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        retries=0,
        network_backend=NETWORK_BACKEND,
    )


class ClientFactory:
    """The ``PluginContext.http_client_factory`` of a daemon: instrumented ``httpx.AsyncClient``\\ s, each with
    its own small connection pool on the process's one TLS context (unless given ``verify`` or a
    ``transport``)."""

    def __init__(self, metrics: Metrics | None, default_timeout: float = 30.0) -> None:
        self.metrics = metrics
        self.default_timeout = default_timeout

    def __call__(self, system: str, **kwargs: Any) -> httpx.AsyncClient:
        inner = kwargs.pop("transport", None)
        if inner is None:
            verify = kwargs.pop("verify", None)
            verify = shared_ssl_context() if verify is None else verify
            limits = kwargs.pop("limits", CLIENT_LIMITS)
            special = {key: kwargs.pop(key) for key in ("cert", "http1", "http2", "proxy") if key in kwargs}
            inner = httpx.AsyncHTTPTransport(retries=0, verify=verify, limits=limits, **special)
            if not special:
                inner._pool = _pool(verify, limits)
        kwargs.setdefault("timeout", self.default_timeout)
        kwargs.setdefault("headers", {})
        cookies = ResponseCookies(kwargs.pop("cookies", None))
        client = httpx.AsyncClient(transport=InstrumentedTransport(inner, system, self.metrics), **kwargs)
        client._cookies = cookies  # the ``cookies`` setter would copy it into a plain jar
        return client


def client_factory(metrics: Metrics | None, default_timeout: float = 30.0) -> ClientFactory:
    """A ``PluginContext.http_client_factory`` producing instrumented clients (see :class:`ClientFactory`)."""
    return ClientFactory(metrics, default_timeout)
