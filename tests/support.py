"""Helpers for tests that run the real daemon: configuration files, subprocesses, waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

from ordersyncd.runtime import Daemon
from ordersyncd.testing import Faults, ServedApp
from ordersyncd_fakes.server import FakeWorld

PYTHON = sys.executable


def write_config(
    directory: Path,
    base_url: str,
    *,
    token_file: Path | None = None,
    extra: str = "",
    intervals: str = 'poll_orders = "1s"\nadvance_orders = "1s"\npoll_shipments = "1s"\nsync_stock = "5s"\nreconcile = "1h"',
    connection_extra: str = "",
    marketplace_extra: str = "",
) -> Path:
    """A configuration using the fake plugins against ``base_url``; state in ``directory/state``."""
    directory.mkdir(parents=True, exist_ok=True)
    token = f'token_file = "{token_file}"\n' if token_file else ""
    path = directory / "ordersyncd.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{directory / "state"}"
stop_timeout = "10s"

[log]
level = "info"
format = "json"

[http]
listen = "127.0.0.1"
port = 0

[marketplaces.fakem]
plugin = "fake-marketplace"
base_url = "{base_url}"
{token}{marketplace_extra}

[stores.fakes]
plugin = "fake-store"
base_url = "{base_url}"
{token}

[connections.fake]
marketplace = "fakem"
store = "fakes"
backoff_initial = "1s"
backoff_max = "2s"
overlap = "1m"
{connection_extra}

[connections.fake.intervals]
{intervals}
{extra}
"""
    )
    return path


def wait_for(
    condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class DaemonProcess:
    """``ordersyncd run`` as a real subprocess."""

    def __init__(self, config: Path, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.config = config
        self.state_dir = config.parent / "state"
        self.log_path = log_path or config.parent / "daemon.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "ordersyncd.cli", "--config", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    @property
    def port(self) -> int | None:
        try:
            return int((self.state_dir / "http-port").read_text())
        except (OSError, ValueError):
            return None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc and self.proc.returncode}:\n{self.output()}")
        if self.port is None:
            return False
        try:
            return httpx.get(self.url("/readyz"), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 20.0) -> DaemonProcess:
        # A stale port file from an earlier run must not count: wait for this process's own.
        wait_for(self.ready, timeout, what="the daemon to be ready")
        return self

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        (self.state_dir / "http-port").unlink(missing_ok=True)

    def stop(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        (self.state_dir / "http-port").unlink(missing_ok=True)
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run_cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "ordersyncd.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class FakeBackend:
    """The fake marketplace and store server, served on 127.0.0.1, with its world and faults at hand."""

    def __init__(self, world: FakeWorld, faults: Faults, served: ServedApp) -> None:
        self.world = world
        self.faults = faults
        self.served = served
        self.base_url = served.base_url


#: Job intervals with stock pushed once at start, then only when a test triggers it.
ONLY_STARTUP_STOCK = 'poll_orders = "1s"\nadvance_orders = "1s"\npoll_shipments = "1s"\nsync_stock = "1h"'


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        with anyio.fail_after(20):
            while not daemon.readiness()[0]:
                await anyio.sleep(0.05)
        try:
            yield daemon
        finally:
            daemon.request_stop()


async def until(condition: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    with anyio.fail_after(timeout):
        while True:
            value = condition()
            if value:
                return value
            await anyio.sleep(0.05)
