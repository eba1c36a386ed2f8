"""The ``[marketplaces.NAME]`` block of an idealo Checkout (Direktkauf) account, and its tax table."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ordersyncd.plugin import Secret, require_https

__all__ = [
    "BASE_URLS",
    "CARRIERS",
    "DEFAULT_CARRIER_MAP",
    "OFFERS_AUTH_URL",
    "OFFERS_BASE_URL",
    "IdealoSettings",
    "TaxSettings",
]

#: Merchant Order API v2 base URL per mode (same paths on both hosts).
BASE_URLS = {
    "production": "https://orders.idealo.com",
    "sandbox": "https://orders-sandbox.idealo.com",
}
#: Partner Web Service 2.0 (offers); it has no sandbox.
OFFERS_BASE_URL = "https://import.idealo.com"
#: Host of the PWS token endpoint (``/mer/businessaccount/api/v1/oauth/token``).
OFFERS_AUTH_URL = "https://api.idealo.com"

#: Carrier names idealo's own plugin offered (reference §3); the probable accepted set.
CARRIERS: tuple[str, ...] = (
    "Cargo", "DHL", "DPD", "Der Courier", "Deutsche Post", "FedEx", "GLS", "GO!", "GdSK", "Hermes",
    "Midway", "Noxxs Logistic", "TOMBA", "UPS", "eparcel", "iloxx", "paket.ag", "primeMail",
)  # fmt: skip

#: Store carrier names (lower case) → idealo carrier, used before ``carrier_map``; exact idealo names
#: (any case) map to themselves.
DEFAULT_CARRIER_MAP: dict[str, str] = {
    "dhl express": "DHL",
    "dhl paket": "DHL",
    "dhl parcel": "DHL",
    "deutsche post dhl": "DHL",
    "dhl ecommerce": "DHL",
    "post": "Deutsche Post",
    "deutschepost": "Deutsche Post",
    "dpd germany": "DPD",
    "gls germany": "GLS",
    "hermes germany": "Hermes",
    "hermes einrichtungs service": "Hermes",
    "ups germany": "UPS",
    "fedex express": "FedEx",
    "tnt": "FedEx",
    "spedition": "Cargo",
    "freight": "Cargo",
}

_COUNTRY = re.compile(r"^([A-Z]{2}|\*)$")


def _https(value: str | None) -> str | None:
    if value is None:
        return None
    problem = require_https(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")


class TaxSettings(BaseModel):
    """VAT for idealo orders, which carry none: rates (percent) per destination country and product class.

    ``rates = {DE = {standard = 19, reduced = 7}, AT = {standard = 20}}``; the country ``"*"`` applies to
    countries not listed. ``product_classes`` names the class of a SKU (``{"BOOK-1" = "reduced"}``); other
    SKUs are of ``default_class``. idealo prices are gross, so the rates are the share contained in them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rates: dict[str, dict[str, Decimal]] = Field(min_length=1)
    default_class: str = Field(default="standard", min_length=1)
    product_classes: dict[str, str] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for country, classes in value.items():
            if not _COUNTRY.match(country):
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code (or '*')")
            if not classes:
                raise ValueError(f"country {country} lists no product class")
            for name, rate in classes.items():
                if not Decimal(0) <= rate <= Decimal(100):
                    raise ValueError(f"rate {rate} of {country}/{name} is not a percentage (0-100)")
        return value

    def rate_for(self, country_code: str, sku: str) -> Decimal | None:
        """The rate for ``sku`` shipped to ``country_code``; ``None`` when the table has none."""
        product_class = self.product_classes.get(sku, self.default_class)
        table = self.rates.get(country_code, self.rates.get("*"))
        return None if table is None else table.get(product_class)


class IdealoSettings(BaseModel):
    """Account settings. Keys are documented in ``docs/plugins/idealo.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    client_id: str = Field(min_length=1)
    client_secret: Secret
    mode: Literal["sandbox", "production"]
    base_url: str | None = None
    # ---- orders
    page_size: int = Field(default=100, ge=1, le=1000)
    sweep_interval_seconds: float = Field(default=300.0, ge=0, le=86400)
    address_line2_is_company: bool = False
    tax: TaxSettings | None = None
    # ---- shipping
    require_tracking_code: bool = True
    carrier_map: dict[str, str] = Field(default_factory=dict)
    default_carrier: str | None = None
    # ---- stock (PWS 2.0 offers)
    offers_client_id: str | None = None
    offers_client_secret: Secret | None = None
    offers_base_url: str | None = None
    offers_auth_url: str | None = None
    offers_at_zero: Literal["limit", "delete"] = "limit"
    offers_concurrency: int = Field(default=4, ge=1, le=20)
    offers_refresh_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    # ---- HTTP
    integration_partner: str = Field(default="ordersyncd", min_length=1)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_rate_limit_wait: float = Field(default=60.0, ge=0, le=3600)

    @field_validator("base_url", "offers_base_url", "offers_auth_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return _https(value)

    @field_validator("carrier_map")
    @classmethod
    def _carriers(cls, value: dict[str, str]) -> dict[str, str]:
        for store, idealo in value.items():
            if idealo not in CARRIERS:
                raise ValueError(
                    f"{store!r} maps to {idealo!r}, which is not an idealo carrier; use one of "
                    + ", ".join(CARRIERS)
                )
        return {store.strip().lower(): idealo for store, idealo in value.items()}

    @field_validator("default_carrier")
    @classmethod
    def _default_carrier(cls, value: str | None) -> str | None:
        if value is not None and value not in CARRIERS:
            raise ValueError(f"{value!r} is not an idealo carrier; use one of " + ", ".join(CARRIERS))
        return value

    @model_validator(mode="after")
    def _offers_pair(self) -> IdealoSettings:
        if (self.offers_client_id is None) != (self.offers_client_secret is None):
            raise ValueError("offers_client_id and offers_client_secret go together (stock sync needs both)")
        return self

    @property
    def api_base_url(self) -> str:
        """The Merchant Order API base in use: ``base_url`` when set (simulators), else the mode's host."""
        return self.base_url or BASE_URLS[self.mode]

    @property
    def offers_api_url(self) -> str:
        """The PWS base in use."""
        return self.offers_base_url or OFFERS_BASE_URL

    @property
    def offers_token_url(self) -> str:
        """The full PWS token URL."""
        return (self.offers_auth_url or OFFERS_AUTH_URL) + "/mer/businessaccount/api/v1/oauth/token"

    @property
    def stock_enabled(self) -> bool:
        """True when offer credentials are configured."""
        return self.offers_client_id is not None and self.offers_client_secret is not None

    def idealo_carrier(self, store_carrier: str) -> str | None:
        """The idealo carrier for a store carrier name (``None``: send the codes without a carrier)."""
        name = store_carrier.strip()
        key = name.lower()
        if key in self.carrier_map:
            return self.carrier_map[key]
        for carrier in CARRIERS:
            if carrier.lower() == key or carrier.lower().replace(" ", "") == key.replace(" ", ""):
                return carrier
        return DEFAULT_CARRIER_MAP.get(key, self.default_carrier)
