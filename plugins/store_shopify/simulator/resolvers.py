"""Resolvers over the in-memory shop.

Objects are plain dicts; a value that needs arguments (``first``, ``locationId``, …) or is costly is a
callable, called with the field's arguments by :func:`resolve_field`. Fields the simulator does not
implement resolve to ``null`` (a non-null one then fails with graphql-core's error, visible in tests).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from graphql import GraphQLResolveInfo

from .search import Term, compare, parse_query
from .shop import (
    Shop,
    SimFulfillment,
    SimLineItem,
    SimLocation,
    SimOrder,
    SimVariant,
    UserError,
    gid,
    parse_gid,
)

__all__ = ["Resolvers", "resolve_field"]

View = dict[str, Any]


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """graphql-core field resolver: dict lookup, calling callables with the field's arguments."""
    name = info.field_name
    value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
    if callable(value):
        return value(**args)
    return value


def _iso(stamp: datetime | None) -> str | None:
    if stamp is None:
        return None
    return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _uncursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise ValueError("Invalid cursor") from None
    if not isinstance(value, list):
        raise ValueError("Invalid cursor")
    return value


def paginate(
    entries: Sequence[tuple[Sequence[Any], Callable[[], View]]],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool | None = False,
    **_: Any,
) -> View:
    """A Relay connection over ``(sort key, view factory)`` entries (sorted here); cursors carry the key."""
    ordered = sorted(entries, key=lambda entry: list(entry[0]), reverse=bool(reverse))

    def position(key: list[Any], inclusive: bool) -> int:
        """Index of the first entry past ``key`` (or at it, when ``inclusive``) in iteration order."""
        for index, (entry_key, _) in enumerate(ordered):
            here = list(entry_key)
            if (inclusive and here == key) or (here < key if reverse else here > key):
                return index
        return len(ordered)

    start = position(_uncursor(after), inclusive=False) if after else 0
    end = position(_uncursor(before), inclusive=True) if before else len(ordered)
    window = list(range(start, max(start, end)))
    if first is not None:
        window = window[: max(0, first)]
    elif last is not None:
        window = window[-last:] if last > 0 else []
    nodes = [(ordered[i][0], ordered[i][1]()) for i in window]
    return {
        "nodes": [node for _, node in nodes],
        "edges": [{"cursor": _cursor(key), "node": node} for key, node in nodes],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] + 1 < end,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": _cursor(nodes[0][0]) if nodes else None,
            "endCursor": _cursor(nodes[-1][0]) if nodes else None,
        },
    }


class Resolvers:
    """Root fields and object views for one :class:`Shop`."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def root(self) -> View:
        """The root value: query and mutation fields the simulator implements."""
        return {
            "shop": self.shop_view,
            "orders": self.orders,
            "order": lambda id: self._maybe(lambda: self.order_view(self.shop.order(id))),
            "productVariants": self.product_variants,
            "productVariant": lambda id: self._maybe(lambda: self.variant_view(self._variant(id))),
            "locations": self.locations,
            "location": lambda id=None: self._maybe(lambda: self.location_view(self._location_obj(id))),
            "fulfillment": lambda id: self._maybe(
                lambda: self.fulfillment_view(*self.shop.find_fulfillment(id))
            ),
            "inventoryItem": lambda id: self._maybe(
                lambda: self.inventory_item_view(self._variant_by_item(id))
            ),
            "orderCreate": self.order_create,
        }

    @staticmethod
    def _maybe(factory: Callable[[], View]) -> View | None:
        try:
            return factory()
        except KeyError:
            return None

    def _variant(self, value: str) -> SimVariant:
        number = parse_gid(value, "ProductVariant")
        return self.shop.variants[number] if number is not None else self.shop.variants[-1]

    def _variant_by_item(self, value: str) -> SimVariant:
        number = parse_gid(value, "InventoryItem")
        for variant in self.shop.variants.values():
            if variant.inventory_item_id == number:
                return variant
        raise KeyError(value)

    def _location_obj(self, value: str | None) -> SimLocation:
        if value is None:
            return next(iter(self.shop.locations.values()))
        number = parse_gid(value, "Location")
        return self.shop.locations[number if number is not None else -1]

    # ------------------------------------------------------------------------------------- views

    def shop_view(self) -> View:
        return {
            "id": gid("Shop", 1),
            "name": self.shop.name,
            "myshopifyDomain": self.shop.domain,
            "currencyCode": self.shop.currency,
        }

    def location_view(self, location: SimLocation) -> View:
        return {"id": gid("Location", location.id), "name": location.name, "isActive": location.active}

    def variant_view(self, variant: SimVariant) -> View:
        return {
            "id": gid("ProductVariant", variant.id),
            "sku": variant.sku or None,
            "barcode": variant.barcode or None,
            "title": variant.title,
            "displayName": variant.title,
            "price": str(variant.price),
            "inventoryQuantity": sum(variant.available.values()),
            "updatedAt": _iso(variant.updated_at),
            "inventoryItem": lambda: self.inventory_item_view(variant),
            "product": lambda: {"id": gid("Product", variant.product_id), "title": variant.title},
        }

    def inventory_item_view(self, variant: SimVariant) -> View:
        def level(location_id: int) -> View:
            location = self.shop.locations[location_id]

            def quantities(names: Sequence[str]) -> list[View]:
                amount = variant.available.get(location_id, 0)
                values = {"available": amount, "on_hand": amount, "committed": 0, "incoming": 0}
                return [
                    {
                        "id": f"{gid('InventoryLevel', location_id)}?{n}",
                        "name": n,
                        "quantity": values.get(n, 0),
                    }
                    for n in names
                ]

            return {
                "id": gid("InventoryLevel", variant.inventory_item_id * 100000 + location_id),
                "isActive": True,
                "location": lambda: self.location_view(location),
                "quantities": quantities,
                "updatedAt": _iso(variant.updated_at),
            }

        def inventory_level(locationId: str, includeInactive: bool | None = None) -> View | None:
            number = parse_gid(locationId, "Location")
            return level(number) if number in variant.available else None

        def inventory_levels(**args: Any) -> View:
            return paginate([((lid,), partial(level, lid)) for lid in variant.available], **args)

        return {
            "id": gid("InventoryItem", variant.inventory_item_id),
            "sku": variant.sku or None,
            "tracked": variant.tracked,
            "inventoryLevel": inventory_level,
            "inventoryLevels": inventory_levels,
            "variant": lambda: self.variant_view(variant),
        }

    def line_item_view(self, item: SimLineItem) -> View:
        variant = self.shop.variants.get(item.variant_id) if item.variant_id is not None else None
        return {
            "id": gid("LineItem", item.id),
            "sku": item.sku or None,
            "title": item.title,
            "name": item.title,
            "quantity": item.quantity,
            "customAttributes": [{"key": k, "value": v} for k, v in item.properties],
            "variant": lambda: self.variant_view(variant) if variant else None,
        }

    def fulfillment_view(self, order: SimOrder, fulfillment: SimFulfillment) -> View:
        items = {item.id: item for item in order.line_items}

        def line(index: int, item_id: int, quantity: int) -> View:
            return {
                "id": gid("FulfillmentLineItem", fulfillment.id * 1000 + index),
                "quantity": quantity,
                "lineItem": self.line_item_view(items[item_id]),
            }

        def lines(**args: Any) -> View:
            entries = [
                ((index,), partial(line, index, item_id, qty))
                for index, (item_id, qty) in enumerate(fulfillment.lines)
            ]
            return paginate(entries, **args)

        return {
            "id": gid("Fulfillment", fulfillment.id),
            "name": f"{order.name}-F{order.fulfillments.index(fulfillment) + 1}",
            "status": fulfillment.status,
            "createdAt": _iso(fulfillment.created_at),
            "updatedAt": _iso(fulfillment.updated_at),
            "totalQuantity": sum(qty for _, qty in fulfillment.lines),
            "requiresShipping": True,
            "trackingInfo": lambda first=None: [
                {"company": t.company, "number": t.number, "url": t.url} for t in fulfillment.tracking
            ][: first if first is not None else None],
            "fulfillmentLineItems": lines,
            "order": lambda: self.order_view(order),
            "location": lambda: (
                self.location_view(self.shop.locations[fulfillment.location_id])
                if fulfillment.location_id in self.shop.locations
                else None
            ),
        }

    def order_view(self, order: SimOrder) -> View:
        def line_items(**args: Any) -> View:
            return paginate(
                [((i,), partial(self.line_item_view, item)) for i, item in enumerate(order.line_items)],
                **args,
            )

        def fulfillments(first: int | None = None, query: str | None = None) -> list[View]:
            views = [self.fulfillment_view(order, f) for f in order.fulfillments]
            return views[:first] if first is not None else views

        return {
            "id": gid("Order", order.id),
            "legacyResourceId": str(order.id),
            "name": order.name,
            "sourceIdentifier": order.source_identifier,
            "tags": list(order.tags),
            "email": order.email,
            "note": order.note,
            "createdAt": _iso(order.created_at),
            "updatedAt": _iso(order.updated_at),
            "processedAt": _iso(order.processed_at),
            "cancelledAt": _iso(order.cancelled_at),
            "cancelReason": order.cancel_reason,
            "closed": False,
            "currencyCode": order.currency,
            "taxesIncluded": order.taxes_included,
            "displayFinancialStatus": order.financial_status,
            "displayFulfillmentStatus": order.display_fulfillment_status,
            "customAttributes": [{"key": k, "value": v} for k, v in order.custom_attributes],
            "lineItems": line_items,
            "fulfillments": fulfillments,
        }

    # ------------------------------------------------------------------------------------- root fields

    def orders(self, query: str | None = None, sortKey: str | None = None, **args: Any) -> View:
        terms = parse_query(query)
        key_of: dict[str, Callable[[SimOrder], Any]] = {
            "CREATED_AT": lambda o: _iso(o.created_at),
            "UPDATED_AT": lambda o: _iso(o.updated_at),
            "PROCESSED_AT": lambda o: _iso(o.processed_at),
        }
        sort: Callable[[SimOrder], Any] = key_of.get(sortKey or "ID", _no_key)
        with self.shop.lock:
            matching = [o for o in self.shop.orders.values() if all(_order_matches(o, t) for t in terms)]
            entries = [((sort(o), o.id), partial(self.order_view, o)) for o in matching]
            return paginate(entries, **args)

    def product_variants(self, query: str | None = None, sortKey: str | None = None, **args: Any) -> View:
        terms = parse_query(query)
        with self.shop.lock:
            matching = [v for v in self.shop.variants.values() if all(_variant_matches(v, t) for t in terms)]
            entries = [((v.id,), partial(self.variant_view, v)) for v in matching]
            return paginate(entries, **args)

    def locations(self, includeInactive: bool | None = False, **args: Any) -> View:
        args.pop("query", None)
        args.pop("sortKey", None)
        args.pop("includeLegacy", None)
        with self.shop.lock:
            chosen = [loc for loc in self.shop.locations.values() if loc.active or includeInactive]
            entries = [((loc.id,), partial(self.location_view, loc)) for loc in chosen]
            return paginate(entries, **args)

    def order_create(self, order: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> View:
        try:
            created = self.shop.create_order(order, options)
        except UserError as error:
            return {"order": None, "userErrors": [error.as_dict()]}
        return {"order": self.order_view(created), "userErrors": []}


def _no_key(order: SimOrder) -> int:
    return 0


def _order_matches(order: SimOrder, term: Term) -> bool:
    value = term.value
    if term.field == "source_identifier":
        result = order.source_identifier == value
    elif term.field == "tag":
        result = value.lower() in (tag.lower() for tag in order.tags)
    elif term.field == "tag_not":
        result = value.lower() not in (tag.lower() for tag in order.tags)
    elif term.field == "name":
        result = order.name.lstrip("#") == value.lstrip("#")
    elif term.field in {"updated_at", "created_at", "processed_at"}:
        return compare(getattr(order, term.field), term)
    elif term.field == "status":
        state = "cancelled" if order.cancelled_at else "open"
        result = value in {state, "any"} or (value == "not_closed")
    elif term.field == "fulfillment_status":
        shown = order.display_fulfillment_status
        groups = {
            "shipped": {"FULFILLED"},
            "fulfilled": {"FULFILLED"},
            "partial": {"PARTIALLY_FULFILLED"},
            "unshipped": {"UNFULFILLED"},
            "unfulfilled": {"UNFULFILLED", "PARTIALLY_FULFILLED"},
        }
        result = shown in groups.get(value, {shown})
    elif term.field == "sku":
        result = any(item.sku == value for item in order.line_items)
    else:
        return True  # Shopify ignores unknown search fields
    return result != term.negated


def _variant_matches(variant: SimVariant, term: Term) -> bool:
    if term.field == "sku":
        result = variant.sku == term.value
    elif term.field == "barcode":
        result = variant.barcode == term.value
    elif term.field == "product_id":
        result = str(variant.product_id) == term.value
    elif term.field == "updated_at":
        return compare(variant.updated_at, term)
    else:
        return True
    return result != term.negated
