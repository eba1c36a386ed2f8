"""Simulator of Shopify's Admin GraphQL API (an ASGI app) for tests and the demo.

Every incoming document is parsed, validated and executed with graphql-core against Shopify's official
2026-10 schema, so a field Shopify does not have is rejected; resolvers work on an in-memory :class:`Shop`.
Run it with ``python -m ordersyncd_plugins.store_shopify.simulator --port 8081``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ordersyncd.testing import Faults

from .app import ShopifySimulator, ThrottleStats
from .schema import SCHEMA_VERSION, load_schema
from .shop import Shop, SimFulfillment, SimLineItem, SimLocation, SimOrder, SimTracking, SimVariant

__all__ = [
    "SCHEMA_VERSION",
    "Shop",
    "ShopifySimulator",
    "SimFulfillment",
    "SimLineItem",
    "SimLocation",
    "SimOrder",
    "SimTracking",
    "SimVariant",
    "ThrottleStats",
    "create_app",
    "load_schema",
]


def create_app(
    *,
    access_tokens: Sequence[str] = ("shpat_simulator",),
    client_id: str | None = None,
    client_secret: str | None = None,
    token_ttl: float = 86399.0,
    bucket_size: float = 1000.0,
    restore_rate: float = 100.0,
    faults: Faults | None = None,
    shop: Shop | None = None,
) -> ShopifySimulator:
    """A new simulated shop (one location "Shop location", no products) as an ASGI app.

    ``access_tokens`` are accepted as static Admin API tokens; with ``client_id``/``client_secret`` the
    client-credentials grant issues tokens valid for ``token_ttl`` seconds. The cost bucket holds
    ``bucket_size`` points and restores ``restore_rate`` per second (Shopify Standard: 1000/100).
    """
    return ShopifySimulator(
        shop=shop,
        access_tokens=access_tokens,
        client_id=client_id,
        client_secret=client_secret,
        token_ttl=token_ttl,
        bucket_size=bucket_size,
        restore_rate=restore_rate,
        faults=faults,
    )
