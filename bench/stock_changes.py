"""Benchmark (issue: stock sync): a 100,000-product catalog with 1 % changed.

Measures, for a run after a first full push: the time to compute and send the change set (total, and without
the time the stub store spends building its 100,000 StockLevel objects, which a real store plugin spends on its
own), the peak memory growth of such a run (tracemalloc, Python allocations, measured on a second change run), and
the number of marketplace requests, against the target ceil(changed items x channels / batch limit). The store and the marketplace are in-process stubs so that only the
core's own work is measured (journal: the real SQLite journal in a temporary directory).

    python bench/stock_changes.py [--products 100000] [--changed 0.01] [--channels 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ordersyncd.journal import SqliteJournal
from ordersyncd.model import StockItemResult, StockItemStatus, StockLevel
from ordersyncd.stock import StockSync


class Catalog:
    """The store: ``products`` levels, streamed like a store plugin streams them."""

    def __init__(self, products: int) -> None:
        self.quantities = {f"SKU-{i:06d}": 10 + i % 50 for i in range(products)}
        self.read_seconds = 0.0  # time spent making the levels (the store plugin's share, not the core's)

    async def read(self) -> AsyncIterator[StockLevel]:
        for n, (sku, quantity) in enumerate(self.quantities.items()):
            start = time.perf_counter()
            level = StockLevel(sku=sku, ean=f"40{n:011d}", quantity=quantity)
            self.read_seconds += time.perf_counter() - start
            yield level


class Marketplace:
    """Counts what a marketplace with ``channels`` sales channels and a per-request item limit would receive."""

    stock_batch_size = 1000

    def __init__(self, channels: int, limit: int = 1000) -> None:
        self.channels = channels
        self.limit = limit
        self.requests = 0
        self.items = 0

    async def update(self, levels: Sequence[StockLevel]) -> list[StockItemResult]:
        items = len(levels) * self.channels  # one item per (channel, EAN), as Zalando wants them
        self.requests += math.ceil(items / self.limit)
        self.items += items
        return [
            StockItemResult(sku=level.sku, ean=level.ean, status=StockItemStatus.ACCEPTED) for level in levels
        ]


class Plugins:
    """The two plugin calls StockSync makes, without a plugin host around them."""

    def __init__(self, catalog: Catalog, marketplace: Marketplace) -> None:
        self.catalog = catalog
        self.marketplace = marketplace
        self.info = SimpleNamespace(name="bench")
        self.settings = SimpleNamespace(
            marketplace="market",
            store="store",
            stock_buffer=0,
            full_stock_push=86_400.0,
            backoff_initial=5.0,
            backoff_max=60.0,
            # A frequent stock job: its state stays in memory between runs (ordersyncd.stock.KEEP_IN_MEMORY_BELOW).
            intervals=SimpleNamespace(sync_stock=60.0),
        )

    def call(self, hook: str, **kwargs: Any) -> Any:
        assert hook == "read_stock"
        return self.catalog.read()

    async def acall(self, hook: str, **kwargs: Any) -> Any:
        assert hook == "update_stock"
        return await self.marketplace.update(kwargs["levels"])


async def measure(products: int, changed_share: float, channels: int) -> dict[str, Any]:
    catalog = Catalog(products)
    marketplace = Marketplace(channels)
    with tempfile.TemporaryDirectory() as tmp:
        journal = SqliteJournal(Path(tmp) / "journal.sqlite3", synchronous="full")
        await journal.open()
        try:
            sync = StockSync(journal, Plugins(catalog, marketplace), None)  # type: ignore[arg-type]
            start = time.perf_counter()
            first = await sync.run(full=True)
            first_seconds = time.perf_counter() - start
            rng = random.Random(1)
            skus = sorted(catalog.quantities)
            changed = rng.sample(skus, int(products * changed_share))
            for sku in changed:
                catalog.quantities[sku] += 1
            marketplace.requests = marketplace.items = 0
            catalog.read_seconds = 0.0
            start = time.perf_counter()
            second = await sync.run(full=False)
            seconds = time.perf_counter() - start
            store_seconds = catalog.read_seconds
            requests = marketplace.requests
            # Memory is measured on a second change run (tracemalloc slows allocation-heavy code down).
            for sku in rng.sample(skus, int(products * changed_share)):
                catalog.quantities[sku] += 1
            tracemalloc.start()
            await sync.run(full=False)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            await journal.close()
    expected_calls = math.ceil(len(changed) * channels / marketplace.limit)
    return {
        "products": products,
        "changed": len(changed),
        "channels": channels,
        "first_full_push_seconds": round(first_seconds, 3),
        "first_sent": first.sent,
        "change_run_seconds": round(seconds, 3),
        "change_run_store_seconds": round(store_seconds, 3),
        "change_run_core_seconds": round(seconds - store_seconds, 3),
        "change_run_sent": second.sent,
        "change_run_unchanged": second.unchanged,
        "peak_memory_growth_mb": round(peak / 2**20, 1),
        "marketplace_requests": requests,
        "minimum_requests": expected_calls,
        "targets": {
            "change_set_computed_under_1s": seconds - store_seconds < 1.0,
            "memory_growth_under_100mb": peak < 100 * 2**20,
            "requests_at_minimum": requests == expected_calls,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(measure(args.products, args.changed, args.channels))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
