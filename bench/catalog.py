"""The benchmark's product catalogue and order stream, deterministic for a seed.

Both simulator hosts derive the same catalogue from the same seed: the Zalando host orders its articles, the
Shopify host offers them as variants. Orders draw 1-3 articles of 1-3 units each from the catalogue, the way a
real shop's orders repeat its products (so the store plugin's variant cache is exercised as in production).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Article", "catalogue", "order_articles"]

PRICES = ("19.95", "29.99", "49.95", "89.00", "129.95")


@dataclass(frozen=True)
class Article:
    """One product: the merchant's SKU (Zalando ``external_id``), its EAN, Zalando's article id, price."""

    sku: str
    ean: str
    article_id: str
    price: Decimal


def _check_digit(digits: str) -> int:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def catalogue(size: int = 200, seed: int = 7) -> list[Article]:
    """``size`` products, the same for the same ``seed``."""
    rng = random.Random(seed)
    articles = []
    for n in range(size):
        ean = f"40{rng.randrange(10**10, 10**11)}"
        ean += str(_check_digit(ean))
        articles.append(
            Article(
                sku=f"BENCH-{n:04d}",
                ean=ean,
                article_id=f"ZA{n:06d}-Q11",
                price=Decimal(rng.choice(PRICES)),
            )
        )
    return articles


def order_articles(rng: random.Random, articles: list[Article]) -> list[tuple[str, str, Decimal, int]]:
    """The (external id, article id, unit price, quantity) items of one order, drawn with ``rng``."""
    chosen = rng.sample(articles, rng.randint(1, 3))
    return [(a.sku, a.article_id, a.price, rng.randint(1, 3)) for a in chosen]
