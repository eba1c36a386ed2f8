"""Authentication with WooCommerce REST API keys (``ck_…`` / ``cs_…``).

Over HTTPS the key pair goes as HTTP Basic credentials. Over plain HTTP WooCommerce refuses Basic keys and
accepts OAuth 1.0a one-legged signatures instead (RFC 5849 without a token): the ``oauth_*`` parameters are
added to the query string, the signature covers the method, the URL without query and every query
parameter, the signing key is ``consumer_secret + "&"``; ``oauth_version`` is left out as WooCommerce asks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Literal
from urllib.parse import quote

import httpx

from ordersyncd.plugin import Secret

__all__ = [
    "BasicAuth",
    "OAuth1Signer",
    "RequestAuth",
    "percent_encode",
    "signature_base_string",
]

#: Characters RFC 5849 §3.6 leaves unencoded.
_UNRESERVED = "-._~"


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires it (UTF-8, only ``A-Za-z0-9-._~`` kept)."""
    return quote(value, safe=_UNRESERVED)


def base_string_uri(url: httpx.URL) -> str:
    """``scheme://host[:port]/path``: lower-case scheme and host, default ports left out, no query."""
    scheme = url.scheme.lower()
    host = url.host.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{url.port}" if url.port is not None and url.port != default else ""
    path = url.raw_path.split(b"?", 1)[0].decode("ascii") or "/"
    return f"{scheme}://{host}{port}{path}"


def signature_base_string(method: str, url: httpx.URL, params: Iterable[tuple[str, str]]) -> str:
    """The OAuth 1.0a signature base string of a request whose parameters (query and ``oauth_*``, without
    ``oauth_signature``) are ``params``."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), percent_encode(base_string_uri(url)), percent_encode(normalized)))


class RequestAuth:
    """Adds credentials to an outgoing :class:`httpx.Request`."""

    name = "none"

    def apply(self, request: httpx.Request) -> httpx.Request:
        raise NotImplementedError


class BasicAuth(RequestAuth):
    """HTTP Basic with the consumer key as user and the consumer secret as password (HTTPS only)."""

    name = "basic"

    def __init__(self, consumer_key: str, consumer_secret: Secret) -> None:
        self._key = consumer_key
        self._secret = consumer_secret

    def apply(self, request: httpx.Request) -> httpx.Request:
        pair = f"{self._key}:{self._secret.reveal()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return request


class OAuth1Signer(RequestAuth):
    """One-legged OAuth 1.0a signatures (HMAC-SHA256 or HMAC-SHA1) in the query string."""

    name = "oauth1"

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: Secret,
        method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256",
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._key = consumer_key
        self._secret = consumer_secret
        self.method = method
        self._clock = clock
        self._nonce = nonce

    def oauth_parameters(self) -> dict[str, str]:
        """Fresh ``oauth_*`` parameters (without the signature)."""
        return {
            "oauth_consumer_key": self._key,
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": self.method,
            "oauth_timestamp": str(int(self._clock())),
        }

    def sign(self, method: str, url: httpx.URL, params: Iterable[tuple[str, str]]) -> str:
        """The base64 signature of a request with all its parameters (``oauth_*`` included)."""
        base = signature_base_string(method, url, params)
        key = (percent_encode(self._secret.reveal()) + "&").encode()
        digest = hashlib.sha256 if self.method == "HMAC-SHA256" else hashlib.sha1
        return base64.b64encode(hmac.new(key, base.encode(), digest).digest()).decode("ascii")

    def apply(self, request: httpx.Request) -> httpx.Request:
        oauth = self.oauth_parameters()
        query = [(k, v) for k, v in request.url.params.multi_items() if not k.startswith("oauth_")]
        oauth["oauth_signature"] = self.sign(request.method, request.url, [*query, *oauth.items()])
        request.url = request.url.copy_with(params=httpx.QueryParams([*query, *oauth.items()]))
        return request
