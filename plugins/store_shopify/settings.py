"""The ``[stores.NAME]`` configuration block of the Shopify store plugin."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordersyncd.plugin import Secret, require_https

__all__ = ["DEFAULT_API_VERSION", "ShopifySettings"]

#: The Admin API version the plugin is written and tested against (the contract schema's version).
DEFAULT_API_VERSION = "2026-10"

_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_VERSION = re.compile(r"^(20\d\d-(01|04|07|10)|unstable)$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LOCATION = re.compile(r"^(gid://shopify/Location/)?\d+$")


class ShopifySettings(BaseModel):
    """Settings of one Shopify store. See ``docs/plugins/shopify.md`` for every key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    shop_domain: str = Field(description="The shop's permanent domain, e.g. 'acme.myshopify.com'.")
    base_url: str | None = Field(
        default=None, description="Override of https://{shop_domain} (simulators on loopback only)."
    )
    api_version: str = DEFAULT_API_VERSION
    access_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    token_refresh_margin: float = Field(default=300.0, ge=0)
    location_ids: tuple[str, ...] = ()
    product_identifier: Literal["sku", "barcode"] = "sku"
    variant_cache_seconds: float = Field(default=600.0, ge=0)
    taxes_included: bool = True
    tax_rates: dict[str, Decimal] = Field(default_factory=dict)
    tax_title: str = Field(default="VAT", min_length=1)
    notify_customer: bool = False
    carrier_map: dict[str, str] = Field(default_factory=dict)
    shipment_lookback_days: int = Field(default=30, ge=1, le=365)
    stock_cost_budget: int = Field(default=500, ge=50, le=1000)
    timeout: float = Field(default=30.0, gt=0)
    max_throttle_retries: int = Field(default=8, ge=0)

    @field_validator("shop_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DOMAIN.match(value):
            raise ValueError("must be the shop's myshopify.com domain, e.g. 'acme.myshopify.com'")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = require_https(value)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("must be a Shopify API version such as '2026-10' or 'unstable'")
        return value

    @field_validator("location_ids")
    @classmethod
    def _locations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in value:
            if not _LOCATION.match(item):
                raise ValueError(f"{item!r} is not a location id (a number or gid://shopify/Location/N)")
            out.append(item if item.startswith("gid://") else f"gid://shopify/Location/{item}")
        return tuple(out)

    @field_validator("tax_rates")
    @classmethod
    def _rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for country, rate in value.items():
            if not _COUNTRY.match(country):
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
            if not Decimal(0) <= rate <= Decimal(100):
                raise ValueError(f"rate for {country} must be a percentage between 0 and 100")
        return value

    def auth_problems(self) -> list[tuple[str, str]]:
        """(key, message) for an incomplete or ambiguous authentication setup; empty when it is fine."""
        static = self.access_token is not None
        credentials = self.client_id is not None or self.client_secret is not None
        if static and credentials:
            return [("access_token", "give either access_token or client_id + client_secret, not both")]
        if not static and not credentials:
            return [("access_token", "missing: give access_token, or client_id and client_secret")]
        if credentials and not self.client_id:
            return [("client_id", "client credentials need client_id")]
        if credentials and self.client_secret is None:
            return [("client_secret", "client credentials need client_secret")]
        return []

    @property
    def admin_url(self) -> str:
        """Where the Admin API lives: ``base_url`` or ``https://{shop_domain}``."""
        return self.base_url or f"https://{self.shop_domain}"

    @property
    def graphql_path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    def tax_rate_for(self, country_code: str) -> Decimal | None:
        """The configured percentage for a destination country, ``None`` when there is none."""
        return self.tax_rates.get(country_code)
