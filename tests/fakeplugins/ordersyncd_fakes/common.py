"""What both fake plugins share: settings and turning HTTP failures into classified errors."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from ordersyncd.plugin import PluginError, Secret, TransientError, classify_http_error, require_https


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    token: Secret | None = None
    timeout: float = 10.0

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        problem = require_https(value)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")


async def request(client: httpx.AsyncClient, system: str, method: str, url: str, **kwargs: Any) -> Any:
    """Send a request; classify what goes wrong; return the decoded JSON body."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as error:
        raise TransientError(f"{system}: {method} {url} timed out") from error
    except httpx.TransportError as error:
        raise TransientError(f"{system}: {method} {url} failed: {type(error).__name__}") from error
    if response.status_code >= 400:
        raise classify_http_error(response, system)
    try:
        return response.json()
    except ValueError as error:
        raise TransientError(f"{system}: {method} {url} answered with a body that is not JSON") from error


def client_for(plugin: Any, system: str) -> httpx.AsyncClient:
    settings: FakeSettings = plugin.settings
    headers = {"Authorization": f"Bearer {settings.token.reveal()}"} if settings.token else {}
    return plugin.context.http_client(
        system, base_url=settings.base_url, timeout=settings.timeout, headers=headers
    )


def require(client: httpx.AsyncClient | None) -> httpx.AsyncClient:
    if client is None:
        raise PluginError("plugin used before startup")
    return client
