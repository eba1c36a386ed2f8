"""The daemon as a real subprocess: systemd notify protocol, signals, reload, CLI against it, exit codes,
secrets never in its output."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from support import DaemonProcess, FakeBackend, run_cli, wait_for, write_config


class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.messages

    def seen(self, fragment: str) -> bool:
        return any(fragment in m for m in self.drain())

    def count(self, fragment: str) -> int:
        return sum(fragment in m for m in self.drain())

    def forget(self) -> None:
        """Drop everything received so far, including datagrams still waiting in the socket."""
        self.drain()
        self.messages.clear()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_daemon_life_cycle_under_systemd(fake_backend: FakeBackend, tmp_path: Path, notify: NotifySocket):
    ids = fake_backend.world.generate(5, seed=21)
    secret = "s3cr3t-token-value-7d1f"
    token = tmp_path / "token"
    token.write_text(secret + "\n")
    wedge = tmp_path / "wedge"
    config = write_config(
        tmp_path / "d", fake_backend.base_url, token_file=token, marketplace_extra=f'wedge_path = "{wedge}"'
    )
    daemon = DaemonProcess(config, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"})
    daemon.start()
    try:
        daemon.wait_ready()
        wait_for(lambda: notify.seen("READY=1"), what="READY=1")
        ready_msg = next(m for m in notify.messages if "READY=1" in m)
        assert "STATUS=" in ready_msg
        # Orders flow while the watchdog is fed.
        wait_for(
            lambda: all(len(fake_backend.world.state()["acks"].get(i, [])) == 1 for i in ids),
            what="orders acknowledged",
        )
        pings = notify.count("WATCHDOG=1")
        wait_for(lambda: notify.count("WATCHDOG=1") > pings, timeout=5, what="watchdog pings")
        assert any("STATUS=1 connections (1 up, 0 down)" in m for m in notify.drain())
        # Health, readiness, metrics.
        assert httpx.get(daemon.url("/healthz")).status_code == 200
        assert httpx.get(daemon.url("/readyz")).text.strip() == "ready"

        # The marketplace sees the acknowledgement just before the journal records it: wait for the gauge.
        def scraped() -> str | None:
            text = httpx.get(daemon.url("/metrics")).text
            return text if 'ordersyncd_orders{connection="fake",state="acknowledged"} 5.0' in text else None

        metrics = wait_for(scraped, timeout=10, what="five acknowledged orders in the metrics")
        assert 'ordersyncd_connection_up{connection="fake"} 1.0' in metrics
        assert 'ordersyncd_orders{connection="fake",state="acknowledged"} 5.0' in metrics
        assert 'ordersyncd_orders_imported_total{connection="fake"} 5.0' in metrics
        # The API refuses requests without the token.
        assert httpx.post(daemon.url("/api/v1/connections/fake/sync")).status_code == 401
        # `ordersyncd sync` asks the running daemon.
        result = run_cli(config, "sync", "fake")
        assert result.returncode == 0, result.stderr
        assert "triggered poll_orders" in result.stdout
        result = run_cli(config, "sync", "nope")
        assert result.returncode == 1 and "no active connection 'nope'" in result.stderr
        # --once refuses to work beside the running daemon (one process per state directory).
        result = run_cli(config, "sync", "fake", "--once")
        assert result.returncode == 75 and "another ordersyncd process" in result.stderr

        # SIGHUP with an invalid configuration: refused, the old one keeps running.
        good = config.read_text()
        config.write_text(good + "\n[connections.fake.bogus]\nx = 1\n")
        notify.forget()
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in daemon.output(), what="reload refused")
        assert notify.seen("RELOADING=1") and notify.seen("MONOTONIC_USEC=")
        wait_for(lambda: notify.seen("READY=1"), what="READY after refused reload")
        status = next(m for m in notify.messages if "READY=1" in m)
        assert "; reload refused, old configuration kept" in status and "WEDGED" not in status, status
        assert httpx.get(daemon.url("/readyz")).status_code == 200
        # SIGHUP with a valid new configuration: swapped in (a second connection appears).
        config.write_text(
            good
            + f'\n[marketplaces.second-market]\nplugin = "fake-marketplace"\nbase_url = "{fake_backend.base_url}"\n'
            + '\n[connections.second]\nmarketplace = "second-market"\nstore = "fakes"\n'
        )
        notify.forget()
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in daemon.output(), what="reload")
        wait_for(lambda: notify.seen("READY=1"), what="READY after reload")
        status = httpx.get(
            daemon.url("/api/v1/status"),
            headers={"Authorization": "Bearer " + (daemon.state_dir / "api-token").read_text().strip()},
        ).json()
        assert sorted(status["connections"]) == ["fake", "second"]

        # A wedged worker (a plugin blocking the event loop) stops the watchdog pings.
        wedge.touch()

        def unresponsive() -> bool:
            try:
                httpx.get(daemon.url("/healthz"), timeout=0.5)
            except httpx.TimeoutException:
                return True
            return False

        # The next order poll (every second) runs into the blocking plugin: wait until the loop is stuck.
        wait_for(unresponsive, timeout=15, what="the daemon's event loop to wedge")
        notify.forget()
        time.sleep(3)
        assert notify.count("WATCHDOG=1") == 0, "watchdog fed while the scheduler was wedged"
        wedge.unlink()
        wait_for(lambda: notify.count("WATCHDOG=1") > 0, timeout=10, what="pings resumed")

        # SIGTERM: STOPPING=1 and a clean exit within the stop timeout.
        started = time.monotonic()
        assert daemon.stop(timeout=30) == 0
        assert time.monotonic() - started < 15
        assert notify.seen("STOPPING=1")
    finally:
        daemon.kill()
    output = daemon.output()
    assert secret not in output
    assert "stopped" in output


def test_invalid_configuration_exits_78_naming_file_key_and_reason(tmp_path: Path):
    config = write_config(
        tmp_path,
        "http://127.0.0.1:9",
        extra='\n[connections.other]\nmarketplace = "fakem"\nstore = "nowhere"\n',
    )
    daemon = DaemonProcess(config).start()
    assert daemon.proc is not None
    code = daemon.proc.wait(30)
    output = daemon.output()
    assert code == 78, output
    assert f"{config}: connections.other.store: unknown store 'nowhere' (known: fakes)" in output


def test_unknown_plugin_and_plugin_problems_exit_78(tmp_path: Path):
    config = write_config(tmp_path, "http://example.org", extra='\n[stores.x]\nplugin = "no-such-plugin"\n')
    result = run_cli(config, "check")
    assert result.returncode == 78
    assert (
        "stores.x.plugin: unknown plugin 'no-such-plugin' (installed store plugins: fake-store"
        in result.stderr
    )
    # The fake plugins' own validation: plain http to a non-loopback host is refused.
    assert "marketplaces.fakem.base_url" in result.stderr and "must use https" in result.stderr


def test_sigterm_while_orders_flow_leaves_nothing_half_done(fake_backend: FakeBackend, tmp_path: Path):
    ids = fake_backend.world.generate(40, seed=23)
    fake_backend.faults.latency = 0.05
    config = write_config(tmp_path, fake_backend.base_url)
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_ready()
        wait_for(lambda: fake_backend.world.state()["store_orders"], what="first store order")
        assert daemon.stop(timeout=30) == 0
        # Every order the store has is known to the journal as created (or further): nothing unrecorded.
        created = {o["marketplace_order_id"] for o in fake_backend.world.state()["store_orders"]}
        listing = run_cli(config, "orders", "list", "--limit", "1000", "--json")
        import json

        states = {o["order_id"]: o["state"] for o in json.loads(listing.stdout)["orders"]}
        for order_id in created:
            assert states[order_id] in {"created", "acknowledged"}, (order_id, states[order_id])
        fake_backend.faults.latency = 0
        daemon = DaemonProcess(config).start().wait_ready()
        wait_for(
            lambda: all(len(fake_backend.world.state()["acks"].get(i, [])) == 1 for i in ids),
            timeout=30,
            what="all orders after restart",
        )
        assert len(fake_backend.world.state()["store_orders"]) == 40
    finally:
        daemon.kill()
