"""Stock through the offers API (PWS 2.0): ``checkoutLimitPerPeriod`` of each listed offer.

Only what changed since the last accepted value is sent (remembered in the instance's state directory and
re-sent after ``offers_refresh_hours``). SKUs that cannot appear in an offer URL are reported, not sent.
Offers are neither created nor deleted unless ``offers_at_zero = "delete"``: then an offer is read and kept
before it is deleted at zero, and put back from that copy when stock returns.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio

from ordersyncd.plugin import (
    AuthenticationError,
    PermanentOrderError,
    RateLimited,
    StockItemResult,
    StockItemStatus,
    StockLevel,
    TransientError,
)

from .client import IdealoClient

__all__ = ["OfferStock", "sku_url_problem"]

#: Characters PWS forbids in paths (reference PWS §1), and non-printable ASCII.
_FORBIDDEN = re.compile(r"[/%;\\\x00-\x1f\x7f]")


def sku_url_problem(sku: str) -> str:
    """Why ``sku`` cannot be the ``{sku}`` path segment of an offer URL, or ``""`` when it can."""
    if not sku:
        return "idealo offers are addressed by SKU; this item has none"
    if sku in {".", ".."}:
        return f"SKU {sku!r} would not survive path normalisation"
    found = _FORBIDDEN.search(sku)
    if found:
        return f"SKU {sku!r} contains {found.group()!r}, which the offers API does not allow in URLs"
    return ""


class OfferStock:
    """Publishes absolute stock as offer availability and remembers what idealo accepted."""

    def __init__(
        self,
        client: IdealoClient,
        state_dir: Path,
        *,
        at_zero: str = "limit",
        concurrency: int = 4,
        refresh_seconds: float = 86400.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.at_zero = at_zero
        self.concurrency = concurrency
        self.refresh_seconds = refresh_seconds
        self.now = now
        self._path = state_dir / "idealo-offers.json"
        self._saved_dir = state_dir / "idealo-deleted-offers"
        self.published: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.published, sort_keys=True))
        os.replace(temporary, self._path)

    def _unchanged(self, sku: str, quantity: int) -> bool:
        entry = self.published.get(sku)
        if entry is None or entry.get("quantity") != quantity:
            return False
        return self.now() - float(entry.get("at", 0)) < self.refresh_seconds

    async def push(self, levels: Sequence[StockLevel]) -> list[StockItemResult]:
        """One result per level, in order. Raises only when the whole push cannot go on (auth, 429)."""
        results: list[StockItemResult | None] = [None] * len(levels)
        fatal: list[BaseException] = []
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def one(index: int, level: StockLevel) -> None:
            async with limiter:
                if fatal:
                    results[index] = _result(level, StockItemStatus.FAILED, "push stopped early")
                    return
                try:
                    results[index] = await self._push_one(level)
                except (AuthenticationError, RateLimited) as error:
                    fatal.append(error)
                    results[index] = _result(level, StockItemStatus.FAILED, str(error))

        try:
            async with anyio.create_task_group() as group:
                for index, level in enumerate(levels):
                    group.start_soon(one, index, level)
        finally:
            self._save()
        if fatal:
            raise fatal[0]
        return [r for r in results if r is not None]

    async def _push_one(self, level: StockLevel) -> StockItemResult:
        problem = sku_url_problem(level.sku)
        if problem:
            return _result(level, StockItemStatus.REJECTED, problem)
        if self._unchanged(level.sku, level.quantity):
            return _result(level, StockItemStatus.ACCEPTED, "unchanged")
        path = f"/shop/{{shop_id}}/offer/{quote(level.sku, safe='')}"
        try:
            if level.quantity == 0 and self.at_zero == "delete":
                await self._delete(level.sku, path)
            else:
                await self._publish(level, path)
        except PermanentOrderError as error:
            return _result(level, StockItemStatus.REJECTED, error.message)
        except TransientError as error:
            if isinstance(error, RateLimited):
                raise
            return _result(level, StockItemStatus.FAILED, error.message)
        self.published[level.sku] = {"quantity": level.quantity, "at": self.now()}
        return _result(level, StockItemStatus.ACCEPTED)

    async def _publish(self, level: StockLevel, path: str) -> None:
        body = {"sku": level.sku, "checkoutLimitPerPeriod": level.quantity}
        response = await self.client.request("PATCH", path, json_body=body, expect=(404,))
        if response.status_code != 404:
            return
        saved = self._saved(level.sku)
        if saved is None:
            raise PermanentOrderError(
                f"offer {level.sku} is not listed at idealo (listing offers is the feed's job)"
            )
        await self.client.request("PUT", path, json_body={**saved, "checkoutLimitPerPeriod": level.quantity})
        self._saved_path(level.sku).unlink(missing_ok=True)

    async def _delete(self, sku: str, path: str) -> None:
        response = await self.client.request("GET", path, expect=(404,))
        if response.status_code == 404:
            return  # nothing listed: nothing to take down
        offer = self.client.decode(response)
        if isinstance(offer, dict):
            target = self._saved_path(sku)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(offer))
        await self.client.request("DELETE", path, expect=(404,))

    def _saved_path(self, sku: str) -> Path:
        return self._saved_dir / (quote(sku, safe="") + ".json")

    def _saved(self, sku: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._saved_path(sku).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _result(level: StockLevel, status: StockItemStatus, reason: str = "") -> StockItemResult:
    return StockItemResult(sku=level.sku, ean=level.ean, status=status, reason=reason)
