"""Fixtures of the operations tests."""

from __future__ import annotations

import pytest

from .tools import require_tool


@pytest.fixture
def promtool() -> str:
    """Path of promtool (Debian package ``prometheus``)."""
    return require_tool("promtool")


@pytest.fixture
def systemd_analyze() -> str:
    """Path of systemd-analyze (Debian package ``systemd``)."""
    return require_tool("systemd-analyze")
