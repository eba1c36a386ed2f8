"""``load_config``: read, merge, resolve secrets, validate, and report every problem at once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigError, ConfigProblem
from .keys import KeyPath, OriginMap, format_key_path
from .schema import BlockConfig, Config, ConnectionConfig, DaemonConfig, HttpConfig, LogConfig, toml_type
from .secrets import SecretResolver
from .sources import MergedDocument, read_and_merge

__all__ = [
    "CORE_SECTIONS",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_STATE_DIR",
    "NAME_PATTERN",
    "PASSTHROUGH_SECTIONS",
    "default_config_path",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path("/etc/ordersyncd/ordersyncd.toml")
DEFAULT_STATE_DIR = Path("/var/lib/ordersyncd")
#: Names of stores, marketplace accounts and connections (metric labels, URL parts).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CORE_SECTIONS = ("daemon", "log", "http", "stores", "marketplaces", "connections")
#: Sections defined by other features; accepted and passed through as ``Config.extra``.
PASSTHROUGH_SECTIONS = ("smtp", "alerts", "web")
#: Sections in which secret references are resolved.
SECRET_SECTIONS = ("stores", "marketplaces", "smtp", "web")

_ModelT = TypeVar("_ModelT", bound=BaseModel)


def default_config_path(*, environ: Mapping[str, str] | None = None) -> Path:
    """``$ORDERSYNCD_CONFIG`` when set and not empty, else ``/etc/ordersyncd/ordersyncd.toml``."""
    env = os.environ if environ is None else environ
    value = env.get("ORDERSYNCD_CONFIG", "")
    return Path(value) if value else DEFAULT_CONFIG_PATH


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """The first path of ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``), else the default."""
    value = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(value) if value else DEFAULT_STATE_DIR


def load_config(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration.

    ``path`` is the main file (``--config``); ``None`` means :func:`default_config_path`. ``conf.d/*.toml``
    beside it are merged over it in lexical order. ``environ`` (default ``os.environ``) supplies
    ``ORDERSYNCD_CONFIG``, ``STATE_DIRECTORY``, ``CREDENTIALS_DIRECTORY`` and ``KEY_env`` variables.

    Raises :class:`ordersyncd.errors.ConfigError` carrying every problem found, each naming the file, the
    key path and the reason.
    """
    env = os.environ if environ is None else environ
    main_file = path if path is not None else default_config_path(environ=env)
    document = read_and_merge(main_file)
    if document.problems:
        raise ConfigError(document.problems)
    return _Builder(document, env).build()


_EXPECTED = {
    "bool_type": "a boolean",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "tuple_type": "an array",
    "list_type": "an array",
}


def _message(error: ErrorDetails) -> str:
    """A plain-words message for one pydantic error (without echoing secrets: core tables hold none)."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {toml_type(error['input'])}"
    if kind in {"literal_error", "enum"}:
        return f"must be one of {ctx.get('expected', '?')}, got {error['input']!r}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


class _Builder:
    """Validates one merged document; collects problems instead of stopping at the first."""

    def __init__(self, document: MergedDocument, environ: Mapping[str, str]) -> None:
        self.data = document.data
        self.files = tuple(document.files)
        self.origins: OriginMap = document.origins
        self.environ = environ
        self.problems: list[ConfigProblem] = []
        self.resolver = SecretResolver(origins=self.origins, environ=environ)

    def problem(self, path: KeyPath, message: str) -> None:
        """Record a problem at ``path``, blaming the file that set it."""
        self.problems.append(
            ConfigProblem(path=format_key_path(path), message=message, file=str(self.origins.lookup(path)))
        )

    def build(self) -> Config:
        for key in self.data:
            if key not in CORE_SECTIONS and key not in PASSTHROUGH_SECTIONS:
                self.problem((key,), "unknown key")
        daemon_raw = self.table(("daemon",))
        daemon_raw.setdefault("state_dir", str(default_state_dir(self.environ)))
        state_dir = daemon_raw["state_dir"]
        if isinstance(state_dir, str) and state_dir and not Path(state_dir).is_absolute():
            # Relative to the file that set it, like secret files (the demo configuration uses this).
            daemon_raw["state_dir"] = str(
                (self.origins.lookup(("daemon", "state_dir")).parent / state_dir).resolve()
            )
        daemon = self.validate(DaemonConfig, daemon_raw, ("daemon",))
        log = self.validate(LogConfig, self.table(("log",)), ("log",))
        http = self.validate(HttpConfig, self.table(("http",)), ("http",))
        stores = self.blocks("store")
        marketplaces = self.blocks("marketplace")
        for name in sorted(stores.keys() & marketplaces.keys()):
            self.problem(("marketplaces", name), f"name {name!r} is used for both a store and a marketplace")
        extra = self.passthrough()
        # Secret problems are reported with their blocks, before the connections.
        self.problems.extend(self.resolver.problems)
        connections = self.connections()
        if self.problems or daemon is None or log is None or http is None:
            raise ConfigError(self.problems)
        return Config(
            files=self.files,
            daemon=daemon,
            log=log,
            http=http,
            stores=stores,
            marketplaces=marketplaces,
            connections=connections,
            extra=extra,
            secrets=tuple(self.resolver.secrets),
            origins=self.origins,
        )

    def table(self, path: tuple[str, ...], parent: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The table at ``path`` (a copy; empty when absent); a non-table is a problem."""
        value = (self.data if parent is None else parent).get(path[-1], {})
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {toml_type(value)}")
            return {}
        return dict(value)

    def validate(self, model: type[_ModelT], raw: dict[str, Any], prefix: KeyPath) -> _ModelT | None:
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            for item in error.errors(include_url=False):
                self.problem((*prefix, *item["loc"]), _message(item))
            return None

    def check_name(self, path: tuple[str, ...]) -> bool:
        name = path[-1]
        if NAME_PATTERN.match(name):
            return True
        self.problem(
            path,
            f"invalid name {name!r}: use 1 to 63 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit",
        )
        return False

    def blocks(self, kind: Literal["store", "marketplace"]) -> dict[str, BlockConfig]:
        section = f"{kind}s"
        result: dict[str, BlockConfig] = {}
        for name, raw in self.table((section,)).items():
            path = (section, name)
            self.check_name(path)
            if not isinstance(raw, dict):
                self.problem(path, f"expected a table, got {toml_type(raw)}")
                continue
            settings = self.resolver.resolve(raw, path)
            plugin = settings.pop("plugin", None)
            if plugin is None:
                self.problem((*path, "plugin"), "required key is missing")
                continue
            if not isinstance(plugin, str) or not plugin:
                self.problem((*path, "plugin"), "expected a non-empty string naming the plugin")
                continue
            result[name] = BlockConfig(
                name=name,
                kind=kind,
                plugin=plugin,
                settings=settings,
                file=self.origins.lookup(path),
                origins=self.origins.below(path),
            )
        return result

    def passthrough(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for section in PASSTHROUGH_SECTIONS:
            if section not in self.data:
                continue
            value = self.data[section]
            if section in SECRET_SECTIONS and isinstance(value, dict):
                value = self.resolver.resolve(value, (section,))
            extra[section] = value
        return extra

    def connections(self) -> dict[str, ConnectionConfig]:
        result: dict[str, ConnectionConfig] = {}
        declared = {
            kind: sorted(value) if isinstance(value := self.data.get(f"{kind}s"), dict) else []
            for kind in ("store", "marketplace")
        }
        for name, raw in self.table(("connections",)).items():
            path = ("connections", name)
            self.check_name(path)
            if not isinstance(raw, dict):
                self.problem(path, f"expected a table, got {toml_type(raw)}")
                continue
            raw = dict(raw)
            if "name" in raw:
                self.problem((*path, "name"), "unknown key")
                del raw["name"]
            for kind in ("marketplace", "store"):
                self.check_reference(raw, (*path, kind), declared[kind])
            connection = self.validate(ConnectionConfig, {**raw, "name": name}, path)
            if connection is None:
                continue
            if connection.backoff_max < connection.backoff_initial:
                self.problem(
                    (*path, "backoff_max"),
                    f"must not be less than backoff_initial ({connection.backoff_initial:g} s)",
                )
                continue
            result[name] = connection
        return result

    def check_reference(
        self, raw: Mapping[str, Any], path: tuple[str, str, str], declared: list[str]
    ) -> None:
        """A connection's ``store``/``marketplace`` must name a declared block of that kind.

        A declared block that is itself broken is not reported again here: its own problem says why.
        """
        kind = path[-1]
        value = raw.get(kind)
        if not isinstance(value, str) or not value or value in declared:
            return  # missing or wrong type is reported by the schema
        known = ", ".join(declared) if declared else "none"
        self.problem(path, f"unknown {kind} {value!r} (known: {known})")
