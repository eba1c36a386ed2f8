"""The REST transport: authentication, JSON, pagination (``X-WP-TotalPages``) and error classification."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ordersyncd.plugin import TransientError

from .auth import RequestAuth
from .errors import SYSTEM, classify

__all__ = ["PER_PAGE", "Page", "WooClient"]

#: WordPress caps ``per_page`` at 100.
PER_PAGE = 100

Params = Mapping[str, str | int]


class Page:
    """One page of a collection: its items and the totals WordPress reports in headers."""

    def __init__(self, items: list[dict[str, Any]], total: int | None, total_pages: int | None) -> None:
        self.items = items
        self.total = total
        self.total_pages = total_pages


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


class WooClient:
    """Calls one store's REST API below ``{store_url}{api_prefix}`` (the client's base URL)."""

    def __init__(self, http: httpx.AsyncClient, auth: RequestAuth) -> None:
        self._http = http
        self._auth = auth

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        operation: str = "",
    ) -> httpx.Response:
        """Send an authenticated request; return the successful response or raise a classified error."""
        operation = operation or f"{method} {path}"
        request = self._http.build_request(
            method,
            path,
            params={k: str(v) for k, v in (params or {}).items()},
            json=json,
            headers={"Accept": "application/json"},
        )
        request = self._auth.apply(request)
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException:
            raise TransientError(f"{SYSTEM}: {operation} timed out") from None
        except httpx.TransportError as error:
            raise TransientError(f"{SYSTEM}: {operation} failed ({type(error).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise classify(response, operation)
        return response

    async def json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        operation: str = "",
    ) -> Any:
        """:meth:`request` and decode the JSON body (a malformed body is transient)."""
        response = await self.request(method, path, params=params, json=json, operation=operation)
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"{SYSTEM}: {operation or path}: malformed response body") from None

    async def page(self, path: str, params: Params, page: int, operation: str = "") -> Page:
        """One page (``page``, 1-based) of a collection of ``PER_PAGE`` items."""
        query = {**params, "per_page": PER_PAGE, "page": page}
        response = await self.request("GET", path, params=query, operation=operation)
        try:
            items = response.json()
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TransientError(f"{SYSTEM}: {operation or path}: expected a JSON list")
        return Page(items, _int_header(response, "X-WP-Total"), _int_header(response, "X-WP-TotalPages"))

    async def pages(
        self, path: str, params: Params, *, max_pages: int | None = None, operation: str = ""
    ) -> AsyncIterator[Page]:
        """Every page of a collection, following ``X-WP-TotalPages`` (a short page ends it when the header
        is missing). Stops after ``max_pages`` pages when given."""
        number = 1
        while True:
            page = await self.page(path, params, number, operation)
            yield page
            if page.total_pages is not None:
                if number >= page.total_pages or not page.items:
                    return
            elif len(page.items) < PER_PAGE:
                return
            if max_pages is not None and number >= max_pages:
                return
            number += 1
