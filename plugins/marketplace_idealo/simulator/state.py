"""The simulator's data and its programmatic control API (``app.state``)."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from ordersyncd.testing import Faults, FixedWindowLimiter

from .generator import GeneratedOrder, OrderGenerator

__all__ = [
    "CARRIERS",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "OFFERS_CLIENT_ID",
    "OFFERS_CLIENT_SECRET",
    "REASONS",
    "SHOP_ID",
    "SimLine",
    "SimOrder",
    "SimRefund",
    "SimulatorState",
]

DEFAULT_CLIENT_ID = "idealo-sim-client"
DEFAULT_CLIENT_SECRET = "idealo-sim-secret"  # noqa: S105 - simulator credential, not a real secret
OFFERS_CLIENT_ID = "idealo-sim-offers"
OFFERS_CLIENT_SECRET = "idealo-sim-offers-secret"  # noqa: S105 - simulator credential
SHOP_ID = "314159"

#: Carriers the simulator accepts (reference §3, idealo's own plugin list).
CARRIERS = frozenset(
    {"Cargo", "DHL", "DPD", "Der Courier", "Deutsche Post", "FedEx", "GLS", "GO!", "GdSK", "Hermes", "Midway",
     "Noxxs Logistic", "TOMBA", "UPS", "eparcel", "iloxx", "paket.ag", "primeMail"}
)  # fmt: skip
REASONS = frozenset({"CUSTOMER_REVOKE", "MERCHANT_DECLINE", "RETOUR"})


def stamp(moment: datetime) -> str:
    """idealo's timestamp form (UTC, milliseconds, ``Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


@dataclass
class SimLine:
    """One article line: ``remaining`` drops with revocations."""

    sku: str
    title: str
    price: Decimal
    quantity: int
    delivery_text: str = "1-2+Werktage"
    remaining: int = -1

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.quantity


@dataclass
class SimRefund:
    """One refund; ``OPEN`` until :meth:`SimulatorState.settle_refunds`."""

    refund_id: str
    amount: Decimal
    currency: str
    created: datetime
    updated: datetime
    status: str = "OPEN"
    transaction_id: str = field(default_factory=lambda: "rf-" + uuid.uuid4().hex[:12])


@dataclass
class SimOrder:
    """One order as the simulator keeps it. ``extra`` fields override the rendering (malformed orders)."""

    order_id: str
    lines: list[SimLine]
    billing: dict[str, str]
    shipping: dict[str, str]
    email: str
    phone: str
    payment_method: str
    transaction_id: str
    method: str
    options: list[tuple[str, Decimal]]
    shipping_costs: Decimal
    created: datetime
    updated: datetime
    voucher: str = ""
    currency: str = "EUR"
    status: str = "PROCESSING"
    merchant_order_number: str = ""
    tracking: list[dict[str, str]] = field(default_factory=list)
    refunds: list[SimRefund] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0  # times handed out by /new-orders
    drop: tuple[str, ...] = ()  # dotted paths left out of the rendering (malformed orders)

    @property
    def offers_price(self) -> Decimal:
        return sum((line.price * line.quantity for line in self.lines), Decimal(0))

    @property
    def gross_price(self) -> Decimal:
        return self.offers_price + self.shipping_costs

    @property
    def acknowledged(self) -> bool:
        return bool(self.merchant_order_number)

    def line(self, sku: str) -> SimLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def render(self) -> dict[str, Any]:
        """The v2 order JSON."""
        body: dict[str, Any] = {
            "idealoOrderId": self.order_id,
            "created": stamp(self.created),
            "updated": stamp(self.updated),
            "status": self.status,
            "currency": self.currency,
            "offersPrice": _amount(self.offers_price),
            "grossPrice": _amount(self.gross_price),
            "shippingCosts": _amount(self.shipping_costs),
            "lineItems": [
                {
                    "title": line.title,
                    "price": _amount(line.price),
                    "quantity": line.quantity,
                    "remainingQuantity": line.remaining,
                    "sku": line.sku,
                    "merchantDeliveryText": line.delivery_text,
                }
                for line in self.lines
            ],
            "customer": {"email": self.email, **({"phone": self.phone} if self.phone else {})},
            "payment": {"paymentMethod": self.payment_method, "transactionId": self.transaction_id},
            "billingAddress": dict(self.billing),
            "shippingAddress": dict(self.shipping),
            "fulfillment": {
                "method": self.method,
                "tracking": list(self.tracking),
                "options": [{"forwardOption": name, "price": _amount(price)} for name, price in self.options],
            },
            "refunds": [render_refund(r) for r in self.refunds],
        }
        if self.merchant_order_number:
            body["merchantOrderNumber"] = self.merchant_order_number
        if self.voucher:
            body["voucher"] = {"code": self.voucher}
        for path in self.drop:
            *parents, last = path.split(".")
            node: Any = body
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node.get(part, {})
            if isinstance(node, dict):
                node.pop(last, None)
        return body


def render_refund(refund: SimRefund) -> dict[str, Any]:
    """A refund as idealo lists it (``refundAmount`` is a JSON number)."""
    return {
        "refundId": refund.refund_id,
        "refundTransactionId": refund.transaction_id,
        "status": refund.status,
        "currency": refund.currency,
        "refundAmount": float(refund.amount),
        "created": stamp(refund.created),
        "updated": stamp(refund.updated),
    }


class SimulatorState:
    """Orders, offers, tokens and faults of one simulated idealo shop, and the methods tests drive it with.

    ``new_orders``: ``"until_acknowledged"`` hands an order out on every ``/new-orders`` call until it has a
    merchant order number; ``"once"`` hands each order out a single time (the v1 wording; idealo never said
    which one v2 does).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        token_lifetime: int = 3600,
        new_orders: Literal["until_acknowledged", "once"] = "until_acknowledged",
        rate_limit_per_minute: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.generator = OrderGenerator(seed)
        self.token_lifetime = token_lifetime
        self.new_orders_mode = new_orders
        self.monotonic = monotonic
        self.faults = faults or Faults(seed=seed)
        self.limiter = (
            FixedWindowLimiter(rate_limit_per_minute, 60.0, monotonic) if rate_limit_per_minute else None
        )
        self.clients: dict[str, tuple[str, str, str]] = {
            DEFAULT_CLIENT_ID: (DEFAULT_CLIENT_SECRET, "orders", SHOP_ID),
            OFFERS_CLIENT_ID: (OFFERS_CLIENT_SECRET, "offers", SHOP_ID),
        }
        self.tokens: dict[str, tuple[str, str, float]] = {}  # token → (client id, api, expires at)
        self.tokens_issued = 0
        self.orders: dict[str, SimOrder] = {}
        self.offers: dict[str, dict[str, Any]] = {}
        self.throttle_next = 0
        self.throttle_seconds = 2

    # ------------------------------------------------------------------------------------------ tokens

    def issue_token(self, client_id: str) -> str:
        with self.lock:
            token = secrets.token_urlsafe(24)
            _, api, _ = self.clients[client_id]
            self.tokens[token] = (client_id, api, self.monotonic() + self.token_lifetime)
            self.tokens_issued += 1
            return token

    def token_api(self, token: str) -> tuple[str, str] | None:
        """(api, shop id) of a valid token, else ``None``."""
        with self.lock:
            entry = self.tokens.get(token)
            if entry is None or self.monotonic() >= entry[2]:
                return None
            return entry[1], self.clients[entry[0]][2]

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the next call gets a 401)."""
        with self.lock:
            self.tokens.clear()

    def throttle(self, requests: int, retry_after: int = 2) -> None:
        """Answer the next ``requests`` API calls with 429 and ``Retry-After: retry_after``."""
        with self.lock:
            self.throttle_next, self.throttle_seconds = requests, retry_after

    def take_throttle(self) -> int | None:
        with self.lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return self.throttle_seconds
            if self.limiter is not None:
                wait = self.limiter.take()
                return int(wait) if wait else None
            return None

    # ------------------------------------------------------------------------------------------ orders

    def now(self) -> datetime:
        """Wall-clock time of order stamps."""
        return datetime.now(UTC)

    def add_order(
        self,
        *,
        skus: Iterable[str] | None = None,
        lines: Iterable[tuple[str, Decimal | str, int]] | None = None,
        payment_method: str | None = None,
        phone: str | None = None,
        drop: Iterable[str] = (),
        **overrides: Any,
    ) -> SimOrder:
        """Add one new order (generated, then adjusted). ``lines`` = (sku, unit price, quantity) tuples;
        ``drop`` = dotted JSON paths left out (``"shippingAddress.addressLine1"``, ``"customer.phone"``)."""
        with self.lock:
            made: GeneratedOrder = self.generator.generate(
                [sku for sku, _, _ in lines]
                if lines is not None
                else (list(skus) if skus is not None else None)
            )
            sim_lines = [SimLine(sku, title, price, qty, text) for sku, title, price, qty, text in made.lines]
            if lines is not None:
                sim_lines = [
                    SimLine(sku, f"Artikel {sku}", Decimal(str(price)), qty, "1-2+Werktage")
                    for sku, price, qty in lines
                ]
            now = self.now()
            order = SimOrder(
                order_id=made.order_id,
                lines=sim_lines,
                billing=made.billing,
                shipping=made.shipping,
                email=made.email,
                phone=made.phone if phone is None else phone,
                payment_method=payment_method or made.payment_method,
                transaction_id=made.transaction_id,
                method=made.method,
                options=made.options,
                shipping_costs=made.shipping_costs,
                created=now,
                updated=now,
                voucher=made.voucher,
                drop=tuple(drop),
            )
            for key, value in overrides.items():
                setattr(order, key, value)
            self.orders[order.order_id] = order
            return order

    def generate_orders(self, count: int) -> list[SimOrder]:
        """``count`` generated orders."""
        return [self.add_order() for _ in range(count)]

    def take_new_orders(self) -> list[SimOrder]:
        """What ``/new-orders`` hands out now (marks them handed out)."""
        with self.lock:
            found = [
                o
                for o in self.orders.values()
                if o.status == "PROCESSING"
                and not o.acknowledged
                and (self.new_orders_mode == "until_acknowledged" or o.delivered == 0)
            ]
            for order in found:
                order.delivered += 1
            return found

    def touch(self, order: SimOrder) -> None:
        order.updated = self.now()

    def customer_revokes(self, order_id: str) -> None:
        """The customer withdraws: the order becomes ``REVOKING`` (awaiting the merchant)."""
        with self.lock:
            order = self.orders[order_id]
            order.status = "REVOKING"
            self.touch(order)

    def settle_refunds(self, status: str = "SUCCESS") -> int:
        """Move every ``OPEN`` refund to ``status``; returns how many."""
        with self.lock:
            count = 0
            for order in self.orders.values():
                for refund in order.refunds:
                    if refund.status == "OPEN":
                        refund.status, refund.updated = status, self.now()
                        count += 1
            return count

    # ------------------------------------------------------------------------------------------ offers

    def add_offer(self, sku: str, **fields: Any) -> dict[str, Any]:
        """List an offer (as the merchant's feed would)."""
        with self.lock:
            offer = {
                "sku": sku,
                "title": f"Artikel {sku}",
                "price": "19.99",
                "url": f"https://shop.example/{sku}",
            }
            offer.update(fields)
            self.offers[sku] = offer
            return offer
