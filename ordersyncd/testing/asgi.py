"""Serve an ASGI app on loopback, or call it in-process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

__all__ = ["ServedApp", "asgi_client", "free_port", "serve_asgi"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ServedApp:
    """An ASGI app being served on ``base_url`` by a background thread."""

    base_url: str
    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextlib.contextmanager
def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServedApp]:
    """Serve ``app`` on ``host`` (loopback only) for the duration of the block."""
    if host not in {"127.0.0.1", "::1", "localhost"}:
        raise ValueError("the testing kit serves on loopback only")
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    server = _QuietServer(config)
    thread = threading.Thread(target=server.run, name=f"asgi-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"could not serve the app on {host}:{port}")
        time.sleep(0.01)
    netloc = f"[{host}]" if ":" in host else host
    served = ServedApp(
        base_url=f"http://{netloc}:{port}", host=host, port=port, _server=server, _thread=thread
    )
    try:
        yield served
    finally:
        served.stop()


def asgi_client(app: Any, base_url: str = "http://testserver", **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` calling ``app`` in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs)
