"""Public testing kit for ordersyncd and its plugins.

Everything a simulator or a plugin test needs, in one place, so third-party plugin authors test with the same
tools as the built-in plugins:

- :func:`serve_asgi` / :class:`ServedApp` — run an ASGI app (a simulator) on 127.0.0.1 on a free port, in a
  background thread, for as long as a ``with`` block lasts.
- :func:`asgi_client` — an ``httpx.AsyncClient`` that calls an ASGI app in-process (no socket).
- :class:`FaultInjector` — ASGI middleware adding latency, 5xx answers, hangs (timeouts) and malformed bodies,
  reproducibly (seeded) and switchable at run time.
- :class:`TokenBucket` / :class:`FixedWindowLimiter` — rate-limit emulation for simulators (429 + Retry-After).
- :class:`RequestRecorder` — ASGI middleware keeping every request and response (method, path, query, body,
  status) for assertions.
- :func:`asgi_context`, :func:`sample_order`, :func:`sample_address` — a plugin context wired to a simulator
  in-process, and sample orders a store plugin can be fed.
"""

from .asgi import ServedApp, asgi_client, serve_asgi
from .faults import FaultInjector, Faults
from .ratelimit import FixedWindowLimiter, TokenBucket
from .recorder import RecordedExchange, RequestRecorder
from .samples import asgi_context, sample_address, sample_order

__all__ = [
    "FaultInjector",
    "Faults",
    "FixedWindowLimiter",
    "RecordedExchange",
    "RequestRecorder",
    "ServedApp",
    "TokenBucket",
    "asgi_client",
    "asgi_context",
    "sample_address",
    "sample_order",
    "serve_asgi",
]
