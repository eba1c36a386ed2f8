"""Ready-made values for plugin tests: a plugin context wired to a simulator in-process, sample addresses and
orders (what a marketplace plugin would hand a store plugin)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx

from ..model import Address, Customer, Money, Order, OrderLine, Payment
from ..plugin import PluginContext

__all__ = ["asgi_context", "sample_address", "sample_order"]


def asgi_context(
    app: Any, state_dir: Path, *, name: str = "test", kind: Literal["marketplace", "store"] = "store"
) -> PluginContext:
    """A :class:`PluginContext` whose HTTP clients call ``app`` (a simulator) in-process, without a socket."""

    def factory(system: str, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), **kwargs)

    return PluginContext(name=name, kind=kind, state_dir=state_dir, http_client_factory=factory)


def sample_address(country: str = "DE", **overrides: Any) -> Address:
    """A German street address (``country`` and any field can be changed)."""
    values: dict[str, Any] = {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "street": "Heidestraße",
        "house_number": "17",
        "postal_code": "51147",
        "city": "Köln",
        "country_code": country,
    }
    values.update(overrides)
    return Address(**values)


def sample_order(
    order_id: str = "10401234567",
    lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "49.95"),),
    *,
    tax_rate: Decimal | None = None,
    country: str = "DE",
    update_store_inventory: bool = True,
    marketplace: str = "zalando",
    ean: bool = False,
    created_at: datetime | None = None,
) -> Order:
    """An order with ``(sku or ean, quantity, unit price)`` lines (line ids L1, L2, …), EUR, paid by invoice."""
    order_lines = tuple(
        OrderLine(
            line_id=f"L{i + 1}",
            **({"ean": ident} if ean else {"sku": ident}),
            title=f"Product {ident}",
            quantity=quantity,
            unit_price=Money(amount=Decimal(price), currency="EUR"),
            tax_rate=tax_rate,
        )
        for i, (ident, quantity, price) in enumerate(lines)
    )
    return Order(
        marketplace=marketplace,
        order_id=order_id,
        number=f"N-{order_id}",
        order_type="FBR",
        created_at=created_at or datetime.now(UTC),
        customer=Customer(email="buyer@example.org", phone="+49 221 1234567"),
        billing_address=sample_address(country),
        shipping_address=sample_address(country),
        lines=order_lines,
        shipping_cost=Money(amount=Decimal("4.95"), currency="EUR"),
        payment=Payment(method="invoice", transaction_id="PAY-42"),
        update_store_inventory=update_store_inventory,
    )
