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


def test_demo_forever_stops_cleanly_on_ctrl_c(tmp_path):
    """DEMO_FOREVER=1 keeps everything running; Ctrl-C (SIGINT to the process group, as a terminal sends it)
    stops the daemon, the simulators and the mail server, leaving no process behind."""
    import os
    import signal
    import time

    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, str(ROOT / "demo" / "demo.py"), "--short", "--free-ports"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DEMO_FOREVER": "1"},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while "everything keeps running" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the demo did not reach its running state"
            time.sleep(0.5)
        os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(60) == 130
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    output = log.read_text(errors="replace")
    assert "stopped (interrupted): daemon, simulators and mail server" in output
    leftover = subprocess.run(["pgrep", "-g", str(demo.pid)], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", f"processes left behind: {leftover.stdout}"
