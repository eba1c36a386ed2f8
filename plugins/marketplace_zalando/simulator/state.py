"""The simulator's data and its programmatic control API (``app.state``)."""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ordersyncd.testing import Faults, FixedWindowLimiter

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "MERCHANT_A",
    "MERCHANT_B",
    "SALES_CHANNELS",
    "SimItem",
    "SimLine",
    "SimOrder",
    "SimulatorState",
]

DEFAULT_CLIENT_ID = "sim-client"
DEFAULT_CLIENT_SECRET = "sim-secret"  # noqa: S105 - simulator credential, not a real secret
MERCHANT_A = "6f1c6a2e-2f7a-4c52-9d0e-1b1a2c3d4e5f"
MERCHANT_B = "8a3e2b1c-7d6f-4e5a-9b8c-0d1e2f3a4b5c"

#: Published sales channel ids (reference §1.4): country code → id.
SALES_CHANNELS = {
    "de": "01924c48-49bb-40c2-9c32-ab582e6db6f4",
    "fr": "733af55a-4133-4d7c-b5f3-d64d42c135fe",
    "ch": "c2bd90da-0090-4751-8f16-35dea7002071",
    "nl": "00f2a393-6889-4fc0-8cd9-86e454e6dfa3",
}
_COUNTRY_NAMES = {"de": "Germany", "fr": "France", "ch": "Switzerland", "nl": "Netherlands"}
_LOCALES = {"de": "de-DE", "fr": "fr-FR", "ch": "de-CH", "nl": "nl-NL"}

#: Rate limits per minute by quota, as documented (reference §5, §6).
RATE_LIMITS: dict[str, dict[str, int]] = {
    "production": {"orders_list": 40, "orders_by_number": 400, "items_lines": 2000, "patch": 2000,
                   "other": 2000, "stocks": 60, "stock_items": 2000, "documents": 400},
    "sandbox": {"orders_list": 10, "orders_by_number": 100, "items_lines": 40, "patch": 40,
                "other": 40, "stocks": 60, "stock_items": 2000, "documents": 40},
}  # fmt: skip

#: Allowed line status changes; anything else is 403, the same status 409.
LINE_TRANSITIONS = {
    "initial": {"reserved", "shipped", "canceled"},
    "reserved": {"shipped", "canceled"},
    "shipped": {"returned"},
    "returned": set(),
    "canceled": set(),
}


def _ms(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class SimLine:
    """One unit of an article."""

    line_id: str
    item_id: str
    price: Decimal
    currency: str = "EUR"
    status: str = "initial"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    modified_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reason: int | None = None


@dataclass
class SimItem:
    """One article of an order with its unit lines."""

    item_id: str
    order_id: str
    article_id: str
    external_id: str
    description: str
    lines: list[SimLine] = field(default_factory=list)


@dataclass
class SimOrder:
    """One order as the simulator keeps it."""

    order_id: str
    merchant_id: str
    order_number: str
    order_type: str
    status: str
    sales_channel_id: str
    locale: str
    customer_number: str
    customer_email: str
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    order_date: datetime
    created_at: datetime
    modified_at: datetime
    shipment_number: str
    items: list[SimItem] = field(default_factory=list)
    exported: bool = False
    merchant_order_id: str = ""
    tracking_number: str = ""
    return_tracking_number: str = ""
    shipping_costs: Decimal = Decimal("0")
    currency: str = "EUR"
    delivery_end_date: datetime | None = None
    zss: bool = False
    #: When (simulator monotonic seconds) both tracking numbers were set.
    tracking_set_at: float | None = None

    def lines(self) -> list[SimLine]:
        return [line for item in self.items for line in item.lines]


@dataclass
class Document:
    """A ZSS shipping document."""

    document_id: str
    order_id: str
    shipment_id: str
    shipment_number: str
    type: str
    tracking_id: str


@dataclass
class StockOutcome:
    """A scripted per-EAN stock answer: ``times`` answers (``None`` = always) of status/code/description."""

    status: str
    code: int
    description: str
    times: int | None = None


class SimulatorState:
    """Everything the simulator knows, plus the control API used by tests, the demo and benchmarks.

    Read what the plugin did: :attr:`exports`, :attr:`tracking_updates`, :attr:`line_updates`,
    :attr:`line_shipments`, :attr:`stock_requests`, :attr:`stock_levels`. Shape behaviour: :meth:`add_order`,
    :meth:`generate_orders`, :meth:`touch_order`, :meth:`set_stock_outcome`, :meth:`throttle_next`,
    :meth:`expire_tokens`, :attr:`faults`, :attr:`on_list_page` (called with the page number before a list page
    is answered).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        rate_limits: str | dict[str, int] = "production",
        token_lifetime: int = 7200,
        monotonic: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.monotonic = monotonic
        self.now: Callable[[], datetime] = lambda: _ms(datetime.now(UTC))
        self.token_lifetime = token_lifetime
        self.faults = faults or Faults(seed=seed)
        self.clients: dict[str, tuple[str, list[str]]] = {}
        self.merchants: dict[str, list[dict[str, Any]]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.orders: dict[str, SimOrder] = {}
        self.documents: dict[str, list[Document]] = {}
        self.exports: list[tuple[str, str]] = []
        self.tracking_updates: list[tuple[str, str, str]] = []
        self.line_updates: list[tuple[str, str, str, int]] = []
        #: Every line set to ``shipped``: (order id, line id, seconds since both tracking numbers were set, or
        #: ``None`` when they were not). zDirect wants them set ≥ 5 s before (it does not say it refuses
        #: otherwise, so the simulator records instead of refusing).
        self.line_shipments: list[tuple[str, str, float | None]] = []
        self.stock_requests: list[list[dict[str, Any]]] = []
        self.stock_levels: dict[tuple[str, str], int] = {}
        self.stock_pending: dict[tuple[str, str], int] = {}
        self.stock_outcomes: dict[str, StockOutcome] = {}
        self.token_requests = 0
        self.on_list_page: Callable[[int], None] | None = None
        self._throttle: list[int] = [0, 0]
        self.set_rate_limits(rate_limits)
        self.add_merchant(MERCHANT_A, {"de": True, "fr": True, "ch": False})
        self.add_merchant(MERCHANT_B, {"nl": True})
        self.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, [MERCHANT_A, MERCHANT_B])

    # ------------------------------------------------------------------------------------------ setup

    def set_rate_limits(self, limits: str | dict[str, int]) -> None:
        """``"production"``, ``"sandbox"`` (documented limits), ``"off"``, or a dict of per-minute quotas."""
        if limits == "off":
            self.limiters: dict[str, FixedWindowLimiter] = {}
            return
        table = RATE_LIMITS[limits] if isinstance(limits, str) else {**RATE_LIMITS["production"], **limits}
        self.limiters = {name: FixedWindowLimiter(n, 60.0, clock=self.monotonic) for name, n in table.items()}

    def add_merchant(self, merchant_id: str, channels: dict[str, bool]) -> None:
        """Register a merchant with its sales channels (country code → live)."""
        self.merchants[merchant_id] = [
            {
                "sales_channel_id": SALES_CHANNELS[code],
                "country_code": code,
                "country_name": _COUNTRY_NAMES[code],
                "live": live,
            }
            for code, live in channels.items()
        ]

    def add_client(self, client_id: str, secret: str, merchant_ids: Iterable[str]) -> None:
        """Register API credentials and the merchants they may act for."""
        self.clients[client_id] = (secret, list(merchant_ids))

    def channels_of(self, merchant_id: str) -> list[dict[str, Any]]:
        return self.merchants.get(merchant_id, [])

    # ------------------------------------------------------------------------------------------ tokens

    def issue_token(self, client_id: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (client_id, self.monotonic() + self.token_lifetime)
        self.token_requests += 1
        return token

    def client_of(self, token: str) -> str | None:
        entry = self.tokens.get(token)
        if entry is None or self.monotonic() >= entry[1]:
            return None
        return entry[0]

    def expire_tokens(self) -> None:
        """Invalidate every issued token (the next call with one gets 401)."""
        self.tokens.clear()

    def throttle_next(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` API requests with 429 and ``Retry-After: retry_after``."""
        self._throttle = [count, retry_after]

    def forced_throttle(self) -> int | None:
        if self._throttle[0] > 0:
            self._throttle[0] -= 1
            return self._throttle[1]
        return None

    # ------------------------------------------------------------------------------------------ orders

    def add_order(
        self,
        *,
        merchant_id: str = MERCHANT_A,
        order_type: str = "PartnerFulfilled",
        status: str = "approved",
        country: str = "de",
        articles: Iterable[tuple[str, str, Decimal, int]] = (
            ("4063614512884", "AR123A00B-Q11", Decimal("49.95"), 1),
        ),
        order_number: str | None = None,
        modified_at: datetime | None = None,
        shipping_address: dict[str, Any] | None = None,
        billing_address: dict[str, Any] | None = None,
        shipping_costs: Decimal = Decimal("0"),
        zss: bool = False,
        order_id: str | None = None,
    ) -> SimOrder:
        """Add an order. ``articles``: (external id, Zalando article id, unit price, quantity) per item."""
        now = self.now()
        modified = _ms(modified_at) if modified_at else now
        oid = order_id or self._uuid()
        address = shipping_address or self._address()
        order = SimOrder(
            order_id=oid,
            merchant_id=merchant_id,
            order_number=order_number or str(10_000_000_000_000 + self.rng.randrange(10**12)),
            order_type=order_type,
            status=status,
            sales_channel_id=SALES_CHANNELS[country],
            locale=_LOCALES[country],
            customer_number=str(self.rng.randrange(10**10, 10**11)),
            customer_email=f"customer{self.rng.randrange(10**6)}@example.com",
            shipping_address=address,
            billing_address=billing_address or {**_home(address)},
            order_date=modified - timedelta(minutes=5),
            created_at=modified - timedelta(minutes=5),
            modified_at=modified,
            shipment_number=f"{self.rng.randrange(10**17, 10**18)}",
            shipping_costs=shipping_costs,
            delivery_end_date=modified + timedelta(days=4),
            zss=zss,
        )
        for external_id, article_id, price, quantity in articles:
            item = SimItem(self._uuid(), oid, article_id, external_id, f"Article {article_id}")
            line_status = "initial" if status == "initial" else "reserved"
            item.lines = [
                SimLine(self._uuid(), item.item_id, Decimal(price), "EUR", line_status, modified, modified)
                for _ in range(quantity)
            ]
            order.items.append(item)
        self.orders[oid] = order
        return order

    def generate_orders(
        self,
        count: int,
        *,
        merchant_id: str = MERCHANT_A,
        order_types: tuple[str, ...] = ("PartnerFulfilled",),
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
        zss: bool = False,
    ) -> list[SimOrder]:
        """Add ``count`` deterministic orders (same seed → same orders), ``step`` apart in ``modified_at``."""
        first = start or self.now() - count * step
        created = []
        for n in range(count):
            articles = []
            for _ in range(self.rng.randint(1, 3)):
                ean = f"40{self.rng.randrange(10**10, 10**11)}"
                ean += str(_check_digit(ean))
                price = Decimal(self.rng.choice(["19.95", "29.99", "49.95", "89.00", "129.95"]))
                articles.append(
                    (ean, f"ZA{self.rng.randrange(10**6):06d}-Q11", price, self.rng.randint(1, 3))
                )
            kind = self.rng.random()
            address = self._address(
                "PACK_STATION" if kind < 0.15 else "PICKUP_POINT" if kind < 0.3 else "HOME_ADDRESS"
            )
            created.append(
                self.add_order(
                    merchant_id=merchant_id,
                    order_type=order_types[n % len(order_types)],
                    country=self.rng.choice(["de", "de", "fr"]),
                    articles=articles,
                    modified_at=first + n * step,
                    shipping_address=address,
                    shipping_costs=Decimal(self.rng.choice(["0", "0", "3.90"])),
                    zss=zss,
                )
            )
        return created

    def touch_order(self, order_id: str, at: datetime | None = None) -> None:
        """Mark an order modified now (as Zalando does on any change)."""
        self.orders[order_id].modified_at = _ms(at or self.now())

    def set_stock_outcome(
        self, ean: str, status: str, code: int, description: str = "", times: int | None = None
    ) -> None:
        """Script the answer for an EAN, e.g. ``("REJECTED", 101)``, ``("FAILED", 102, times=1)`` or
        ``("ACCEPTED", 104)`` (pending onboarding)."""
        self.stock_outcomes[ean] = StockOutcome(status, code, description, times)

    def documents_for(self, order: SimOrder) -> list[Document]:
        """The ZSS documents of an exported ZSS order (generated on first request)."""
        if not (order.zss and order.exported):
            return []
        if order.order_id not in self.documents:
            shipment = self._uuid()
            self.documents[order.order_id] = [
                Document(self._uuid(), order.order_id, shipment, order.shipment_number, kind, tracking)
                for kind, tracking in (
                    ("OUTBOUND_LABEL", f"00340434{self.rng.randrange(10**10, 10**11)}"),
                    ("RETURN_LABEL", f"RET{self.rng.randrange(10**10, 10**11)}"),
                    ("DELIVERY_SLIP", ""),
                )
            ]
        return self.documents[order.order_id]

    # ------------------------------------------------------------------------------------------ helpers

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _address(self, kind: str = "HOME_ADDRESS") -> dict[str, Any]:
        first = self.rng.choice(["Anna", "Jonas", "Lea", "Marie", "Paul", "Élodie"])
        last = self.rng.choice(["Müller", "Schmidt", "Dubois", "Meyer", "Janssen"])
        address: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "address_line_1": f"{self.rng.choice(['Hauptstraße', 'Rue de la Paix', 'Kanalweg'])} "
            f"{self.rng.randint(1, 120)}",
            "zip_code": f"{self.rng.randint(10000, 99999)}",
            "city": self.rng.choice(["Berlin", "Paris", "Hamburg", "Lyon"]),
            "country_code": "DE",
            "address_type": kind,
        }
        if kind == "PACK_STATION":
            address["address_line_1"] = f"Packstation {self.rng.randint(100, 999)}"
            address["service_point_details"] = {
                "service_point_name": address["address_line_1"],
                "service_point_id": str(self.rng.randint(100, 999)),
                "service_point_member_id": str(self.rng.randrange(10**8, 10**9)),
            }
        elif kind == "PICKUP_POINT":
            address["address_line_2"] = "Kiosk am Markt"
            address["service_point_details"] = {
                "service_point_name": "Kiosk am Markt",
                "service_point_id": f"DE{self.rng.randrange(10**6, 10**7)}",
            }
        return address


def _home(address: dict[str, Any]) -> dict[str, Any]:
    home = {k: v for k, v in address.items() if k != "service_point_details"}
    home["address_type"] = "HOME_ADDRESS"
    if address.get("address_type") != "HOME_ADDRESS":
        home["address_line_1"] = "Lindenallee 5"
        home.pop("address_line_2", None)
    return home


def _check_digit(digits: str) -> int:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10
