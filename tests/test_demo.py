"""`make demo` must never silently break: its scenario runs here and checks its own outcome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_scenario_passes():
    result = subprocess.run(
        [
            sys.executable,
            str(
                ROOT / "demo" / "demo.py",
            ),
            "--short",
            "--free-ports",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome checked:" in result.stdout
    assert "stopped: daemon, simulators and mail server" in result.stdout
