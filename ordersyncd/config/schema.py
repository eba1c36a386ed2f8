"""The validated configuration: what the runtime, the worker and the CLI read.

Core tables (``daemon``, ``log``, ``http``, ``connections.NAME`` and its ``intervals``) are frozen pydantic
models that reject unknown keys and do not coerce types (TOML is typed: ``active = "yes"`` is an error, not
``True``). Plugin blocks (``stores.NAME``, ``marketplaces.NAME``) are passed through as
:class:`BlockConfig`; the plugin validates their settings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

from ..model import SyncLevel
from .durations import parse_duration
from .keys import OriginMap, compact_origins, parse_key_path

__all__ = [
    "BlockConfig",
    "Config",
    "ConnectionConfig",
    "DaemonConfig",
    "Duration",
    "HttpConfig",
    "Intervals",
    "LogConfig",
]


def toml_type(value: Any) -> str:
    """The TOML name of a value's type (``boolean``, ``integer``, ``table``...), for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "date/time"  # TOML's remaining types: offset/local date-times, dates, times


def _duration(value: Any) -> float:
    if not isinstance(value, int | float | str):
        raise ValueError(f"expected a duration, got {toml_type(value)}")
    return parse_duration(value)


def _at_least(minimum: float) -> AfterValidator:
    def check(value: float) -> float:
        if value < minimum:
            unit = "second" if minimum == 1 else "seconds"
            raise ValueError(f"must be at least {minimum:g} {unit}")
        return value

    return AfterValidator(check)


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
    return value


def _absolute_path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a string (a path), got {toml_type(value)}")
    if not value:
        raise ValueError("must not be empty")
    path = Path(value)
    if not path.is_absolute():
        raise ValueError(f"must be an absolute path, got {value!r}")
    return path


def _listen_address(value: str) -> str:
    if value == "localhost":
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"must be an IP address or 'localhost', got {value!r}") from None
    return value


def _public_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as 'https://orders.example.com', got {value!r}")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError(f"must be between 1 and 65535 (0 picks a free port), got {value}")
    return value


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


#: A duration in seconds, written as a number of seconds or a string such as ``"1h30m"``.
Duration = Annotated[float, BeforeValidator(_duration)]
_Interval = Annotated[float, BeforeValidator(_duration), _at_least(1)]
_PositiveDuration = Annotated[float, BeforeValidator(_duration), AfterValidator(_positive)]
_AbsolutePath = Annotated[Path, BeforeValidator(_absolute_path)]
_Name = Annotated[StrictStr, AfterValidator(_non_empty)]

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class DaemonConfig(BaseModel):
    """``[daemon]``: process-wide settings."""

    model_config = _STRICT

    #: Where the journal and plugin state live (``$STATE_DIRECTORY`` or ``/var/lib/ordersyncd`` by default).
    state_dir: _AbsolutePath = Path("/var/lib/ordersyncd")
    #: How long a stop waits for in-flight work before giving up.
    stop_timeout: Duration = 20.0
    #: SQLite ``PRAGMA synchronous`` of the journal.
    sqlite_synchronous: Literal["full", "normal"] = "full"
    #: Connections started per second (plugin start-up, then the first run of every job), so that thousands
    #: of connections do not reach the remote APIs and this machine in the same second; their later runs keep
    #: the spread.
    start_rate: Annotated[float, AfterValidator(_positive)] = 100.0


class LogConfig(BaseModel):
    """``[log]``: logging."""

    model_config = _STRICT

    level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``auto``: JSON lines when stdout is not a terminal (journald), readable key-values on a terminal.
    format: Literal["auto", "json", "console"] = "auto"


class HttpConfig(BaseModel):
    """``[http]``: the listener for metrics, health, admin pages and the API."""

    model_config = _STRICT

    listen: Annotated[StrictStr, AfterValidator(_listen_address)] = "127.0.0.1"
    #: 0 picks a free port (tests).
    port: Annotated[int, AfterValidator(_port)] = 9850
    #: Base URL of the admin pages as seen by people (used in e-mail links); empty when not set.
    public_url: Annotated[StrictStr, AfterValidator(_public_url)] = ""


class Intervals(BaseModel):
    """``[connections.NAME.intervals]``: how often each periodic job of a connection runs (seconds)."""

    model_config = _STRICT

    poll_orders: _Interval = 120.0
    advance_orders: _Interval = 30.0
    poll_shipments: _Interval = 300.0
    sync_stock: _Interval = 900.0
    reconcile: _Interval = 3600.0


class ConnectionConfig(BaseModel):
    """``[connections.NAME]``: one marketplace account paired with one store."""

    model_config = _STRICT

    name: StrictStr
    marketplace: _Name
    store: _Name
    active: bool = True
    level: Annotated[SyncLevel, Field(strict=False)] = SyncLevel.ORDERS_AND_STOCK
    order_types: Annotated[tuple[StrictStr, ...], Field(strict=False)] = ()
    options: dict[str, Any] = Field(default_factory=dict)
    overlap: Duration = 600.0
    initial_lookback: Duration = 7 * 86_400.0
    reconcile_window: Duration = 3 * 86_400.0
    backoff_initial: _PositiveDuration = 5.0
    backoff_max: _PositiveDuration = 1800.0
    concurrency: Annotated[int, Field(ge=1, le=256, strict=True)] = 16
    stock_buffer: Annotated[int, Field(ge=0, strict=True)] = 0
    full_stock_push: _Interval = 86_400.0
    intervals: Intervals = Field(default_factory=Intervals)


@dataclass(frozen=True)
class BlockConfig:
    """A ``[stores.NAME]`` or ``[marketplaces.NAME]`` block, handed to its plugin.

    ``settings`` is the block without ``plugin``, with secret references resolved into
    :class:`ordersyncd.plugin.Secret` values. ``file`` is the file that defined the block and ``origins``
    maps each key (dotted, relative to the block) to the file that set it.
    """

    name: str
    kind: Literal["store", "marketplace"]
    plugin: str
    settings: dict[str, Any]
    file: Path
    origins: dict[str, Path] = field(default_factory=dict)

    @property
    def section(self) -> str:
        """The block's key path: ``stores.NAME`` or ``marketplaces.NAME``."""
        return f"{self.kind}s.{self.name}"

    def compact_origins(self) -> None:
        """Forget the origins :meth:`origin` finds anyway (a key set by the file that set its enclosing key, or
        by the block's file): every look-up answers as before, in much less memory."""
        kept = compact_origins(self.origins, lambda key: key.split("."), self.file)
        self.origins.clear()
        self.origins.update(kept)

    def origin(self, key_path: str) -> Path:
        """The file that set ``key_path`` (relative to the block), or the block's file."""
        parts = key_path.split(".") if key_path else []
        for depth in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:depth]))
            if found is not None:
                return found
        return self.file


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    #: Every file read, main file first, then the drop-ins in the order they were merged.
    files: tuple[Path, ...]
    daemon: DaemonConfig
    log: LogConfig
    http: HttpConfig
    stores: dict[str, BlockConfig]
    marketplaces: dict[str, BlockConfig]
    connections: dict[str, ConnectionConfig]
    #: Sections reserved for other features (``smtp``, ``alerts``, ``web``), passed through untouched
    #: except that secret references in ``smtp`` and ``web`` are resolved.
    extra: dict[str, Any] = field(default_factory=dict)
    #: Every resolved secret value, for the log redactor. Never shown by ``repr``.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    origins: OriginMap | None = field(default=None, repr=False, compare=False)

    @property
    def main_file(self) -> Path:
        """The main configuration file."""
        return self.files[0]

    def compact_origins(self) -> None:
        """Forget every origin record a look-up finds anyway (:meth:`origin` and the blocks' ``origin`` answer
        exactly as before). The daemon calls this once it has built a configuration's plugins: at thousands of
        connections the records of a configuration of one file are megabytes that no look-up needs."""
        if self.origins is not None:
            self.origins.compact()
        for block in (*self.stores.values(), *self.marketplaces.values()):
            block.compact_origins()

    def origin(self, key_path: str) -> Path:
        """The file that set the dotted ``key_path`` (e.g. ``connections.c.intervals.poll_orders``).

        For a table, the first file that defined it; for a key nobody set (a default), the nearest
        enclosing table's file, else the main file. Raises :class:`ValueError` for a malformed path.
        """
        keys = parse_key_path(key_path)
        if self.origins is None:
            return self.main_file
        return self.origins.lookup(keys)
