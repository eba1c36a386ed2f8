"""Fault injection for simulators: latency, server errors, hangs and malformed bodies."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import anyio

__all__ = ["FaultInjector", "Faults"]

Scope = dict[str, Any]


@dataclass
class Faults:
    """What to inject. Rates are probabilities in [0, 1]; change them at any time.

    ``latency`` seconds are added to every request before the app sees it; ``response_latency`` seconds after
    the app has done its work and before the answer leaves (the window in which a client can die having
    caused an effect it never learns of). ``error_rate`` answers 503 (or ``error_status``);
    ``timeout_rate`` holds the request for ``hang_seconds`` before answering (the client should time out
    first); ``garbage_rate`` answers 200 with a body that is not JSON. ``only_paths`` restricts faults to
    requests whose path starts with one of the prefixes. ``fail_next`` forces the next N requests to fail.
    """

    latency: float = 0.0
    response_latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    garbage_rate: float = 0.0
    only_paths: tuple[str, ...] = ()
    fail_next: int = 0
    seed: int = 0
    injected: dict[str, int] = field(default_factory=lambda: {"error": 0, "timeout": 0, "garbage": 0})

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reset(self) -> None:
        self.latency = self.response_latency = self.error_rate = self.timeout_rate = self.garbage_rate = 0.0
        self.fail_next = 0

    def decide(self, path: str) -> str | None:
        if self.only_paths and not path.startswith(self.only_paths):
            return None
        if self.fail_next > 0:
            self.fail_next -= 1
            return "error"
        roll = self._rng.random()
        for kind, rate in (
            ("error", self.error_rate),
            ("timeout", self.timeout_rate),
            ("garbage", self.garbage_rate),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None


class FaultInjector:
    """ASGI middleware applying :class:`Faults` to HTTP requests."""

    def __init__(self, app: Any, faults: Faults | None = None) -> None:
        self.app = app
        self.faults = faults or Faults()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults
        if faults.latency:
            await anyio.sleep(faults.latency)
        kind = faults.decide(scope["path"])
        if kind is None:
            if faults.response_latency:

                async def send_late(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        await anyio.sleep(faults.response_latency)
                    await send(message)

                await self.app(scope, receive, send_late)
            else:
                await self.app(scope, receive, send)
            return
        faults.injected[kind] += 1
        if kind == "timeout":
            await anyio.sleep(faults.hang_seconds)
            status, body, ctype = 504, b'{"title": "Gateway Timeout"}', b"application/json"
        elif kind == "garbage":
            status, body, ctype = 200, b"<html>\x00 not json", b"application/json"
        else:
            status, body = faults.error_status, b'{"title": "Service Unavailable", "status": 503}'
            ctype = b"application/problem+json"
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", ctype)]})
        await send({"type": "http.response.body", "body": body})
