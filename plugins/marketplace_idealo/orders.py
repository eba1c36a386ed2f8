"""Reading orders: ``/new-orders``, the paged order list (the unacknowledged sweep, status searches) and one
order; acknowledging with the store's order number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ordersyncd.plugin import PermanentOrderError, RawOrder, TransientError

from .client import IdealoClient
from .mapping import parse_time

__all__ = [
    "ORDERS",
    "acknowledge",
    "list_orders",
    "new_orders",
    "order_path",
    "raw_order",
    "read_order",
]

ORDERS = "/api/v2/shops/{shop_id}/orders"


def order_path(order_id: str, tail: str = "") -> str:
    """The path of one order (``tail`` e.g. ``"/fulfillment"``)."""
    return f"{ORDERS}/{order_id}{tail}"


def raw_order(payload: Any) -> RawOrder:
    """A :class:`RawOrder` keyed by ``idealoOrderId``; payloads without one are a remote fault."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("idealoOrderId"), str):
        raise TransientError("idealo: an order in the response has no idealoOrderId")
    modified = None
    stamp = payload.get("updated") or payload.get("created")
    if stamp:
        try:
            modified = parse_time(stamp, "updated")
        except PermanentOrderError:
            modified = None  # the mapping step reports bad timestamps for this one order
    return RawOrder(order_id=payload["idealoOrderId"], modified_at=modified, payload=dict(payload))


def _orders_in(body: Any) -> Iterable[Any]:
    """``/new-orders`` may answer an array, one order, or a page object with ``content`` (reference §2.1)."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        if isinstance(body.get("content"), list):
            return list(body["content"])
        if "idealoOrderId" in body:
            return [body]
        if not body:
            return []
    if body is None:
        return []
    raise TransientError("idealo: /new-orders answered with something that is not a list of orders")


async def new_orders(client: IdealoClient) -> list[RawOrder]:
    """The orders ``/new-orders`` hands out now (they may be handed out only once: persist them first)."""
    response = await client.request("GET", "/api/v2/shops/{shop_id}/new-orders")
    body = None if not response.content.strip() else client.decode(response)
    return [raw_order(item) for item in _orders_in(body)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def list_orders(
    client: IdealoClient,
    *,
    statuses: Iterable[str] = (),
    acknowledged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = 100,
) -> AsyncIterator[RawOrder]:
    """Every order of the list endpoint matching the filters, page by page (``pageNumber`` from 0)."""
    params: dict[str, str] = {"pageSize": str(page_size)}
    wanted = ",".join(statuses)
    if wanted:
        params["status"] = wanted
    if acknowledged is not None:
        params["acknowledged"] = "true" if acknowledged else "false"
    if since is not None:
        params["from"] = _iso(since)
    if until is not None:
        params["to"] = _iso(until)
    page = 0
    while True:
        body = await client.json("GET", ORDERS, params={**params, "pageNumber": str(page)})
        content = body.get("content") if isinstance(body, Mapping) else None
        if not isinstance(content, list):
            raise TransientError("idealo: the order list has no content array")
        for item in content:
            yield raw_order(item)
        pages = body.get("totalPages")
        page += 1
        if not content or not isinstance(pages, int) or page >= pages:
            return


async def read_order(client: IdealoClient, order_id: str) -> dict[str, Any]:
    """One order as idealo has it now."""
    body = await client.json("GET", order_path(order_id))
    if not isinstance(body, dict) or body.get("idealoOrderId") != order_id:
        raise TransientError(f"idealo: order {order_id} could not be read")
    return body


async def acknowledge(client: IdealoClient, order_id: str, number: str) -> None:
    """Set the merchant order number; harmless when idealo already has this number (409 is checked)."""
    response = await client.request(
        "POST",
        order_path(order_id, "/merchant-order-number"),
        json_body={"merchantOrderNumber": number},
        expect=(409,),
    )
    if response.status_code == 409:
        current = (await read_order(client, order_id)).get("merchantOrderNumber")
        if current != number:
            raise PermanentOrderError(
                f"idealo: order {order_id} already carries merchant order number {current!r}, "
                f"not {number!r} (HTTP 409); check which store order is the right one"
            )
