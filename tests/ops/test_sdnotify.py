"""The sd_notify protocol against real AF_UNIX datagram sockets (filesystem path and abstract namespace)."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ordersyncd.sdnotify import SystemdNotifier, monotonic_usec


class Receiver:
    """The systemd side: a bound unix datagram socket and the NOTIFY_SOCKET value naming it."""

    def __init__(self, sock: socket.socket, notify_socket: str) -> None:
        self.sock = sock
        self.notify_socket = notify_socket

    def receive(self) -> list[str]:
        """The lines of the next datagram (fails the test after 2 s)."""
        data = self.sock.recv(4096)
        return data.decode().split("\n")

    def pending(self) -> bool:
        """True when a datagram is waiting."""
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(2)
        return True


@pytest.fixture
def path_receiver() -> Iterator[Receiver]:
    """A receiver bound to a socket file (short temp dir: sun_path holds at most 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="osd-") as tmp:
        path = os.path.join(tmp, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2)
            yield Receiver(sock, path)


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    """A receiver bound in the Linux abstract namespace (``@name`` in NOTIFY_SOCKET)."""
    name = f"ordersyncd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        yield Receiver(sock, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    """Both kinds of NOTIFY_SOCKET."""
    fixture_name = f"{request.param}_receiver"
    value: Receiver = request.getfixturevalue(fixture_name)
    return value


def test_every_message_arrives_as_one_datagram(receiver: Receiver) -> None:
    with SystemdNotifier.from_environ({"NOTIFY_SOCKET": receiver.notify_socket}) as notifier:
        assert notifier.enabled
        assert notifier.ready() is True
        assert receiver.receive() == ["READY=1"]
        assert notifier.ready(status="2 connections") is True
        assert receiver.receive() == ["READY=1", "STATUS=2 connections"]
        assert notifier.status("2 connections, last cycle 12:00:03, 0 failing") is True
        assert receiver.receive() == ["STATUS=2 connections, last cycle 12:00:03, 0 failing"]
        assert notifier.watchdog() is True
        assert receiver.receive() == ["WATCHDOG=1"]
        assert notifier.stopping() is True
        assert receiver.receive() == ["STOPPING=1"]
        assert notifier.extend_timeout(1.5) is True
        assert receiver.receive() == ["EXTEND_TIMEOUT_USEC=1500000"]
        assert notifier.notify("A=1", "B=2") is True
        assert receiver.receive() == ["A=1", "B=2"]
    assert not receiver.pending()


def test_reloading_carries_the_monotonic_clock(receiver: Receiver) -> None:
    notifier = SystemdNotifier(receiver.notify_socket)
    before = monotonic_usec()
    assert notifier.reloading() is True
    after = monotonic_usec()
    first, second = receiver.receive()
    assert first == "RELOADING=1"
    key, _, value = second.partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
    notifier.close()


def test_monotonic_usec_is_clock_monotonic_in_microseconds() -> None:
    reference = time.clock_gettime(time.CLOCK_MONOTONIC) * 1_000_000
    assert abs(monotonic_usec() - reference) < 1_000_000


def test_status_stays_one_line(path_receiver: Receiver) -> None:
    notifier = SystemdNotifier(path_receiver.notify_socket)
    notifier.status("first line\nREADY=1\r\nthird")
    assert path_receiver.receive() == ["STATUS=first line READY=1 third"]
    notifier.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/path"}])
def test_without_a_usable_socket_everything_is_a_no_op(environ: dict[str, str]) -> None:
    notifier = SystemdNotifier.from_environ(environ)
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.reloading() is False
    assert notifier.stopping() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval() is None


def test_from_environ_reads_os_environ_by_default(
    path_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_receiver.notify_socket)
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = SystemdNotifier.from_environ()
    assert notifier.watchdog_interval() == 1.5
    assert notifier.ready() is True
    assert path_receiver.receive() == ["READY=1"]
    notifier.close()


@pytest.mark.parametrize(
    ("environ", "period", "interval"),
    [
        ({"WATCHDOG_USEC": "120000000"}, 120.0, 60.0),
        ({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}, 4.0, 2.0),
        ({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None, None),
        ({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "abc"}, None, None),
        ({"WATCHDOG_USEC": "0"}, None, None),
        ({"WATCHDOG_USEC": "-5"}, None, None),
        ({"WATCHDOG_USEC": "soon"}, None, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None, None),
    ],
)
def test_watchdog_interval_is_half_the_period_for_this_process(
    environ: dict[str, str], period: float | None, interval: float | None
) -> None:
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/nonexistent/notify", **environ})
    assert notifier.watchdog_period() == period
    assert notifier.watchdog_interval() == interval


def test_errors_are_logged_once_and_never_raised(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="osd-") as tmp:
        path = os.path.join(tmp, "notify")
        notifier = SystemdNotifier(path)
        with caplog.at_level(logging.WARNING, logger="ordersyncd.sdnotify"):
            assert notifier.ready() is False
            assert notifier.watchdog() is False
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "not delivered" in warnings[0].getMessage()

        # the socket appears (systemd restarted its side): delivery resumes, a new outage is logged again
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2)
            assert notifier.watchdog() is True
            assert sock.recv(100) == b"WATCHDOG=1"
        os.unlink(path)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ordersyncd.sdnotify"):
            assert notifier.stopping() is False
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        notifier.close()


@pytest.mark.timeout(20)
def test_sending_never_blocks_when_systemd_does_not_read(path_receiver: Receiver) -> None:
    notifier = SystemdNotifier(path_receiver.notify_socket)
    started = time.monotonic()
    results = [notifier.watchdog() for _ in range(5000)]
    elapsed = time.monotonic() - started
    assert results[0] is True
    assert False in results, "the receive queue never filled up; the test proves nothing"
    assert elapsed < 5
    notifier.close()


def test_repr_reveals_no_socket_address(path_receiver: Receiver) -> None:
    notifier = SystemdNotifier(path_receiver.notify_socket, watchdog_usec=2_000_000)
    assert repr(notifier) == "SystemdNotifier(enabled=True, watchdog_usec=2000000)"
