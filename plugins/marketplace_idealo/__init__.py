"""idealo Checkout (Direktkauf) marketplace plugin for ordersyncd.

Entry point ``idealo``; configuration, behaviour and simulator are documented in ``docs/plugins/idealo.md``.
idealo switched Checkout off on 31.12.2022; the plugin follows the last published Merchant Order API v2.
"""

from .plugin import IdealoMarketplace
from .returns import Refund, RevocationReason
from .settings import IdealoSettings, TaxSettings

__all__ = ["IdealoMarketplace", "IdealoSettings", "Refund", "RevocationReason", "TaxSettings"]
