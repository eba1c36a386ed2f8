"""The simulated store's data and rules: products and variations (SKU, ``global_unique_id``, meta, stock),
orders with meta and stock reduction, Shipment Tracking items. No HTTP here: :mod:`.app` serves it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["WOOCOMMERCE_VERSION", "RestError", "SimProduct", "StoreState"]

WOOCOMMERCE_VERSION = "9.8.1"
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
#: Statuses whose transition reduces stock (``wc_maybe_reduce_stock_levels``).
REDUCING_STATUSES = frozenset({"processing", "completed", "on-hold"})
_CENT = Decimal("0.01")


class RestError(Exception):
    """A ``WP_Error`` answer: ``{"code", "message", "data": {"status", …}}``."""

    def __init__(self, code: str, message: str, status: int = 400, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


@dataclass
class SimProduct:
    """A product (``simple`` or ``variable``) or a ``variation`` of a variable product."""

    id: int
    type: str
    name: str
    sku: str = ""
    global_unique_id: str = ""
    price: str = "10.00"
    manage_stock: bool | str = True
    stock_quantity: int | None = 0
    parent_id: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    variation_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "status": "publish",
            "sku": self.sku,
            "global_unique_id": self.global_unique_id,
            "price": self.price,
            "regular_price": self.price,
            "manage_stock": self.manage_stock,
            "stock_quantity": self.stock_quantity,
            "stock_status": "instock" if (self.stock_quantity or 0) > 0 else "outofstock",
            "parent_id": self.parent_id,
            "meta_data": [{"id": i + 1, "key": k, "value": v} for i, (k, v) in enumerate(self.meta.items())],
        }
        if self.type == "variable":
            data["variations"] = list(self.variation_ids)
        return data


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat()


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise RestError(
            "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: "invalid"}
        ) from None


class StoreState:
    """The store: products, orders and tracking, guarded by one lock (the app may run in threads)."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        tax_rates: Mapping[str, Decimal] | None = None,
        tracking_bumps_modified: bool = False,
    ) -> None:
        self.now = now
        self.tax_rates = dict(tax_rates or {})
        #: Whether adding a tracking item changes the order's ``date_modified`` (real stores: not always).
        self.tracking_bumps_modified = tracking_bumps_modified
        self.products: dict[int, SimProduct] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.stock_reduced: dict[int, bool] = {}
        self.trackings: dict[int, list[dict[str, Any]]] = {}
        self.lock = threading.RLock()
        self._next_id = 100
        self._next_item = 1

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------------------------- products

    def add_product(
        self,
        sku: str,
        *,
        ean: str = "",
        stock: int | None = 10,
        price: str = "10.00",
        name: str = "",
        manage_stock: bool = True,
        meta: Mapping[str, Any] | None = None,
    ) -> SimProduct:
        """A simple product."""
        with self.lock:
            product = SimProduct(
                id=self._id(),
                type="simple",
                name=name or f"Product {sku}",
                sku=sku,
                global_unique_id=ean,
                price=price,
                manage_stock=manage_stock,
                stock_quantity=stock if manage_stock else None,
                meta=dict(meta or {}),
            )
            self.products[product.id] = product
            return product

    def add_variable(
        self,
        name: str,
        variations: Iterable[Mapping[str, Any]],
        *,
        sku: str = "",
        manage_stock: bool = False,
        stock: int | None = None,
    ) -> SimProduct:
        """A variable product with variations given as ``{sku, ean, stock, price, meta, manage_stock}``
        (``manage_stock: "parent"`` uses the parent's stock)."""
        with self.lock:
            parent = SimProduct(
                id=self._id(),
                type="variable",
                name=name,
                sku=sku,
                manage_stock=manage_stock,
                stock_quantity=stock if manage_stock else None,
            )
            self.products[parent.id] = parent
            for spec in variations:
                manage = spec.get("manage_stock", True)
                variation = SimProduct(
                    id=self._id(),
                    type="variation",
                    name=f"{name} - {spec.get('sku', '')}",
                    sku=str(spec.get("sku", "")),
                    global_unique_id=str(spec.get("ean", "")),
                    price=str(spec.get("price", "10.00")),
                    manage_stock=manage,
                    stock_quantity=spec.get("stock", 10) if manage is True else None,
                    parent_id=parent.id,
                    meta=dict(spec.get("meta") or {}),
                )
                self.products[variation.id] = variation
                parent.variation_ids.append(variation.id)
            return parent

    def product_by_sku(self, sku: str) -> SimProduct | None:
        return next((p for p in self.products.values() if p.sku and p.sku == sku), None)

    def product_json(self, product: SimProduct) -> dict[str, Any]:
        data = product.as_json()
        if product.manage_stock == "parent":
            parent = self.products[product.parent_id]
            data["stock_quantity"] = parent.stock_quantity
        return data

    def list_products(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /products``: top-level products; with ``sku`` (comma list) variations are searched too."""
        with self.lock:
            products = sorted(self.products.values(), key=lambda p: p.id)
            if "sku" in params:
                wanted = {s.strip() for s in params["sku"].split(",") if s.strip()}
                chosen = [p for p in products if p.sku in wanted]
            else:
                chosen = [p for p in products if p.type != "variation"]
                if "global_unique_id" in params:
                    chosen = [p for p in chosen if p.global_unique_id == params["global_unique_id"]]
            if params.get("order") == "desc":
                chosen.reverse()
            return [self.product_json(p) for p in chosen]

    def list_variations(self, parent_id: int, params: Mapping[str, str]) -> list[dict[str, Any]]:
        with self.lock:
            parent = self.products.get(parent_id)
            if parent is None or parent.type != "variable":
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            found = [self.products[i] for i in parent.variation_ids]
            if "sku" in params:
                found = [v for v in found if v.sku == params["sku"]]
            return [self.product_json(v) for v in found]

    def get_product(self, product_id: int) -> dict[str, Any]:
        with self.lock:
            product = self.products.get(product_id)
            if product is None or product.type == "variation":
                raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            return self.product_json(product)

    def _stock_holder(self, product: SimProduct) -> SimProduct | None:
        if product.manage_stock == "parent":
            product = self.products[product.parent_id]
        return product if product.manage_stock is True and product.stock_quantity is not None else None

    # ------------------------------------------------------------------------------------- orders

    def _item(self, raw: Any, currency: str) -> tuple[dict[str, Any], SimProduct]:
        if not isinstance(raw, Mapping):
            raise RestError(
                "rest_invalid_param", "Invalid parameter(s): line_items", params={"line_items": "x"}
            )
        product_id = int(raw.get("product_id") or 0)
        variation_id = int(raw.get("variation_id") or 0)
        if not product_id and not variation_id and raw.get("sku"):
            found = self.product_by_sku(str(raw["sku"]))
            if found is None:
                raise RestError("woocommerce_rest_invalid_product_id", "Invalid product ID or SKU.")
            product_id, variation_id = (
                (found.parent_id, found.id) if found.type == "variation" else (found.id, 0)
            )
        if not product_id and not variation_id:
            raise RestError("woocommerce_rest_required_product_reference", "Product ID or SKU is required.")
        target = self.products.get(variation_id or product_id)
        if target is None or (variation_id and target.parent_id != product_id and product_id):
            raise RestError("woocommerce_rest_invalid_product_id", "Invalid product ID.")
        if target.type == "variable":
            raise RestError("woocommerce_rest_invalid_product_id", "Invalid product ID.")
        quantity = int(raw.get("quantity") or 1)
        price = Decimal(target.price)
        subtotal = _decimal(raw.get("subtotal", price * quantity), "line_items")
        total = _decimal(raw.get("total", subtotal), "line_items")
        self._next_item += 1
        meta = [
            {"id": self._next_item * 10 + i, "key": str(m["key"]), "value": m.get("value")}
            for i, m in enumerate(raw.get("meta_data") or ())
            if isinstance(m, Mapping) and m.get("key")
        ]
        item = {
            "id": self._next_item,
            "name": target.name,
            "product_id": target.parent_id if target.type == "variation" else target.id,
            "variation_id": target.id if target.type == "variation" else 0,
            "quantity": quantity,
            "subtotal": str(subtotal),
            "total": str(total),
            "sku": target.sku,
            "price": str((total / quantity).quantize(_CENT, ROUND_HALF_UP)),
            "meta_data": meta,
        }
        return item, target

    def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /orders``: validate, create, reduce stock on a reducing status unless already marked."""
        with self.lock:
            status = str(body.get("status") or "pending")
            if status not in ORDER_STATUSES:
                raise RestError(
                    "rest_invalid_param",
                    "Invalid parameter(s): status",
                    params={"status": f"status is not one of {', '.join(ORDER_STATUSES)}."},
                )
            currency = str(body.get("currency") or "EUR")
            items = [self._item(raw, currency) for raw in body.get("line_items") or ()]
            now = self.now()
            order_id = self._id()
            meta: list[dict[str, Any]] = []
            stock_reduced = False
            for i, entry in enumerate(body.get("meta_data") or ()):
                if not isinstance(entry, Mapping) or not entry.get("key"):
                    continue
                if entry["key"] == "_order_stock_reduced":  # internal prop, set through its setter
                    stock_reduced = str(entry.get("value")).lower() in {"yes", "true", "1"}
                    continue
                meta.append({"id": order_id * 100 + i, "key": str(entry["key"]), "value": entry.get("value")})
            if body.get("set_paid") and status == "pending":
                status = "processing"
            shipping_lines = [
                {
                    "id": order_id * 10 + i,
                    "method_id": str(s.get("method_id", "")),
                    "method_title": str(s.get("method_title", "")),
                    "total": str(_decimal(s.get("total"), "shipping_lines")),
                }
                for i, s in enumerate(body.get("shipping_lines") or ())
                if isinstance(s, Mapping)
            ]
            fee_lines = [
                {"name": str(f.get("name", "")), "total": str(_decimal(f.get("total"), "fee_lines"))}
                for f in body.get("fee_lines") or ()
                if isinstance(f, Mapping)
            ]
            shipping = body.get("shipping") if isinstance(body.get("shipping"), Mapping) else {}
            billing = body.get("billing") if isinstance(body.get("billing"), Mapping) else {}
            rate = self.tax_rates.get(str((shipping or {}).get("country", "")))
            net = sum((Decimal(item["total"]) for item, _ in items), Decimal(0))
            net += sum((Decimal(str(s["total"])) for s in shipping_lines), Decimal(0))
            tax = Decimal(0)
            if rate is not None:
                taxable = net
                tax = (taxable * rate / Decimal(100)).quantize(_CENT, ROUND_HALF_UP)
            fees = sum((Decimal(f["total"]) for f in fee_lines), Decimal(0))
            order: dict[str, Any] = {
                "id": order_id,
                "number": str(order_id),
                "status": status,
                "currency": currency,
                "created_via": "rest-api",
                "customer_id": int(body.get("customer_id") or 0),
                "date_created_gmt": _gmt(now),
                "date_modified_gmt": _gmt(now),
                "date_completed_gmt": None,
                "date_paid_gmt": _gmt(now) if body.get("set_paid") else None,
                "payment_method": str(body.get("payment_method", "")),
                "payment_method_title": str(body.get("payment_method_title", "")),
                "transaction_id": str(body.get("transaction_id", "")),
                "customer_note": str(body.get("customer_note", "")),
                "billing": dict(billing or {}),
                "shipping": dict(shipping or {}),
                "line_items": [item for item, _ in items],
                "shipping_lines": shipping_lines,
                "fee_lines": fee_lines,
                "meta_data": meta,
                "total_tax": str(tax),
                "total": str((net + tax + fees).quantize(_CENT, ROUND_HALF_UP)),
            }
            self.orders[order_id] = order
            self.stock_reduced[order_id] = stock_reduced
            if status in REDUCING_STATUSES:
                self._reduce_stock(order_id, [(item["quantity"], product) for item, product in items])
            return self.order_json(order_id)

    def _reduce_stock(self, order_id: int, lines: Sequence[tuple[int, SimProduct]]) -> None:
        if self.stock_reduced.get(order_id):
            return
        for quantity, product in lines:
            holder = self._stock_holder(product)
            if holder is not None and holder.stock_quantity is not None:
                holder.stock_quantity -= quantity
        self.stock_reduced[order_id] = True

    def order_json(self, order_id: int, include_meta: Sequence[str] | None = None) -> dict[str, Any]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            data = {**order, "meta_data": [dict(m) for m in order["meta_data"]]}
            items = self.trackings.get(order_id)
            if items:
                data["meta_data"].append(
                    {"id": order_id * 100 + 99, "key": "_wc_shipment_tracking_items", "value": items}
                )
            if include_meta is not None:
                data["meta_data"] = [m for m in data["meta_data"] if m["key"] in include_meta]
            return data

    def list_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /orders`` with ``status``, ``after``/``before`` (created), ``modified_after``/
        ``modified_before``, ``orderby`` (date, id, modified), ``order`` and ``include_meta``."""
        with self.lock:
            orders = list(self.orders.values())
            statuses = {s.strip() for s in params.get("status", "any").split(",") if s.strip()}
            if statuses and "any" not in statuses:
                orders = [o for o in orders if o["status"] in statuses]
            for name, field_name, after in (
                ("after", "date_created_gmt", True),
                ("before", "date_created_gmt", False),
                ("modified_after", "date_modified_gmt", True),
                ("modified_before", "date_modified_gmt", False),
            ):
                if name in params:
                    bound = _parse_filter_date(params[name], name)
                    orders = [
                        o
                        for o in orders
                        if (datetime.fromisoformat(o[field_name]) > bound) == after
                        and datetime.fromisoformat(o[field_name]) != bound
                    ]
            key = {"id": "id", "modified": "date_modified_gmt"}.get(params.get("orderby", "date"), "")
            orders.sort(key=lambda o: (o[key] if key else o["date_created_gmt"], o["id"]))
            if params.get("order", "desc") == "desc":
                orders.reverse()
            include = params.get("include_meta")
            keys = [k.strip() for k in include.split(",")] if include else None
            return [self.order_json(o["id"], keys) for o in orders]

    def update_order(self, order_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /orders/{id}``: status and meta changes (completing sets ``date_completed``)."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            now = _gmt(self.now())
            status = body.get("status")
            if status is not None:
                if status not in ORDER_STATUSES:
                    raise RestError(
                        "rest_invalid_param", "Invalid parameter(s): status", params={"status": ""}
                    )
                if status == "completed" and order["status"] != "completed":
                    order["date_completed_gmt"] = now
                order["status"] = status
                if status in REDUCING_STATUSES:
                    lines = [
                        (int(i["quantity"]), self.products[i["variation_id"] or i["product_id"]])
                        for i in order["line_items"]
                    ]
                    self._reduce_stock(order_id, lines)
            for entry in body.get("meta_data") or ():
                if isinstance(entry, Mapping) and entry.get("key"):
                    existing = [m for m in order["meta_data"] if m["key"] == entry["key"]]
                    if existing:
                        existing[0]["value"] = entry.get("value")
                    else:
                        order["meta_data"].append(
                            {
                                "id": len(order["meta_data"]) + 1,
                                "key": entry["key"],
                                "value": entry.get("value"),
                            }
                        )
            order["date_modified_gmt"] = now
            return self.order_json(order_id)

    # ------------------------------------------------------------------------------------- tracking

    def add_tracking(
        self, order_id: int, number: str, provider: str = "DHL", link: str = "", date_shipped: str = ""
    ) -> dict[str, Any]:
        """``POST …/shipment-trackings``: one tracking item (the first is outbound, a second the return)."""
        with self.lock:
            if order_id not in self.orders:
                raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid order ID.", 404)
            if not number:
                raise RestError(
                    "rest_missing_callback_param",
                    "Missing parameter(s): tracking_number",
                    params=["tracking_number"],
                )
            moment = self.now()
            item = {
                "tracking_id": f"{order_id:x}{len(self.trackings.get(order_id, [])) + 1:04x}",
                "tracking_provider": provider,
                "custom_tracking_provider": "",
                "custom_tracking_link": link,
                "tracking_number": number,
                "date_shipped": int(moment.timestamp()),
            }
            self.trackings.setdefault(order_id, []).append(item)
            if self.tracking_bumps_modified:
                self.orders[order_id]["date_modified_gmt"] = _gmt(moment)
            return tracking_json(item, date_shipped)

    def list_tracking(self, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            if order_id not in self.orders:
                raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid order ID.", 404)
            return [tracking_json(item) for item in self.trackings.get(order_id, [])]

    def delete_tracking(self, order_id: int, tracking_id: str) -> None:
        with self.lock:
            items = self.trackings.get(order_id, [])
            kept = [i for i in items if i["tracking_id"] != tracking_id]
            if len(kept) == len(items):
                raise RestError("woocommerce_rest_invalid_tracking_id", "Invalid tracking ID.", 404)
            self.trackings[order_id] = kept

    # ------------------------------------------------------------------------------------- control

    def order_by_key(self, key: str) -> dict[str, Any]:
        """The order stamped with ``ordersyncd_order_key`` = ``key`` (``KeyError`` when none)."""
        with self.lock:
            for order_id, order in self.orders.items():
                if any(m["key"] == "ordersyncd_order_key" and m["value"] == key for m in order["meta_data"]):
                    return self.order_json(order_id)
        raise KeyError(key)

    def ship(
        self, order_id: int, tracking: Sequence[tuple[str, str]] = (), *, status: str = "completed"
    ) -> dict[str, Any]:
        """Play the merchant: add tracking items ``(provider, number)`` then set ``status``."""
        for provider, number in tracking:
            self.add_tracking(order_id, number, provider)
        return self.update_order(order_id, {"status": status})


def tracking_json(item: Mapping[str, Any], date_shipped: str = "") -> dict[str, Any]:
    """A tracking item as the REST route shows it (``date_shipped`` as ``YYYY-MM-DD``)."""
    shipped = date_shipped or datetime.fromtimestamp(int(item["date_shipped"]), UTC).date().isoformat()
    return {
        "tracking_id": item["tracking_id"],
        "tracking_provider": item["tracking_provider"] or item["custom_tracking_provider"],
        "tracking_link": item["custom_tracking_link"],
        "tracking_number": item["tracking_number"],
        "date_shipped": shipped,
    }


def _parse_filter_date(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RestError(
            "rest_invalid_param",
            f"Invalid parameter(s): {name}",
            params={name: "Invalid date."},
        ) from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo is not None else parsed
