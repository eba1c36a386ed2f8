"""Server-side checks of WooCommerce REST API keys, written after ``WC_REST_Authentication``.

Basic keys (or ``consumer_key``/``consumer_secret`` query parameters) count only over HTTPS (``is_ssl()``:
the request's scheme or ``X-Forwarded-Proto: https``). Otherwise one-legged OAuth 1.0a: the parameters come
from the query string or an ``Authorization: OAuth …`` header; the signature base string is
``METHOD&rawurlencode(url without query)&rawurlencode(sorted k=v pairs joined by &)``, the key is the
consumer secret followed by ``&``; timestamps must be within 15 minutes and nonces are single-use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

__all__ = ["ApiKey", "AuthFailure", "KeyChecker", "rawurlencode", "woo_signature"]

OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
TIMESTAMP_WINDOW = 15 * 60


def rawurlencode(value: str) -> str:
    """PHP's ``rawurlencode`` (RFC 3986: only ``A-Za-z0-9-_.~`` left as they are)."""
    return quote(value, safe="-_.~")


def woo_signature(method: str, base_uri: str, params: Mapping[str, str], secret: str, algorithm: str) -> str:
    """The signature WooCommerce computes for a request (``params`` without ``oauth_signature``)."""
    pairs = [f"{rawurlencode(k)}={rawurlencode(params[k])}" for k in sorted(params)]
    query = "%26".join(rawurlencode(pair) for pair in pairs)
    to_sign = f"{method.upper()}&{rawurlencode(base_uri)}&{query}"
    digest = hashlib.sha256 if algorithm == "sha256" else hashlib.sha1
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), digest).digest()).decode()


@dataclass
class ApiKey:
    """A REST API key pair with its permissions (``read``, ``write`` or ``read_write``)."""

    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"
    description: str = "ordersyncd"


class AuthFailure(Exception):
    """A refused request: WooCommerce's error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _oauth_header(value: str) -> dict[str, str]:
    if not value.lower().startswith("oauth "):
        return {}
    params = {}
    for part in value[6:].split(","):
        name, _, raw = part.strip().partition("=")
        if name.startswith("oauth_"):
            params[name] = unquote(raw.strip().strip('"'))
    return params


@dataclass
class KeyChecker:
    """Authenticates requests against the store's keys; remembers used nonces."""

    keys: dict[str, ApiKey] = field(default_factory=dict)
    used_nonces: set[tuple[str, str]] = field(default_factory=set)
    #: How requests were authenticated (``basic``, ``query``, ``oauth1``), for assertions.
    methods: list[str] = field(default_factory=list)

    def add(self, key: ApiKey) -> None:
        self.keys[key.consumer_key] = key

    def _key(self, consumer_key: str) -> ApiKey:
        found = self.keys.get(consumer_key)
        if found is None:
            raise AuthFailure("woocommerce_rest_authentication_error", "Consumer key is invalid.")
        return found

    def _secret(self, key: ApiKey, secret: str) -> ApiKey:
        if not hmac.compare_digest(key.consumer_secret.encode(), secret.encode()):
            raise AuthFailure("woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return key

    def authenticate(
        self,
        *,
        method: str,
        is_ssl: bool,
        base_uri: str,
        query: Mapping[str, str],
        basic: tuple[str, str] | None,
        authorization: str,
        now: float,
    ) -> ApiKey | None:
        """The key a request authenticates with, ``None`` when it carries no credentials at all."""
        if is_ssl:
            if basic is not None:
                self.methods.append("basic")
                return self._secret(self._key(basic[0]), basic[1])
            if "consumer_key" in query and "consumer_secret" in query:
                self.methods.append("query")
                return self._secret(self._key(query["consumer_key"]), query["consumer_secret"])
        params = dict(query)
        params.update(_oauth_header(authorization))
        missing = [name for name in OAUTH_REQUIRED if not params.get(name)]
        if len(missing) == len(OAUTH_REQUIRED):
            return None
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            raise AuthFailure(
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth {noun} {', '.join(missing)}",
            )
        key = self._key(params["oauth_consumer_key"])
        signature = params.pop("oauth_signature").replace(" ", "+")
        algorithm = {"HMAC-SHA1": "sha1", "HMAC-SHA256": "sha256"}.get(params["oauth_signature_method"])
        if algorithm is None:
            raise AuthFailure(
                "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid."
            )
        expected = woo_signature(method, base_uri, params, key.consumer_secret, algorithm)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise AuthFailure(
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError:
            timestamp = -1
        if abs(now - timestamp) > TIMESTAMP_WINDOW:
            raise AuthFailure("woocommerce_rest_authentication_error", "Invalid timestamp.")
        nonce = (key.consumer_key, params["oauth_nonce"])
        if nonce in self.used_nonces:
            raise AuthFailure(
                "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used."
            )
        self.used_nonces.add(nonce)
        self.methods.append("oauth1")
        return key
