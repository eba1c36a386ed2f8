"""Stock push: ``POST /merchants/{id}/stocks`` in batches, per-item results, client-side rate limits."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from ordersyncd.plugin import StockItemResult, StockItemStatus, StockLevel, TransientError

from .client import ZDirectClient

__all__ = ["MAX_BATCH", "StockPusher", "WindowBudget"]

#: Items per request (documented maximum).
MAX_BATCH = 1000
#: Rounds of re-sending FAILED items within one push.
FAILED_RETRIES = 2


class WindowBudget:
    """Sliding 60-second budget: at most ``requests`` calls and ``items`` units per ``window`` seconds.

    zDirect documents "60 requests/min and 2000 stock updates/min, whichever is hit first".
    """

    def __init__(
        self,
        requests: int = 60,
        items: int = 2000,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.requests = requests
        self.items = items
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[tuple[float, int]] = deque()

    async def acquire(self, units: int) -> None:
        """Wait until one request of ``units`` items fits in the window, then count it."""
        if units > self.items:
            raise ValueError("a batch larger than the per-window item budget can never be sent")
        while True:
            now = self.clock()
            while self._sent and now - self._sent[0][0] >= self.window:
                self._sent.popleft()
            used = sum(n for _, n in self._sent)
            if len(self._sent) < self.requests and used + units <= self.items:
                self._sent.append((now, units))
                return
            await self.sleep(max(0.01, self._sent[0][0] + self.window - now))


@dataclass
class _Item:
    index: int
    sales_channel_id: str
    ean: str
    quantity: int


def _status(result: object) -> tuple[StockItemStatus, str]:
    if not isinstance(result, dict):
        return StockItemStatus.FAILED, "no result for this item"
    status, code = result.get("status"), result.get("code")
    description = str(result.get("description") or "")
    if status == "ACCEPTED" and code == 104:
        return StockItemStatus.PENDING, description or "pending: EAN not yet onboarded (code 104)"
    if status == "ACCEPTED":
        return StockItemStatus.ACCEPTED, ""
    if status == "REJECTED":
        if code == 104:
            return StockItemStatus.PENDING, description or "pending: EAN not yet onboarded (code 104)"
        return StockItemStatus.REJECTED, description or f"rejected (code {code})"
    if status == "FAILED":
        return StockItemStatus.FAILED, description or f"failed (code {code})"
    return StockItemStatus.FAILED, f"unknown result status {status!r}"


_RANK = {
    StockItemStatus.ACCEPTED: 0,
    StockItemStatus.PENDING: 1,
    StockItemStatus.FAILED: 2,
    StockItemStatus.REJECTED: 3,
}


class StockPusher:
    """Pushes absolute quantities to every given sales channel, one item per (channel, EAN)."""

    def __init__(
        self, client: ZDirectClient, merchant_id: str, budget: WindowBudget, batch_size: int = MAX_BATCH
    ):
        self.client = client
        self.merchant_id = merchant_id
        self.budget = budget
        self.batch_size = max(1, min(batch_size, MAX_BATCH, budget.items))

    async def push(self, levels: Sequence[StockLevel], channels: Sequence[str]) -> list[StockItemResult]:
        """One result per level, in order: the worst outcome over its sales channels."""
        outcome: list[dict[str, tuple[StockItemStatus, str]]] = [{} for _ in levels]
        last_for_ean: dict[str, int] = {}
        for index, level in enumerate(levels):
            if level.ean:
                last_for_ean[level.ean] = index
        items = [
            _Item(index, channel, level.ean, level.quantity)
            for index, level in enumerate(levels)
            if level.ean and last_for_ean[level.ean] == index
            for channel in channels
        ]
        pending = items
        for attempt in range(FAILED_RETRIES + 1):
            failed: list[_Item] = []
            for start in range(0, len(pending), self.batch_size):
                batch = pending[start : start + self.batch_size]
                for item, (status, reason) in zip(batch, await self._send(batch), strict=True):
                    outcome[item.index][item.sales_channel_id] = (status, reason)
                    if status is StockItemStatus.FAILED:
                        failed.append(item)
            if not failed or attempt == FAILED_RETRIES:
                break
            pending = failed
        results = []
        for index, level in enumerate(levels):
            if not level.ean:
                results.append(
                    _result(level, StockItemStatus.REJECTED, "no EAN: zDirect stock is keyed by EAN")
                )
            elif not channels:
                results.append(
                    _result(level, StockItemStatus.REJECTED, "the merchant has no live sales channel")
                )
            elif last_for_ean[level.ean] != index:
                results.append(
                    _result(level, StockItemStatus.REJECTED, "EAN listed twice; the later level was sent")
                )
            else:
                status, reason = max(outcome[index].values(), key=lambda pair: _RANK[pair[0]])
                results.append(_result(level, status, reason))
        return results

    async def _send(self, batch: Sequence[_Item]) -> list[tuple[StockItemStatus, str]]:
        await self.budget.acquire(len(batch))
        body = {
            "items": [
                {"sales_channel_id": i.sales_channel_id, "ean": i.ean, "quantity": i.quantity} for i in batch
            ]
        }
        response = await self.client.json(
            "POST",
            f"/merchants/{self.merchant_id}/stocks",
            json_body=body,
            content_type="application/json",
            accept="application/json",
        )
        results = response.get("results") if isinstance(response, dict) else None
        if not isinstance(results, list):
            raise TransientError("zalando: the stock response has no results")
        by_key: dict[tuple[str, str], object] = {}
        for entry in results:
            if isinstance(entry, dict) and isinstance(entry.get("item"), dict):
                key = (str(entry["item"].get("sales_channel_id")), str(entry["item"].get("ean")))
                by_key[key] = entry.get("result")
        return [_status(by_key.get((i.sales_channel_id, i.ean))) for i in batch]


def _result(level: StockLevel, status: StockItemStatus, reason: str) -> StockItemResult:
    return StockItemResult(sku=level.sku, ean=level.ean, status=status, reason=reason)
