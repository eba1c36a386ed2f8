"""Processes a benchmark runs: simulator hosts and the daemon, each its own OS process, on 127.0.0.1 only.

The daemon's CPU time and resident memory are read from ``/proc`` through psutil (CPU of all its threads:
the journal's SQLite worker threads count too; peak RSS is the kernel's high-water mark ``VmHWM``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from ordersyncd.testing.asgi import free_port

__all__ = ["BENCH_DIR", "PYTHON", "Aborted", "DaemonProcess", "SimProcess", "cpu_seconds", "peak_rss"]

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all threads)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def peak_rss(pid: int) -> int:
    """Peak resident set size in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return int(psutil.Process(pid).memory_info().rss)


class Aborted(Exception):
    """A benchmark stopped a process on purpose (a guard tripped); the message says why."""


def _wait(check: Any, what: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
            if check():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.05)


@dataclass
class SimProcess:
    """A simulator host (``bench/simhost.py``) in its own process."""

    kind: str
    args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimProcess:
        self.port = free_port()
        command = [PYTHON, str(BENCH_DIR / "simhost.py"), self.kind, "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 - our own command line
        _wait(lambda: self.get("/_bench/ping")["ok"], f"{self.kind} simulator", 30, self.proc)
        return self

    def get(self, path: str) -> Any:
        response = self.client.get(self.url + path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.client.post(self.url + path, json=body or {})
        response.raise_for_status()
        return response.json()

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()


@dataclass
class DaemonProcess:
    """``python -m ordersyncd.cli --config FILE run`` with its log in ``workdir/daemon.log``.

    ``wrapper`` (e.g. a py-spy command line ending in ``--``) is put in front of the command.
    """

    config: Path
    state_dir: Path
    wrapper: list[str] = field(default_factory=list)
    #: Stop with SIGKILL instead of SIGTERM: a graceful stop waits up to ``stop_timeout`` for steps that are
    #: waiting out a rate limit, which measures nothing.
    kill_on_stop: bool = False
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    _pid: int = 0

    @property
    def pid(self) -> int:
        """The daemon's own pid (below a wrapper such as py-spy, its child)."""
        if not self._pid:
            assert self.proc is not None
            if not self.wrapper:
                self._pid = self.proc.pid
            else:
                deadline = time.monotonic() + 30
                while not self._pid:
                    for child in psutil.Process(self.proc.pid).children(recursive=True):
                        if "ordersyncd.cli" in " ".join(child.cmdline()):
                            self._pid = child.pid
                    if time.monotonic() > deadline:
                        raise RuntimeError("daemon process not found below the wrapper")
                    time.sleep(0.05)
        return self._pid

    @property
    def url(self) -> str:
        port = (self.state_dir / "http-port").read_text().strip()
        return f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 600, guard: Callable[[], str | None] | None = None) -> DaemonProcess:
        """Start and wait until ready; ``guard`` (checked while waiting) returning a reason aborts the start
        with :class:`Aborted`."""
        self.log_path = self.config.parent / "daemon.log"
        command = [*self.wrapper, PYTHON, "-m", "ordersyncd.cli", "--config", str(self.config), "run"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_SOCKET", "WATCHDOG_"))}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own command line
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )

        def ready() -> bool:
            reason = guard() if guard is not None else None
            if reason:
                raise Aborted(reason)
            return self.ready()

        _wait(ready, "daemon", timeout, self.proc)
        return self

    def ready(self) -> bool:
        if not (self.state_dir / "http-port").exists():
            return False
        return self.client.get(self.url + "/readyz").status_code == 200

    def sync(self, connection: str) -> None:
        """ "Synchronize now" through the daemon's API (what ``ordersyncd sync`` does)."""
        token = (self.state_dir / "api-token").read_text().strip()
        response = self.client.post(
            f"{self.url}/api/v1/connections/{connection}/sync", headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()

    def metrics(self) -> str:
        return self.client.get(self.url + "/metrics").text

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def peak_rss(self) -> int:
        return peak_rss(self.pid)

    def stop(self, timeout: float = 60) -> None:
        self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            if self.kill_on_stop:
                psutil.Process(self.pid).kill()
            else:
                psutil.Process(self.pid).terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def running(*processes: SimProcess | DaemonProcess) -> Iterator[None]:
    """Stop every process (last first) when the block ends."""
    try:
        yield
    finally:
        for process in reversed(processes):
            process.stop()
