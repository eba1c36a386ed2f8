"""The systemd notify protocol (``sd_notify(3)``), written here instead of linking libsystemd.

The protocol is one datagram of newline-separated ``KEY=VALUE`` lines sent to the ``AF_UNIX``/``SOCK_DGRAM``
socket named by ``$NOTIFY_SOCKET``: an absolute path, or a name in the Linux abstract namespace written with a
leading ``@``. systemd documents it as stable and meant to be reimplemented. Usage::

    notifier = SystemdNotifier.from_environ(os.environ)
    notifier.ready()                       # config, journal, plugins and listener are up
    notifier.status("3 connections, last cycle 12:00:03, 0 failing")
    interval = notifier.watchdog_interval()   # None when systemd does not watch this process
    notifier.watchdog()                    # every `interval` seconds, only while the scheduler progresses
    notifier.reloading(); ...; notifier.ready()   # around a SIGHUP reload
    notifier.stopping()                    # on SIGTERM

Outside systemd (``NOTIFY_SOCKET`` unset) every method is a no-op returning ``False``. Sending never blocks
and never raises: a failure is logged (once per kind of error, to keep a broken socket from flooding the log)
and the method returns ``False``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

__all__ = ["SystemdNotifier", "monotonic_usec"]

log = logging.getLogger(__name__)


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds, the clock systemd expects in ``MONOTONIC_USEC=``."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _socket_address(value: str) -> str | None:
    """The ``connect``/``sendto`` address for a ``NOTIFY_SOCKET`` value, ``None`` when unsupported."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


class SystemdNotifier:
    """Sends state changes and watchdog pings to systemd over ``$NOTIFY_SOCKET``.

    **Parameters:**

    * **address** - the ``NOTIFY_SOCKET`` value: an absolute path or ``@name`` (abstract namespace);
      ``None`` or empty makes every call a no-op.
    * **watchdog_usec** - the watchdog period in microseconds (``WATCHDOG_USEC``), ``None`` when systemd does
      not watch this process.

    Build it with :meth:`from_environ` in the daemon. The socket is created lazily, non-blocking and
    close-on-exec; call :meth:`close` at exit (or use it as a context manager).
    """

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address: str | None = None
        if address:
            self._address = _socket_address(address)
            if self._address is None:
                log.warning("NOTIFY_SOCKET is neither an absolute path nor @name; systemd notifications off")
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._logged_errors: set[str] = set()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """A notifier configured from ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``.

        ``environ`` defaults to :data:`os.environ`. The watchdog is on only when ``WATCHDOG_USEC`` is a
        positive integer and ``WATCHDOG_PID`` is unset or equal to this process id (a child that inherited
        the environment must not ping for its parent). Invalid values are logged and treated as unset.
        """
        env = os.environ if environ is None else environ
        watchdog_usec: int | None = None
        raw_usec = env.get("WATCHDOG_USEC")
        if raw_usec:
            try:
                watchdog_usec = int(raw_usec)
            except ValueError:
                log.warning("ignoring WATCHDOG_USEC that is not an integer: %r", raw_usec)
            raw_pid = env.get("WATCHDOG_PID")
            if watchdog_usec is not None and raw_pid:
                try:
                    if int(raw_pid) != os.getpid():
                        watchdog_usec = None
                except ValueError:
                    log.warning("ignoring WATCHDOG_PID that is not an integer: %r", raw_pid)
                    watchdog_usec = None
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=watchdog_usec)

    @property
    def enabled(self) -> bool:
        """True when a usable ``NOTIFY_SOCKET`` was given (the process runs under systemd)."""
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; ``True`` when the datagram was handed to the kernel.

        Never blocks and never raises. A no-op returning ``False`` when notifications are off.
        """
        if self._address is None or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8", errors="replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            self._log_error(exc)
            return False
        if self._logged_errors:
            log.info("systemd notifications delivered again")
            self._logged_errors.clear()
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up (or a reload) finished; optionally with a ``STATUS=`` line."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(_status_line(status))
        return self.notify(*lines)

    def status(self, text: str) -> bool:
        """``STATUS=<text>``: the one-line summary ``systemctl status`` shows (newlines become spaces)."""
        return self.notify(_status_line(text))

    def reloading(self) -> bool:
        """``RELOADING=1`` + ``MONOTONIC_USEC=`` (when the reload began); send :meth:`ready` after it."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")

    def stopping(self) -> bool:
        """``STOPPING=1``: the daemon began to shut down."""
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: keep-alive ping. Send it only while the daemon makes progress."""
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC=``: ask for more time to start, reload or stop (from now on)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def watchdog_period(self) -> float | None:
        """The watchdog period in seconds (``WatchdogSec=``), ``None`` when the watchdog is off."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 1_000_000

    def watchdog_interval(self) -> float | None:
        """How often to ping, in seconds: half the watchdog period (``None`` when the watchdog is off)."""
        period = self.watchdog_period()
        return None if period is None else period / 2

    def close(self) -> None:
        """Close the socket (notifications still work after; the socket is reopened when needed)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SystemdNotifier(enabled={self.enabled}, watchdog_usec={self._watchdog_usec})"

    def _log_error(self, exc: OSError) -> None:
        kind = type(exc).__name__ + (f"/{exc.errno}" if exc.errno is not None else "")
        if kind in self._logged_errors:
            return
        self._logged_errors.add(kind)
        log.warning("systemd notification not delivered (%s); further ones like it are not logged", exc)


def _status_line(text: str) -> str:
    return "STATUS=" + " ".join(text.splitlines())
