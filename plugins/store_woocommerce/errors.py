"""WooCommerce's error answers (``{code, message, data{status}}``, a serialised ``WP_Error``) classified for
the core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ordersyncd.plugin import (
    AuthenticationError,
    PermanentOrderError,
    PluginError,
    TransientError,
    classify_http_error,
)

__all__ = ["SYSTEM", "WooCommerceError", "classify", "error_code"]

SYSTEM = "woocommerce"

#: Codes that say the credentials (or their permissions) are refused, whatever the HTTP status.
AUTH_CODES = frozenset(
    {
        "woocommerce_rest_authentication_error",
        "woocommerce_rest_authentication_missing_parameter",
        "woocommerce_rest_cannot_view",
        "woocommerce_rest_cannot_create",
        "woocommerce_rest_cannot_edit",
        "rest_forbidden",
    }
)
#: Codes that mean the store is not set up as configured (wrong URL or prefix, extension missing): no
#: single order is to blame, so the call is retried rather than an order quarantined.
SETUP_CODES = frozenset({"rest_no_route"})


class WooCommerceError(PermanentOrderError):
    """WooCommerce rejected the request for a reason of this order (unknown product, invalid field)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def error_code(response: httpx.Response) -> tuple[str, str]:
    """``(code, message)`` of a WooCommerce error body; empty strings when the body is not one."""
    try:
        body: Any = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, Mapping):
        return "", ""
    code, message = body.get("code"), body.get("message")
    return (code if isinstance(code, str) else ""), (message[:300] if isinstance(message, str) else "")


def classify(response: httpx.Response, operation: str) -> PluginError:
    """The classified error of an unsuccessful answer to ``operation``.

    429 → rate limited (Retry-After), 401/403 and authentication codes → authentication, 408/5xx →
    transient, ``rest_no_route`` → transient (setup), other 4xx → :class:`WooCommerceError` (permanent for
    the order being processed).
    """
    status = response.status_code
    code, message = error_code(response)
    where = f"{SYSTEM}: {operation} -> HTTP {status}"
    detail = f"{where} {code}: {message}" if code else where
    if status == 429 or status == 408 or status >= 500:
        error = classify_http_error(response, SYSTEM)
        error.message = detail
        error.args = (detail,)
        return error
    if status in (401, 403) or code in AUTH_CODES:
        return AuthenticationError(detail)
    if code in SETUP_CODES:
        return TransientError(f"{detail} (check store_url, api_prefix and the installed extensions)")
    return WooCommerceError(detail, code)
