"""Stock from the store to the marketplace (first cut: the full catalog every run, netted of orders fetched
but not yet created in the store). Change-only pushes, the oversell guard and per-item retry records come with
their own issue."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from .errors import AuthenticationError, RateLimited
from .journal import Journal
from .metrics import Metrics
from .model import StockItemResult, StockItemStatus, StockLevel
from .plugin_host import ConnectionPlugins, iterate

__all__ = ["StockSync"]

log = structlog.get_logger("ordersyncd.stock")


class StockSync:
    def __init__(
        self, journal: Journal, plugins: ConnectionPlugins, metrics: Metrics | None, batch: int = 500
    ) -> None:
        self.journal = journal
        self.plugins = plugins
        self.metrics = metrics
        self.batch = batch
        self.name = plugins.info.name

    async def run(self) -> dict[str, int]:
        """Push the store's stock; returns counts per item status."""
        pending = await self.journal.pending_units(self.name)
        counts = {status.value: 0 for status in StockItemStatus}
        batch: list[StockLevel] = []
        async for level in iterate(self.plugins.call("read_stock")):
            waiting = pending.get(f"sku:{level.sku}", 0) if level.sku else 0
            if not waiting and level.ean:
                waiting = pending.get(f"ean:{level.ean}", 0)
            net = max(0, level.quantity - waiting)
            batch.append(level if net == level.quantity else level.model_copy(update={"quantity": net}))
            if len(batch) >= self.batch:
                await self._push(batch, counts)
                batch = []
        if batch:
            await self._push(batch, counts)
        log.info("stock pushed", connection=self.name, **counts)
        return counts

    async def _push(self, levels: Sequence[StockLevel], counts: dict[str, int]) -> None:
        try:
            results: Sequence[StockItemResult] = await self.plugins.acall("update_stock", levels=list(levels))
        except (AuthenticationError, RateLimited):
            raise
        for result in results:
            counts[result.status.value] += 1
            if result.status is StockItemStatus.REJECTED:
                log.warning(
                    "stock item rejected",
                    connection=self.name,
                    sku=result.sku,
                    ean=result.ean,
                    reason=result.reason,
                )
        if self.metrics:
            self.metrics.stock_pushed.labels(connection=self.name).inc(
                sum(1 for r in results if r.status is StockItemStatus.ACCEPTED)
            )
            self.metrics.stock_rejected.labels(connection=self.name).inc(
                sum(1 for r in results if r.status is StockItemStatus.REJECTED)
            )
