"""Zalando Partner Program (zDirect) marketplace plugin for ordersyncd.

Entry point ``zalando``; configuration, behaviour and simulator are documented in ``docs/plugins/zalando.md``.
"""

from .plugin import ZalandoMarketplace
from .settings import ZalandoSettings

__all__ = ["ZalandoMarketplace", "ZalandoSettings"]
