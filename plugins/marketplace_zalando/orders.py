"""Order listing: windowed polling over ``GET /merchants/{id}/orders`` with JSON:API includes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ordersyncd.plugin import RawOrder, TransientError

from .client import ZDirectClient
from .settings import ORDER_TYPES

__all__ = ["fetch_window", "format_time", "join_included", "parse_time"]

#: Zalando timestamps carry milliseconds; exclusive bounds are moved by this much to become inclusive.
TICK = timedelta(milliseconds=1)
#: How often one run may re-page after orders left the window while paging.
MAX_RESTARTS = 20


def format_time(value: datetime) -> str:
    """ISO-8601 in UTC with ``Z`` (a raw ``+01:00`` would turn into a space in a query string)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """Parse a zDirect timestamp; ``None`` when absent or unparseable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: A page's included items and lines by id (see :func:`index_included`).
IncludedIndex = tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]


def index_included(included: Sequence[Any]) -> IncludedIndex:
    """The order items and order lines of a page's ``included``, by id: made once per page, not per order (a
    page of 1,000 orders has some 6,000 included resources)."""
    items_by_id = {r["id"]: r for r in included if isinstance(r, dict) and r.get("type") == "OrderItem"}
    lines_by_id = {r["id"]: r for r in included if isinstance(r, dict) and r.get("type") == "OrderLine"}
    return items_by_id, lines_by_id


def join_included(
    order: Mapping[str, Any], included: Sequence[Any], index: IncludedIndex | None = None
) -> dict[str, Any]:
    """The payload kept for one order: the order resource plus its items and lines from ``included`` (``index``:
    :func:`index_included` of it, when already made)."""
    items_by_id, lines_by_id = index if index is not None else index_included(included)
    order_id = order.get("id")
    item_refs = ((order.get("relationships") or {}).get("order_items") or {}).get("data")
    if isinstance(item_refs, list):
        items = [items_by_id[ref["id"]] for ref in item_refs if ref.get("id") in items_by_id]
    else:
        items = [i for i in items_by_id.values() if (i.get("attributes") or {}).get("order_id") == order_id]
    lines: list[dict[str, Any]] = []
    for item in items:
        line_refs = ((item.get("relationships") or {}).get("order_lines") or {}).get("data")
        if isinstance(line_refs, list):
            lines.extend(lines_by_id[ref["id"]] for ref in line_refs if ref.get("id") in lines_by_id)
        else:
            lines.extend(
                line
                for line in lines_by_id.values()
                if (line.get("attributes") or {}).get("order_item_id") == item.get("id")
            )
    return {"order": dict(order), "items": items, "lines": lines}


def _next_page(links: Any, current: int) -> int | None:
    """The page number ``links.next`` points to, ``None`` when there is no next page."""
    if not isinstance(links, dict) or not links.get("next"):
        return None
    query = parse_qs(urlsplit(str(links["next"])).query)
    try:
        return int(query["page[number]"][0])
    except (KeyError, IndexError, ValueError):
        return current + 1


async def fetch_window(
    client: ZDirectClient,
    merchant_id: str,
    *,
    order_types: Sequence[str],
    since: datetime,
    until: datetime,
    page_size: int,
) -> AsyncIterator[RawOrder]:
    """Yield approved orders of ``order_types`` modified in ``(since, until]``, each once, oldest first.

    ``last_updated_after``/``last_updated_before`` are exclusive, so the upper bound sent is ``until``
    plus one millisecond, fixed for the whole run. Pages are followed through ``links.next``. When
    ``meta.number_of_results`` drops while paging (an order was updated and left the window, shifting the
    later ones forward), paging restarts at the last ``modified_at`` of the pages before, inclusively (the
    shifted orders sort at or after it), so nothing is skipped;
    orders seen twice are yielded once (dedupe by order id).
    """
    path = f"/merchants/{merchant_id}/orders"
    base: dict[str, str] = {
        "order_status": "approved",
        "include": "order_items,order_lines",
        "sort": "modified_at",
        "page[size]": str(page_size),
        "last_updated_before": format_time(until + TICK),
    }
    if len(set(order_types)) == 1:
        base["order_type"] = ORDER_TYPES[order_types[0]]
    seen: dict[str, datetime | None] = {}
    after = since
    page = 0
    expected: int | None = None
    restarts = 0
    last_seen: datetime | None = None
    while True:
        params = {**base, "last_updated_after": format_time(after), "page[number]": str(page)}
        body = await client.json("GET", path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise TransientError("zalando: the order list is not a JSON:API collection")
        data: list[Any] = body.get("data") or []
        included: list[Any] = body.get("included") or []
        index = index_included(included)
        before_page = last_seen
        for resource in data:
            if not isinstance(resource, dict) or not resource.get("id"):
                raise TransientError("zalando: an order in the list has no id")
            order_id = str(resource["id"])
            modified = parse_time((resource.get("attributes") or {}).get("modified_at"))
            if modified is not None and (last_seen is None or modified > last_seen):
                last_seen = modified
            if order_id in seen and (modified is None or (seen[order_id] or modified) >= modified):
                continue
            seen[order_id] = modified
            yield RawOrder(
                order_id=order_id, modified_at=modified, payload=join_included(resource, included, index)
            )
        total = (body.get("meta") or {}).get("number_of_results")
        if isinstance(total, int):
            if (
                expected is not None
                and total < expected
                and before_page is not None
                and restarts < MAX_RESTARTS
            ):
                restarts += 1
                after, page, expected = before_page - TICK, 0, None
                continue
            expected = total if expected is None else expected
        following = _next_page(body.get("links"), page)
        if following is None or not data:
            return
        page = following
