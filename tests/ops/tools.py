"""Helpers of the operations tests: repository paths and external tools (promtool, systemd-analyze)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALLOW_MISSING_ENV = "ORDERSYNCD_ALLOW_MISSING_TOOLS"


def require_tool(name: str) -> str:
    """Path of an external tool.

    FAILS the test when the tool is missing (CI installs it with ``scripts/install-system-deps.sh``); skips
    only when ``ORDERSYNCD_ALLOW_MISSING_TOOLS=1`` says that is acceptable on this machine.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} not found; run `bash scripts/install-system-deps.sh` (as root) to install it"
    if os.environ.get(ALLOW_MISSING_ENV) == "1":
        pytest.skip(f"{message} ({ALLOW_MISSING_ENV}=1)")
    pytest.fail(message)


def run(
    *args: str | Path, input_text: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output as text (never raises on a non-zero exit)."""
    return subprocess.run(
        [str(a) for a in args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "cat", "LC_ALL": "C.UTF-8"},
    )
