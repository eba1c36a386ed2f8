"""Stock from the store (the master) to a marketplace.

Published quantity = store available - units of orders fetched but not yet created in the store (on any
connection of the same store) - the connection's ``stock_buffer``, never below 0. Absolute quantities, never
deltas. Only what changed since the last accepted push is sent, except on a full push (``full_stock_push``
schedule, ``ordersyncd stock push --full``). Every item's answer is recorded: rejected items are listed with
their reason and not re-sent until their quantity changes (or a full push), failed items are retried with
backoff, pending items (e.g. Zalando's "pending onboarding") are re-sent every run. One push at a time per
connection, so an older quantity never overtakes a newer one.

The catalog is streamed in pages: memory holds one page and its records, never the whole catalog.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import anyio
import structlog

from .errors import AuthenticationError, RateLimited
from .journal import Journal, StockRecord
from .metrics import Metrics
from .model import Order, StockItemResult, StockItemStatus, StockLevel
from .pipeline import SHARED_RNG, ConnectionDown, backoff_delay
from .plugin_host import ConnectionPlugins, iterate

__all__ = ["KEEP_IN_MEMORY_BELOW", "StockCache", "StockRun", "StockSync", "product_key"]

log = structlog.get_logger("ordersyncd.stock")

PAGE = 2000


def product_key(sku: str, ean: str) -> str:
    """The journal's key of a product: by EAN when known (what marketplaces match on), else by SKU."""
    return f"ean:{ean}" if ean else f"sku:{sku}"


class StockCache:
    """What the stock jobs remember between runs, shared by every connection of one daemon: the last push
    record per (marketplace account, product) and the last known quantity per (store, product). Loaded from the
    journal once, then kept in step with it, so a run over a large catalog touches the journal only for what
    changed. Memory: one small record per product, never the catalog's levels."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._records: dict[str, dict[str, StockRecord]] = {}
        self._store: dict[str, dict[str, int]] = {}

    async def records(self, account: str) -> dict[str, StockRecord]:
        if account not in self._records:
            self._records[account] = await self.journal.all_stock_records(account)
        return self._records[account]

    async def store_quantities(self, store: str) -> dict[str, int]:
        if store not in self._store:
            self._store[store] = await self.journal.all_store_quantities(store)
        return self._store[store]

    def forget(self, account: str, store: str) -> None:
        """Drop what is held for ``account`` and ``store``; the next use reads it from the journal again."""
        self._records.pop(account, None)
        self._store.pop(store, None)


#: A connection whose stock job runs less often than this (seconds) does not keep its account's and store's
#: stock state in memory between runs: the next run reads it from the journal (one query each). With thousands
#: of connections the cached state of every catalog was most of the daemon's memory (200 products x 5,000
#: stores: about 1 GB), while a run every 15 minutes gains nothing from keeping it.
KEEP_IN_MEMORY_BELOW = 600.0


@dataclass
class StockRun:
    """What one stock run did."""

    read: int = 0
    sent: int = 0
    unchanged: int = 0
    results: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in StockItemStatus})


class StockSync:
    """The stock job of one connection."""

    def __init__(
        self,
        journal: Journal,
        plugins: ConnectionPlugins,
        metrics: Metrics | None,
        *,
        store_connections: Callable[[], Sequence[str]] | None = None,
        clock: Callable[[], float] = time.time,
        page: int = PAGE,
        cache: StockCache | None = None,
    ) -> None:
        self.journal = journal
        self.plugins = plugins
        self.name = plugins.info.name
        #: This connection's series (``None`` without metrics).
        self.stats = metrics.connection(self.name) if metrics is not None else None
        self.account = plugins.settings.marketplace
        self.store = plugins.settings.store
        self.buffer = plugins.settings.stock_buffer
        self.full_interval = plugins.settings.full_stock_push
        #: How often the stock job runs (decides whether its state stays in memory between runs).
        self.interval = float(plugins.settings.intervals.sync_stock)
        #: Names of every connection of the same store (their unimported orders reserve units too).
        self.store_connections = store_connections or (lambda: [self.name])
        self.clock = clock
        self.page = page
        self.rng = SHARED_RNG
        self.lock = anyio.Lock()
        self.cache = cache or StockCache(journal)
        self.last_full: float | None = None
        self._queue: list[tuple[str, StockLevel, StockRecord | None]] = []

    async def run(self, *, full: bool | None = None) -> StockRun:
        """Read the store's stock and push what changed (everything when ``full``; by default a full push is
        made when ``full_stock_push`` has passed since the last one). A refused login or a rate limit raises
        :class:`ConnectionDown` (with the Retry-After), like the order jobs."""
        try:
            return await self._run(full)
        except (AuthenticationError, RateLimited) as error:
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            raise ConnectionDown(f"{type(error).__name__}: {error.message}", retry_after) from error
        finally:
            if self.interval >= KEEP_IN_MEMORY_BELOW:
                self.cache.forget(self.account, self.store)

    async def _run(self, full: bool | None) -> StockRun:
        async with self.lock:
            now = self.clock()
            if full is None:
                full = self.last_full is None or now - self.last_full >= self.full_interval
            pending = await self.journal.pending_units(self.store_connections())
            run = StockRun()
            self._queue = []
            batch: list[StockLevel] = []
            async for level in iterate(self.plugins.call("read_stock")):
                batch.append(level)
                if len(batch) >= self.page:
                    await self._page(batch, pending, full, run, flush=False)
                    batch = []
            await self._page(batch, pending, full, run)
            if full:
                self.last_full = now
            log.info(
                "stock synchronized",
                connection=self.name,
                full=full,
                read=run.read,
                sent=run.sent,
                unchanged=run.unchanged,
                **run.results,
            )
            return run

    async def after_order(self, order: Order) -> StockRun | None:
        """Oversell guard: an order of another connection of the same store was created in the store. Lower the
        store quantities it took and push the affected products now, without waiting for the next run.

        Returns ``None`` when there is nothing to do (the order did not touch the store's inventory)."""
        if not order.update_store_inventory:
            return None
        taken: dict[str, int] = {}
        identity: dict[str, tuple[str, str]] = {}
        for line in order.lines:
            key = product_key(line.sku, line.ean)
            taken[key] = taken.get(key, 0) + line.quantity
            identity[key] = (line.sku, line.ean)
        store_quantities = await self.cache.store_quantities(self.store)
        if any(key not in store_quantities for key in taken):
            # A product never read from the store: its quantity is unknown here, read the store instead.
            return await self._run(False)
        async with self.lock:
            known = {key: store_quantities[key] for key in taken}
            estimated = {key: max(0, known[key] - units) for key, units in taken.items()}
            await self.journal.set_store_quantities(self.store, estimated, self.clock())
            store_quantities.update(estimated)
            pending = await self.journal.pending_units(self.store_connections())
            levels = [
                StockLevel(sku=identity[key][0], ean=identity[key][1], quantity=quantity)
                for key, quantity in estimated.items()
            ]
            run = StockRun()
            self._queue = []
            await self._page(levels, pending, False, run, store_known=True)
            log.info(
                "stock pushed after an order of another connection",
                connection=self.name,
                order_id=order.order_id,
                sent=run.sent,
            )
            return run

    # ------------------------------------------------------------------ one page
    def _published(self, level: StockLevel, pending: dict[str, int]) -> int:
        waiting = pending.get(f"sku:{level.sku}", 0) if level.sku else 0
        if not waiting and level.ean:
            waiting = pending.get(f"ean:{level.ean}", 0)
        return max(0, level.quantity - waiting - self.buffer)

    def _due(self, record: StockRecord | None, quantity: int, full: bool, now: float) -> bool:
        if full or record is None:
            return True
        status = StockItemStatus(record.status)
        if status is StockItemStatus.ACCEPTED:
            return record.accepted_quantity != quantity
        if status is StockItemStatus.REJECTED:
            return record.quantity != quantity
        if status is StockItemStatus.FAILED:
            return record.quantity != quantity or record.next_attempt_at <= now
        return True  # pending: keep re-sending until accepted

    async def _page(
        self,
        levels: Sequence[StockLevel],
        pending: dict[str, int],
        full: bool,
        run: StockRun,
        *,
        store_known: bool = False,
        flush: bool = True,
    ) -> None:
        """Decide which products of one page must be sent and queue them; send when a batch is full (and,
        with ``flush``, whatever is queued). Changed items of many pages share one request."""
        now = self.clock()
        run.read += len(levels)
        keys = [product_key(level.sku, level.ean) for level in levels]
        if not store_known:
            store_quantities = await self.cache.store_quantities(self.store)
            changed = {
                k: level.quantity
                for k, level in zip(keys, levels, strict=True)
                if store_quantities.get(k) != level.quantity
            }
            if changed:
                await self.journal.set_store_quantities(self.store, changed, now)
                store_quantities.update(changed)
        records = await self.cache.records(self.account)
        accepted = StockItemStatus.ACCEPTED.value
        plain = not pending and not self.buffer  # nothing to subtract: the published quantity is the store's
        queue = self._queue
        for key, level in zip(keys, levels, strict=True):
            quantity = level.quantity if plain else self._published(level, pending)
            record = records.get(key)
            # Fast path for the common case of a large catalog: accepted before, unchanged since.
            if (
                not full
                and record is not None
                and record.status == accepted
                and record.accepted_quantity == quantity
            ):
                run.unchanged += 1
            elif self._due(record, quantity, full, now):
                queue.append(
                    (
                        key,
                        level
                        if quantity == level.quantity
                        else level.model_copy(update={"quantity": quantity}),
                        record,
                    )
                )
            else:
                run.unchanged += 1
        batch = self._batch_size()
        while len(self._queue) >= batch:
            await self._send(self._queue[:batch], run)
            del self._queue[:batch]
        if flush and self._queue:
            await self._send(self._queue, run)
            self._queue = []

    def _batch_size(self) -> int:
        size = getattr(self.plugins.marketplace, "stock_batch_size", 1000)
        return max(1, int(size))

    async def _send(self, items: Sequence[tuple[str, StockLevel, StockRecord | None]], run: StockRun) -> None:
        now = self.clock()
        results: Sequence[StockItemResult] = await self.plugins.acall(
            "update_stock", levels=[level for _, level, _ in items]
        )
        if len(results) != len(items):
            raise RuntimeError(f"update_stock answered {len(results)} results for {len(items)} items")
        run.sent += len(items)
        outcomes: list[StockRecord] = []
        for (key, level, previous), result in zip(items, results, strict=True):
            run.results[result.status.value] += 1
            attempts = 0
            next_at = 0.0
            if result.status is StockItemStatus.FAILED:
                attempts = (previous.attempts if previous else 0) + 1
                next_at = now + backoff_delay(
                    attempts,
                    self.plugins.settings.backoff_initial,
                    self.plugins.settings.backoff_max,
                    self.rng,
                )
            elif result.status is StockItemStatus.REJECTED:
                log.warning("stock item rejected", connection=self.name, product=key, reason=result.reason)
            outcomes.append(
                StockRecord(
                    product=key,
                    sku=level.sku,
                    ean=level.ean,
                    quantity=level.quantity,
                    accepted_quantity=level.quantity if result.status is StockItemStatus.ACCEPTED else None,
                    status=result.status.value,
                    reason=result.reason,
                    attempts=attempts,
                    next_attempt_at=next_at,
                    updated_at=now,
                )
            )
        await self.journal.record_stock_results(self.account, self.name, outcomes)
        records = await self.cache.records(self.account)
        for (key, _level, previous), outcome in zip(items, outcomes, strict=True):
            if outcome.accepted_quantity is None and previous is not None:
                outcome = replace(outcome, accepted_quantity=previous.accepted_quantity)
            records[key] = outcome
        if self.stats is not None:
            self.stats.stock_pushed += run_count(results, StockItemStatus.ACCEPTED)
            self.stats.stock_rejected += run_count(results, StockItemStatus.REJECTED)


def run_count(results: Sequence[StockItemResult], status: StockItemStatus) -> int:
    return sum(1 for r in results if r.status is status)
