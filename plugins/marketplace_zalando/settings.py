"""The ``[marketplaces.NAME]`` block of a Zalando Partner Program (zDirect) account."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ordersyncd.plugin import Secret, require_https

__all__ = ["BASE_URLS", "DOCUMENTED_QUOTAS", "ORDER_TYPES", "RETURN_REASONS", "ZalandoSettings"]

#: zDirect base URL per mode (same paths on both hosts).
BASE_URLS = {
    "production": "https://api.merchants.zalando.com",
    "sandbox": "https://api-sandbox.merchants.zalando.com",
}

#: Requests per minute per Fashion Partner, as documented (reference §6), by mode and quota: ``patch`` = "PATCH
#: (order or line)", ``orders_list`` = "GET multiple orders" (paced only when configured: see
#: :attr:`ZalandoSettings.request_quotas`).
DOCUMENTED_QUOTAS = {
    "sandbox": {"patch": 40, "orders_list": 10},
    "production": {"patch": 2000, "orders_list": 40},
}

#: Connection order types and the matching zDirect ``order_type`` values.
ORDER_TYPES = {"FBR": "PartnerFulfilled", "FBZ": "ZalandoFulfilled"}

#: Documented return reason codes (sent as integers in the line ``reason`` attribute).
RETURN_REASONS = {
    "UNKNOWN_CAUSE": 0,
    "DISLIKE": 1,
    "SIZE_BIG": 2,
    "SIZE_SMALL": 3,
    "VALUE_FOR_MONEY": 4,
    "DELIVERY_TOO_LATE": 5,
    "NOT_LIKE_IMAGINED": 6,
    "ARTICLE_WRONG": 9,
    "DEFECTIVE": 10,
}


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{what} must be a UUID such as 01924c48-49bb-40c2-9c32-ab582e6db6f4") from None


class ZalandoSettings(BaseModel):
    """Account settings. Keys are documented in ``docs/plugins/zalando.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    client_id: str = Field(min_length=1)
    client_secret: Secret
    mode: Literal["sandbox", "production"]
    merchant_id: str | None = None
    sales_channels: tuple[str, ...] = ()
    order_types: tuple[Literal["FBR", "FBZ"], ...] = Field(default=("FBR",), min_length=1)
    zss: bool = False
    update_stock_for_fbz: bool = False
    default_return_reason: int | str = "UNKNOWN_CAUSE"
    product_identification_attribute: Literal["sku", "ean"] = "sku"
    base_url: str | None = None
    shipping_gap_seconds: float = Field(default=5.0, ge=0, le=300)
    page_size: int = Field(default=100, ge=1, le=1000)
    initial_lookback_days: int = Field(default=7, ge=1, le=365)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_rate_limit_wait: float = Field(default=60.0, ge=0, le=3600)
    patch_requests_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    order_list_requests_per_minute: int | None = Field(default=None, ge=1, le=100_000)

    @field_validator("merchant_id")
    @classmethod
    def _merchant(cls, value: str | None) -> str | None:
        return None if value is None else _uuid(value, "merchant_id")

    @field_validator("sales_channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        channels = tuple(_uuid(v, "every sales channel") for v in value)
        if len(set(channels)) != len(channels):
            raise ValueError("a sales channel is listed twice")
        return channels

    @field_validator("order_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("an order type is listed twice")
        return value

    @field_validator("default_return_reason")
    @classmethod
    def _reason(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value in RETURN_REASONS.values():
            return value
        if isinstance(value, str) and value.upper() in RETURN_REASONS:
            return value.upper()
        names = ", ".join(f"{name} ({code})" for name, code in RETURN_REASONS.items())
        raise ValueError(f"unknown return reason {value!r}; use one of {names}")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = require_https(value)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")

    @property
    def api_base_url(self) -> str:
        """The base URL in use: ``base_url`` when set (simulators), else the mode's host."""
        return self.base_url or BASE_URLS[self.mode]

    @property
    def request_quotas(self) -> dict[str, int]:
        """Requests per minute the client paces itself to, by quota: PATCH requests always (the setting, else
        the mode's documented value), order list calls only when ``order_list_requests_per_minute`` is set."""
        quotas = {"patch": self.patch_requests_per_minute or DOCUMENTED_QUOTAS[self.mode]["patch"]}
        if self.order_list_requests_per_minute is not None:
            quotas["orders_list"] = self.order_list_requests_per_minute
        return quotas

    @property
    def return_reason_code(self) -> int:
        """``default_return_reason`` as the integer code zDirect expects."""
        value = self.default_return_reason
        return value if isinstance(value, int) else RETURN_REASONS[value]
