"""Helpers shared by the configuration tests (a uniquely named module, safe to import by name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ordersyncd.errors import ConfigError, ConfigProblem

WriteConfig = Callable[..., Path]

MINIMAL = """
[stores.shop]
plugin = "shopify"

[marketplaces.zal]
plugin = "zalando"

[connections.zal-shop]
marketplace = "zal"
store = "shop"
"""


def problem_at(error: ConfigError, path: str) -> ConfigProblem:
    """The one problem reported at ``path``; fails listing all problems otherwise."""
    found = [p for p in error.problems if p.path == path]
    assert len(found) == 1, f"expected one problem at {path!r}, got: {[str(p) for p in error.problems]}"
    return found[0]
