"""WooCommerce store plugin for ordersyncd (REST API ``wc/v3``), with an ASGI simulator of that API.

Entry point ``woocommerce`` → :class:`WooCommerceStore`. Documentation: ``docs/plugins/woocommerce.md``.
"""

from .settings import WooCommerceSettings
from .store import WooCommerceStore

__all__ = ["WooCommerceSettings", "WooCommerceStore"]
