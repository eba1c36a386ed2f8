"""The public plugin API. Plugins import from here and nothing else of ordersyncd.

A plugin is a class derived from :class:`MarketplacePlugin` or :class:`StorePlugin`, published under the
entry-point group ``ordersyncd.plugins`` (entry-point name = the ``plugin`` value used in configuration)::

    [project.entry-points."ordersyncd.plugins"]
    acme = "acme_ordersyncd:AcmeMarketplace"

The daemon creates one instance per configured block (``[marketplaces.NAME]`` or ``[stores.NAME]``) and
calls its hooks (methods decorated with :data:`hookimpl`; see :mod:`ordersyncd.hookspecs` and
``docs/plugins.md``). Constructors must not do I/O and must not raise: configuration is checked by the
``validate_config`` hook, whose default implementation validates the block against the class's ``Settings``
pydantic model and stores the result in ``self.settings``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from .errors import (
    AuthenticationError,
    ConfigProblem,
    MissingCodes,
    PermanentOrderError,
    PluginError,
    RateLimited,
    TransientError,
)
from .hookspecs import hookimpl
from .model import (
    Address,
    ConnectionInfo,
    Customer,
    DeliveryPromise,
    MerchantAccount,
    Money,
    Order,
    OrderLine,
    Payment,
    RawOrder,
    Shipment,
    ShipmentLine,
    StockItemResult,
    StockItemStatus,
    StockLevel,
    StoreOrderRef,
    SyncLevel,
)
from .tokens import CachedToken, TokenCache

__all__ = [
    "Address",
    "AuthenticationError",
    "CachedToken",
    "ConfigProblem",
    "ConnectionInfo",
    "Customer",
    "DeliveryPromise",
    "MarketplacePlugin",
    "MerchantAccount",
    "MissingCodes",
    "Money",
    "Order",
    "OrderLine",
    "Payment",
    "PermanentOrderError",
    "PluginBase",
    "PluginContext",
    "PluginError",
    "RateLimited",
    "RawOrder",
    "Secret",
    "Shipment",
    "ShipmentLine",
    "StockItemResult",
    "StockItemStatus",
    "StockLevel",
    "StoreOrderRef",
    "StorePlugin",
    "SyncLevel",
    "TokenCache",
    "TransientError",
    "classify_http_error",
    "hookimpl",
    "is_loopback_url",
    "problems_from_validation_error",
    "require_https",
    "retry_after_seconds",
    "string_table_problems",
]


class Secret:
    """A secret value (password, token, client secret). ``str()`` and ``repr()`` never show it.

    The configuration loader resolves ``KEY_file``, ``KEY_credential`` and ``KEY_env`` references into a
    ``Secret`` under ``KEY`` and registers it with the log redactor. Use :meth:`reveal` only where the value
    is sent to the remote system.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return Secret(value)
            raise ValueError("must be a string or a secret reference (KEY_file, KEY_credential, KEY_env)")

        return core_schema.no_info_plain_validator_function(validate)


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.0/8, ::1 or ``localhost``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_https(url: str) -> str | None:
    """Return a problem message when ``url`` is not HTTPS and not on loopback (simulators), else ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    if parts.scheme != "https" and not is_loopback_url(url):
        return f"{url!r} must use https (plain http is only accepted on 127.0.0.1/::1/localhost)"
    return None


def problems_from_validation_error(error: ValidationError, prefix: str = "") -> list[ConfigProblem]:
    """Turn a pydantic ``ValidationError`` into config problems with dotted key paths."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in item["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(ConfigProblem(path=path, message=message))
    return problems


def retry_after_seconds(response: httpx.Response, default: float = 1.0) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110); ``default`` when
    the header is absent or unreadable; never negative."""
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def string_table_problems(options: Mapping[str, Any], key: str) -> list[ConfigProblem]:
    """For ``validate_connection``: a problem when ``options[key]`` is present but not a table of strings (such
    as a ``carrier_map``)."""
    table = options.get(key)
    if table is None:
        return []
    if not isinstance(table, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        return [ConfigProblem(path=f"options.{key}", message="must be a table of strings")]
    return []


def classify_http_error(response: httpx.Response, system: str, detail: str = "") -> PluginError:
    """A reasonable default classification of an unsuccessful HTTP response.

    429 → :class:`RateLimited` (Retry-After honoured, 1 s when absent); 401/403 → :class:`AuthenticationError`;
    408 and 5xx → :class:`TransientError`; other 4xx → :class:`PermanentOrderError`. ``detail`` (the remote's
    reason, never request data) is appended to the message.
    """
    status = response.status_code
    where = f"{system}: {response.request.method} {response.request.url.path} -> HTTP {status}{detail}"
    if status == 429:
        return RateLimited(where, retry_after=retry_after_seconds(response))
    if status in (401, 403):
        return AuthenticationError(where)
    if status == 408 or status >= 500:
        return TransientError(where)
    return PermanentOrderError(where)


HttpClientFactory = Callable[..., httpx.AsyncClient]


@dataclass
class PluginContext:
    """What the core hands a plugin instance.

    ``state_dir`` is a directory the instance may write files to (e.g. downloaded shipping documents).
    ``http_client(system, base_url=..., **httpx_kwargs)`` returns an ``httpx.AsyncClient`` whose requests are
    counted in the metrics (label ``system``) and recorded in the history of the order being processed;
    plugins should make all remote calls through it.
    """

    name: str
    kind: Literal["marketplace", "store"]
    state_dir: Path
    http_client_factory: HttpClientFactory = field(repr=False)

    def http_client(self, system: str, **kwargs: Any) -> httpx.AsyncClient:
        return self.http_client_factory(system, **kwargs)


SettingsT = TypeVar("SettingsT", bound=BaseModel)


class PluginBase(Generic[SettingsT]):
    """Common base of marketplace and store plugins.

    Subclasses set ``Settings`` to a pydantic model of their configuration block (``extra="forbid"``
    recommended, so unknown keys are reported) and implement hooks as methods decorated with ``@hookimpl``.
    """

    kind: ClassVar[Literal["marketplace", "store"]]
    Settings: ClassVar[type[BaseModel] | None] = None
    #: Keys of the block that hold secrets; the host logs a warning when one is written inline instead of
    #: coming from a reference (``KEY_file``, ``KEY_credential``, ``KEY_env``).
    secret_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str, config: Mapping[str, Any], context: PluginContext) -> None:
        self.name = name
        self.raw_config = dict(config)
        self.context = context
        self._settings: SettingsT | None = None

    @property
    def settings(self) -> SettingsT:
        if self._settings is None:
            raise RuntimeError(f"{self.name}: settings used before validate_config succeeded")
        return self._settings

    @hookimpl
    def validate_config(self) -> list[ConfigProblem]:
        if self.Settings is None:
            return []
        block = {k: v for k, v in self.raw_config.items() if k != "plugin"}
        try:
            self._settings = self.Settings.model_validate(block)  # type: ignore[assignment]
        except ValidationError as error:
            return problems_from_validation_error(error)
        return []


class MarketplacePlugin(PluginBase[SettingsT]):
    """Base class of marketplace plugins (orders come from here, stock goes there)."""

    kind = "marketplace"
    #: Most stock levels the core hands ``update_stock`` at once (the plugin may split further). Changed
    #: products of many catalog pages are collected up to this size, so a few changes cost few requests.
    stock_batch_size: ClassVar[int] = 1000


class StorePlugin(PluginBase[SettingsT]):
    """Base class of store plugins (orders go here, shipments and stock come from here)."""

    kind = "store"
