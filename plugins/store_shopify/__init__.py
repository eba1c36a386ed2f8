"""Shopify store plugin for ordersyncd (Admin GraphQL API), with an ASGI simulator of that API.

Entry point ``shopify`` → :class:`ShopifyStore`. Documentation: ``docs/plugins/shopify.md``.
"""

from .settings import DEFAULT_API_VERSION, ShopifySettings
from .store import ShopifyStore

__all__ = ["DEFAULT_API_VERSION", "ShopifySettings", "ShopifyStore"]
