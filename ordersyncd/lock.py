"""One process at a time works on a state directory (the daemon, or ``sync --once``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["StateLock", "StateLocked"]


class StateLocked(RuntimeError):
    """Another ordersyncd process holds the state directory."""


class StateLock:
    """An exclusive ``flock`` on ``STATE_DIR/ordersyncd.lock``, released when the process exits (even killed)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "ordersyncd.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.path.read_text().strip() or "?"
            raise StateLocked(
                f"another ordersyncd process (pid {holder}) works on {self.path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
