"""Request recording for simulators: what exactly went over the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["RecordedExchange", "RequestRecorder"]


@dataclass
class RecordedExchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None


class RequestRecorder:
    """ASGI middleware keeping every HTTP exchange in :attr:`exchanges` (bounded by ``limit``)."""

    def __init__(self, app: Any, limit: int = 100_000) -> None:
        self.app = app
        self.limit = limit
        self.exchanges: list[RecordedExchange] = []

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[RecordedExchange]:
        return [
            e
            for e in self.exchanges
            if (method is None or e.method == method) and e.path.startswith(path_prefix)
        ]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def receive_and_keep() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        exchange = RecordedExchange(
            method=scope["method"],
            path=scope["path"],
            query=parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])},
            body=b"",
        )
        out: list[bytes] = []

        async def send_and_keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        if len(self.exchanges) < self.limit:
            self.exchanges.append(exchange)
        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        finally:
            exchange.body = b"".join(chunks)
            exchange.response_body = b"".join(out)
