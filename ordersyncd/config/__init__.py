"""Configuration of ordersyncd: TOML main file plus ``conf.d/*.toml`` drop-ins, validated as a whole.

See ``docs/configuration.md`` for every key. The runtime and CLI use::

    from ordersyncd.config import load_config
    config = load_config(path)  # raises ordersyncd.errors.ConfigError with every problem found
"""

from __future__ import annotations

from .durations import parse_duration
from .loader import default_config_path, load_config
from .problems import FileProblem
from .schema import (
    BlockConfig,
    Config,
    ConnectionConfig,
    DaemonConfig,
    HttpConfig,
    Intervals,
    LogConfig,
)

__all__ = [
    "BlockConfig",
    "Config",
    "ConnectionConfig",
    "DaemonConfig",
    "FileProblem",
    "HttpConfig",
    "Intervals",
    "LogConfig",
    "default_config_path",
    "load_config",
    "parse_duration",
]
