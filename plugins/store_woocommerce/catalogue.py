"""Products and variations: resolving an order line's SKU or EAN to WooCommerce ids, and walking the
catalogue for stock.

An EAN lives in ``global_unique_id`` (WooCommerce 9.2+) or, with ``ean_meta_key``, in a plugin's product
meta (``_alg_ean``, ``_wpm_gtin_code``, …) that the REST API cannot filter on: those are found in a local
index built by walking every product and variation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ordersyncd.plugin import OrderLine, PermanentOrderError

from .client import WooClient
from .errors import SYSTEM

__all__ = ["CatalogueItem", "ProductResolver", "item_from", "walk_catalogue"]

#: A miss in the EAN index rebuilds it when it is older than this many seconds.
INDEX_REFRESH_ON_MISS = 60.0


@dataclass(frozen=True)
class CatalogueItem:
    """A sellable product or variation with what ordersyncd needs of it."""

    product_id: int
    variation_id: int
    sku: str
    ean: str
    manage_stock: bool
    stock_quantity: int | None

    @property
    def reference(self) -> dict[str, int]:
        """``line_items[]`` ids: ``product_id`` (the parent for a variation) and ``variation_id``."""
        if self.variation_id:
            return {"product_id": self.product_id, "variation_id": self.variation_id}
        return {"product_id": self.product_id}


def _meta(node: Mapping[str, Any], key: str) -> str:
    for entry in node.get("meta_data") or ():
        if isinstance(entry, Mapping) and entry.get("key") == key:
            value = entry.get("value")
            return str(value).strip() if isinstance(value, str | int) else ""
    return ""


def _quantity(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def item_from(
    node: Mapping[str, Any], ean_meta_key: str | None, parent: Mapping[str, Any] | None = None
) -> CatalogueItem:
    """A catalogue item from a product or variation object (``parent`` given for variations fetched from
    ``/products/{id}/variations``; search results carry ``parent_id`` themselves)."""
    ean = _meta(node, ean_meta_key) if ean_meta_key else str(node.get("global_unique_id") or "").strip()
    manage = node.get("manage_stock")
    quantity = _quantity(node.get("stock_quantity"))
    if manage == "parent":  # a variation using its parent's stock
        manage = bool(parent and parent.get("manage_stock") is True)
        quantity = _quantity(parent.get("stock_quantity")) if parent else quantity
    is_variation = node.get("type") == "variation" or parent is not None
    parent_id = int(parent["id"]) if parent is not None else int(node.get("parent_id") or 0)
    return CatalogueItem(
        product_id=parent_id if is_variation else int(node["id"]),
        variation_id=int(node["id"]) if is_variation else 0,
        sku=str(node.get("sku") or "").strip(),
        ean=ean,
        manage_stock=manage is True,
        stock_quantity=quantity,
    )


async def walk_catalogue(client: WooClient, ean_meta_key: str | None) -> AsyncIterator[CatalogueItem]:
    """Every simple product and every variation of variable products, page by page (100 per page)."""
    async for page in client.pages("wc/v3/products", {"orderby": "id", "order": "asc"}, operation="products"):
        for product in page.items:
            if product.get("type") == "variable":
                path = f"wc/v3/products/{int(product['id'])}/variations"
                async for variations in client.pages(path, {}, operation="product variations"):
                    for variation in variations.items:
                        yield item_from(variation, ean_meta_key, parent=product)
            elif product.get("type") not in {"grouped", "external"}:
                yield item_from(product, ean_meta_key)


class ProductResolver:
    """Resolves order lines to ``line_items[]`` references, with a cache."""

    def __init__(
        self,
        client: WooClient,
        identifier: str,
        ean_meta_key: str | None,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._identifier = identifier
        self._ean_meta_key = ean_meta_key
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[CatalogueItem, float]] = {}
        self._index: dict[str, list[CatalogueItem]] = {}
        self._index_built: float | None = None

    def identifier_of(self, line: OrderLine) -> str:
        """The line's value of the product identification attribute (permanent error when missing)."""
        value = line.sku if self._identifier == "sku" else line.ean
        if not value:
            name = "SKU" if self._identifier == "sku" else "EAN"
            raise PermanentOrderError(
                f"line {line.line_id}: no {name} (the product identification attribute)"
            )
        return value

    def forget(self) -> None:
        """Drop cached resolutions (a product may have been deleted)."""
        self._cache.clear()

    async def resolve(self, line: OrderLine) -> CatalogueItem:
        """The product or variation of ``line``; :class:`PermanentOrderError` when none or several."""
        value = self.identifier_of(line)
        now = self._clock()
        cached = self._cache.get(value)
        if cached is not None and cached[1] > now:
            return cached[0]
        if self._identifier == "sku":
            matches = await self._search("sku", value)
        elif self._ean_meta_key is None:
            matches = await self._search("global_unique_id", value) or await self._from_index(value)
        else:
            matches = await self._from_index(value)
        name = "SKU" if self._identifier == "sku" else "EAN"
        if not matches:
            self._cache.pop(value, None)
            raise PermanentOrderError(f"unknown product: no {SYSTEM} product with {name} {value!r}")
        distinct = {(m.product_id, m.variation_id) for m in matches}
        if len(distinct) > 1:
            raise PermanentOrderError(
                f"ambiguous product: {len(distinct)} {SYSTEM} products with {name} {value!r}"
            )
        self._cache[value] = (matches[0], now + self._cache_seconds)
        return matches[0]

    async def _search(self, parameter: str, value: str) -> list[CatalogueItem]:
        found = await self._client.json(
            "GET",
            "wc/v3/products",
            params={parameter: value, "per_page": 100},
            operation=f"find product by {parameter}",
        )
        if not isinstance(found, list):
            return []
        items = [item_from(node, self._ean_meta_key) for node in found if isinstance(node, Mapping)]
        key = "sku" if parameter == "sku" else "ean"
        return [item for item in items if getattr(item, key) == value]

    async def _from_index(self, value: str) -> list[CatalogueItem]:
        now = self._clock()
        age = None if self._index_built is None else now - self._index_built
        stale = age is None or age > self._cache_seconds
        if stale or (value not in self._index and age is not None and age > INDEX_REFRESH_ON_MISS):
            await self._build_index()
        return list(self._index.get(value, ()))

    async def _build_index(self) -> None:
        index: dict[str, list[CatalogueItem]] = {}
        async for item in walk_catalogue(self._client, self._ean_meta_key):
            if item.ean:
                index.setdefault(item.ean, []).append(item)
        self._index = index
        self._index_built = self._clock()
