"""Deterministic idealo orders: German names and addresses, payment methods with PSP-style transaction ids,
delivery methods with their options and delivery texts."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["CATALOGUE", "GeneratedOrder", "OrderGenerator"]

_FIRST = ("Anna", "Lukas", "Sophie", "Jonas", "Marie", "Leon", "Lea", "Felix", "Hannah", "Paul", "Emma",
          "Maximilian", "Mia", "Elias", "Lena", "Jürgen", "Sabine", "Günther", "Käthe", "Özlem")  # fmt: skip
_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
         "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann")  # fmt: skip
_STREETS = ("Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
            "Lindenstraße", "Kirchweg", "Am Markt", "Goethestraße", "Schillerplatz", "Oranienstraße",
            "Friedrich-Ebert-Allee", "Weißenseer Weg")  # fmt: skip
#: (postal code, city) pairs that exist.
_CITIES = (("10969", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"),
           ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("40213", "Düsseldorf"),
           ("04109", "Leipzig"), ("01067", "Dresden"), ("90403", "Nürnberg"), ("28195", "Bremen"),
           ("30159", "Hannover"), ("99084", "Erfurt"), ("24103", "Kiel"))  # fmt: skip
_LINE2 = ("c/o Büro Schmitz", "3. OG links", "Hinterhaus", "Apartment 12", "bei Familie Yilmaz")
_PAYMENTS = ("IDEALO_CHECKOUT_PAYMENTS", "PAYPAL", "SOFORT", "CREDITCARD")
_DELIVERY_TEXTS = ("1-2+Werktage", "2-3+Werktage", "3-5+Werktage", "sofort+lieferbar")

#: SKU → (title, gross unit price, fulfillment method).
CATALOGUE: dict[str, tuple[str, Decimal, str]] = {
    "IDL-100": ("Kaffeevollautomat Barista X", Decimal("449.00"), "POSTAL"),
    "IDL-101": ("Wasserkocher Edelstahl 1,7 l", Decimal("29.99"), "POSTAL"),
    "IDL-102": ("Bluetooth-Kopfhörer ANC", Decimal("89.95"), "POSTAL"),
    "IDL-103": ("Handyhülle Leder", Decimal("12.50"), "LETTER"),
    "IDL-104": ("Waschmaschine 8 kg A+++", Decimal("529.00"), "FORWARDING"),
    "IDL-105": ("Kühl-Gefrierkombination 300 l", Decimal("649.00"), "FORWARDING"),
}
_SHIPPING = {"POSTAL": Decimal("4.90"), "LETTER": Decimal("1.95"), "FORWARDING": Decimal("39.90")}
_FORWARD_OPTIONS = {"TWO_MAN_DELIVERY": Decimal("19.90"), "PICKUP_SERVICE": Decimal("24.90")}


@dataclass
class GeneratedOrder:
    """The fields of one generated order (the simulator's state turns it into an order)."""

    order_id: str
    lines: list[tuple[str, str, Decimal, int, str]]  # sku, title, unit price, quantity, delivery text
    billing: dict[str, str]
    shipping: dict[str, str]
    email: str
    phone: str
    payment_method: str
    transaction_id: str
    method: str
    options: list[tuple[str, Decimal]]
    shipping_costs: Decimal
    voucher: str


class OrderGenerator:
    """Realistic, reproducible orders: the same ``seed`` yields the same orders in the same sequence."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def order_id(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.choice((8, 10))))

    def address(self, first: str, last: str) -> dict[str, str]:
        postal, city = self.rng.choice(_CITIES)
        address = {
            "salutation": self.rng.choice(("MR", "MRS")),
            "firstName": first,
            "lastName": last,
            "addressLine1": f"{self.rng.choice(_STREETS)} {self.rng.randint(1, 180)}{self.rng.choice(('', '', 'a', 'b'))}",
            "postalCode": postal,
            "city": city,
            "countryCode": "DE",
        }
        if self.rng.random() < 0.25:
            address["addressLine2"] = self.rng.choice(_LINE2)
        if self.rng.random() < 0.1:
            del address["salutation"]  # idealo stopped sending it for some orders
        return address

    def transaction_id(self, method: str) -> str:
        if method == "PAYPAL":
            return "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(17))
        if method == "IDEALO_CHECKOUT_PAYMENTS":
            return "snakeoil-" + "".join(
                self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(7)
            )
        return "".join(self.rng.choice(string.hexdigits.lower()[:16]) for _ in range(24))

    def generate(self, skus: list[str] | None = None) -> GeneratedOrder:
        """One order over ``skus`` (default: one to three catalogue articles of one delivery method)."""
        if skus is None:
            method = self.rng.choice(("POSTAL", "POSTAL", "POSTAL", "LETTER", "FORWARDING"))
            pool = [sku for sku, (_, _, m) in CATALOGUE.items() if m == method]
            skus = self.rng.sample(pool, k=min(len(pool), self.rng.randint(1, 3)))
        else:
            method = max(
                (CATALOGUE.get(s, ("", Decimal(0), "POSTAL"))[2] for s in skus),
                key="LETTER POSTAL FORWARDING".find,
            )
        lines = []
        for sku in skus:
            title, price, _ = CATALOGUE.get(sku, (f"Artikel {sku}", Decimal("19.99"), "POSTAL"))
            quantity = 1 if method == "FORWARDING" else self.rng.randint(1, 3)
            lines.append((sku, title, price, quantity, self.rng.choice(_DELIVERY_TEXTS)))
        first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        billing = self.address(first, last)
        shipping = dict(billing) if self.rng.random() < 0.7 else self.address(first, self.rng.choice(_LAST))
        options = []
        if method == "FORWARDING":
            for option, price in _FORWARD_OPTIONS.items():
                if self.rng.random() < 0.5:
                    options.append((option, price))
        payment = self.rng.choice(_PAYMENTS)
        order_id = self.order_id()
        return GeneratedOrder(
            order_id=order_id,
            lines=lines,
            billing=billing,
            shipping=shipping,
            email=f"m-{order_id.lower()}{self.rng.randint(100, 999)}@checkout.idealo.de",
            phone=self.rng.choice(
                (
                    "",
                    f"030-{self.rng.randint(1000000, 9999999)}",
                    f"+49 171 {self.rng.randint(1000000, 9999999)}",
                )
            ),
            payment_method=payment,
            transaction_id=self.transaction_id(payment),
            method=method,
            options=options,
            shipping_costs=_SHIPPING[method] + sum((p for _, p in options), Decimal(0)),
            voucher=self.rng.choice(("", "", "", "FXWFGE (10%, max. 5 EUR)")),
        )
