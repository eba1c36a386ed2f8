"""Benchmark 5's yardstick: the CPU one HTTP request costs the client.

The daemon's client (``ClientFactory``: its pool on ``ordersyncd.http_backend``, instrumented) and httpx's default
client are measured side by side, in alternating rounds, against a keep-alive server in another process that
answers every request at once with a small JSON body. Only the CPU of the measuring thread counts
(``time.thread_time``), so the server's work is not in the figure. Multiplied by the requests an order needs, it
is the least CPU per order any design on this HTTP stack can reach.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

import anyio
import httpx

from ordersyncd.http import ClientFactory

__all__ = ["http_floor"]

SERVER = r"""
import asyncio, sys
BODY = b'{"items": [], "next": null}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)

async def answer(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def _cpu_per_request(client: httpx.AsyncClient, requests: int) -> float:
    started = time.thread_time()
    for _ in range(requests):
        response = await client.get("/merchants/m1/orders", params={"page[size]": "50"})
        response.json()
    return (time.thread_time() - started) / requests


async def _measure(port: int, requests: int, rounds: int) -> dict[str, list[float]]:
    base = f"http://127.0.0.1:{port}"
    clients = {
        "daemon_client": ClientFactory(None)("bench", base_url=base),
        "httpx_default": httpx.AsyncClient(base_url=base),
    }
    seconds: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for client in clients.values():
            await _cpu_per_request(client, 100)  # connect, warm caches
        for _ in range(rounds):
            for name, client in clients.items():
                seconds[name].append(await _cpu_per_request(client, requests // rounds))
    finally:
        for client in clients.values():
            await client.aclose()
    return seconds


def http_floor(requests: int = 3000, rounds: int = 5) -> dict[str, Any]:
    """Median CPU milliseconds per request of each client over ``rounds`` alternating rounds."""
    server = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        seconds = anyio.run(_measure, port, requests, rounds)
    finally:
        server.kill()
        server.wait()
    figures: dict[str, Any] = {
        f"{name}_ms_per_request": statistics.median(values) * 1000 for name, values in seconds.items()
    }
    figures["requests"] = requests
    figures["rounds"] = rounds
    return figures
