"""The ``[stores.NAME]`` configuration block of the WooCommerce store plugin."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordersyncd.plugin import Secret, require_https

__all__ = ["WooCommerceSettings"]

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_NAMESPACE = re.compile(r"^[a-z0-9-]+/v\d+$")


class WooCommerceSettings(BaseModel):
    """Settings of one WooCommerce store. See ``docs/plugins/woocommerce.md`` for every key."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    store_url: str = Field(description="The WordPress site URL, e.g. 'https://shop.example.com'.")
    api_prefix: str = "/wp-json"
    consumer_key: str = Field(min_length=1)
    consumer_secret: Secret
    auth: Literal["auto", "basic", "oauth1"] = "auto"
    oauth_signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256"
    timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)

    product_identifier: Literal["sku", "ean"] = "sku"
    ean_meta_key: str | None = Field(default=None, min_length=1)
    catalogue_cache_seconds: float = Field(default=600.0, ge=0)

    order_status: Literal["processing", "on-hold", "completed", "pending"] = "processing"
    payment_method_titles: dict[str, str] = Field(default_factory=dict)
    tax_rates: dict[str, Decimal] = Field(default_factory=dict)
    shipping_method_id: str = Field(default="flat_rate", min_length=1)
    find_order_margin_seconds: float = Field(default=900.0, ge=0)
    find_order_max_pages: int = Field(default=20, ge=1, le=1000)
    find_order_lookback_days: int = Field(default=30, ge=1, le=365)

    shipped_statuses: tuple[str, ...] = ("completed",)
    tracking_source: Literal["shipment_tracking_api", "tracking_items_meta", "meta_keys"] = (
        "shipment_tracking_api"
    )
    tracking_namespace: str = "wc-shipment-tracking/v3"
    tracking_items_meta_key: str = Field(default="_wc_shipment_tracking_items", min_length=1)
    tracking_number_meta_key: str | None = Field(default=None, min_length=1)
    return_tracking_number_meta_key: str | None = Field(default=None, min_length=1)
    carrier_meta_key: str | None = Field(default=None, min_length=1)
    carrier_map: dict[str, str] = Field(default_factory=dict)
    shipment_lookback_days: int = Field(default=30, ge=1, le=365)
    tracking_wait_hours: float = Field(default=72.0, ge=0)

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        problem = require_https(value)
        if problem:
            raise ValueError(problem)
        parts = urlsplit(value)
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("api_prefix")
    @classmethod
    def _api_prefix(cls, value: str) -> str:
        value = "/" + value.strip("/")
        if not _PREFIX.match(value):
            raise ValueError("must be a URL path such as '/wp-json'")
        return value

    @field_validator("tracking_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        value = value.strip("/")
        if not _NAMESPACE.match(value):
            raise ValueError("must be a REST namespace such as 'wc-shipment-tracking/v3'")
        return value

    @field_validator("shipped_statuses")
    @classmethod
    def _statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(status.strip().removeprefix("wc-") for status in value if status.strip())
        if not cleaned:
            raise ValueError("give at least one order status, e.g. ['completed']")
        return cleaned

    @field_validator("tax_rates")
    @classmethod
    def _rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for country, rate in value.items():
            if not _COUNTRY.match(country):
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
            if not Decimal(0) <= rate <= Decimal(100):
                raise ValueError(f"rate for {country} must be a percentage between 0 and 100")
        return value

    def config_problems(self) -> list[tuple[str, str]]:
        """(key, message) for combinations of settings that cannot work; empty when they are fine."""
        problems: list[tuple[str, str]] = []
        if self.auth == "basic" and not self.uses_https:
            problems.append(
                ("auth", "WooCommerce refuses Basic authentication without HTTPS; use 'oauth1' or 'auto'")
            )
        if self.tracking_source == "meta_keys" and not self.tracking_number_meta_key:
            problems.append(("tracking_number_meta_key", "tracking_source 'meta_keys' needs this key"))
        return problems

    @property
    def uses_https(self) -> bool:
        return self.store_url.startswith("https://")

    @property
    def auth_method(self) -> Literal["basic", "oauth1"]:
        """Basic over HTTPS, OAuth 1.0a one-legged signatures over plain HTTP (``auto``)."""
        if self.auth == "auto":
            return "basic" if self.uses_https else "oauth1"
        return self.auth

    @property
    def api_root(self) -> str:
        """Where the WordPress REST API lives: ``{store_url}{api_prefix}``."""
        return f"{self.store_url}{self.api_prefix}"

    def tax_rate_for(self, country_code: str) -> Decimal | None:
        """The configured percentage for a destination country, ``None`` when there is none."""
        return self.tax_rates.get(country_code)
