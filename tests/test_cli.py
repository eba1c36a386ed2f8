"""The ordersyncd command, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from ordersyncd import __version__
from ordersyncd.testing import serve_asgi
from ordersyncd_plugins.marketplace_zalando.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    MERCHANT_A,
    MERCHANT_B,
    create_app,
)

from support import DaemonProcess, FakeBackend, run_cli, wait_for, write_config


def test_version_and_help():
    config = Path("/nonexistent.toml")
    assert run_cli(config, "--version").stdout.strip() == f"ordersyncd, version {__version__}"
    for command in (
        ["--help"],
        ["run", "--help"],
        ["check", "--help"],
        ["status", "--help"],
        ["sync", "--help"],
        ["orders", "--help"],
        ["orders", "list", "--help"],
        ["orders", "show", "--help"],
        ["orders", "retry", "--help"],
        ["plugins", "--help"],
        ["zalando", "merchants", "--help"],
    ):
        result = run_cli(config, *command)
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage:" in result.stdout


def test_plugins_lists_each_plugin_its_distribution_version_and_hooks():
    result = run_cli(Path("/nonexistent.toml"), "plugins", "--json")
    assert result.returncode == 0
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["zalando"]["distribution"] == "ordersyncd"
    assert plugins["zalando"]["version"] == __version__
    assert plugins["zalando"]["kind"] == "marketplace"
    assert {"fetch_orders", "map_order", "acknowledge_order", "on_shipped", "update_stock"} <= set(
        plugins["zalando"]["hooks"]
    )
    assert plugins["fake-store"]["distribution"] == "ordersyncd-fakeplugins"
    assert "create_order" in plugins["fake-store"]["hooks"]
    table = run_cli(Path("/nonexistent.toml"), "plugins").stdout
    assert table.splitlines()[0].split() == ["PLUGIN", "KIND", "DISTRIBUTION", "VERSION", "HOOKS"]


def test_missing_config_file_exits_78(tmp_path: Path):
    result = run_cli(tmp_path / "absent.toml", "check")
    assert result.returncode == 78
    assert "absent.toml" in result.stderr


def test_check_online_proves_credentials(fake_backend: FakeBackend, tmp_path: Path):
    config = write_config(tmp_path, fake_backend.base_url)
    ok = run_cli(config, "check", "--online", "--json")
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["online"] == {"store:fakes": "ok: fake store", "marketplace:fakem": "ok: fake marketplace"}
    fake_backend.faults.error_status = 401
    fake_backend.faults.error_rate = 1.0
    failed = run_cli(config, "check", "--online")
    assert failed.returncode == 1
    assert "marketplace:fakem: FAILED: AuthenticationError" in failed.stdout


def test_sync_without_a_daemon_exits_69(tmp_path: Path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    result = run_cli(config, "sync", "fake")
    assert result.returncode == 69
    assert "not running" in result.stderr


def test_sync_once_then_orders_list_show_retry(fake_backend: FakeBackend, tmp_path: Path):
    ids = fake_backend.world.generate(3, seed=31, bad=1)
    config = write_config(tmp_path, fake_backend.base_url)
    once = run_cli(config, "sync", "fake", "--once", "--json")
    assert once.returncode == 0, once.stderr
    jobs = json.loads(once.stdout)["jobs"]
    assert all(job["ok"] for job in jobs.values())
    assert set(jobs) == {"poll_orders", "advance_orders", "poll_shipments", "sync_stock"}

    listing = json.loads(run_cli(config, "orders", "list", "--json").stdout)
    assert listing["total"] == 4
    states = {o["order_id"]: o["state"] for o in listing["orders"]}
    assert [states[i] for i in ids[:3]] == ["acknowledged"] * 3
    assert states[ids[3]] == "needs_attention"
    attention = json.loads(run_cli(config, "orders", "list", "--state", "needs_attention", "--json").stdout)
    assert [o["order_id"] for o in attention["orders"]] == [ids[3]]

    shown = json.loads(run_cli(config, "orders", "show", ids[0], "--json").stdout)
    assert shown["state"] == "acknowledged" and shown["store_order_number"].startswith("S")
    details = [e["detail"] for e in shown["history"]]
    assert any(d.startswith("POST /store/orders -> 201") for d in details), details
    assert any(d.startswith("POST /marketplace/orders/") and "/ack -> 200" in d for d in details), details
    assert any("created → acknowledged" in d for d in details)
    human = run_cli(config, "orders", "show", ids[3]).stdout
    assert "needs attention because: could not map order: missing field 'address'" in human

    # Retry after "fixing" the cause: the marketplace now sends the order with an address.
    good = dict(fake_backend.world.market_orders[ids[0]])
    fixed = dict(fake_backend.world.market_orders[ids[3]], address=good["address"])
    fake_backend.world.add_orders([fixed])
    retried = run_cli(config, "orders", "retry", ids[3])
    assert retried.returncode == 0, retried.stderr
    assert "back to received" in retried.stdout
    again = run_cli(config, "orders", "retry", ids[3])
    assert again.returncode == 1 and "only orders in needs_attention" in again.stderr
    missing = run_cli(config, "orders", "show", "NOPE")
    assert missing.returncode == 1 and "no order 'NOPE'" in missing.stderr


def test_zalando_merchants_lists_and_selects_into_a_dropin(tmp_path: Path):
    secret = tmp_path / "zalando.secret"
    secret.write_text(DEFAULT_CLIENT_SECRET)
    with serve_asgi(create_app(rate_limits="off")) as sim:
        config = tmp_path / "ordersyncd.toml"
        original = f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[marketplaces.zal]
plugin = "zalando"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret_file = "{secret}"
mode = "production"
base_url = "{sim.base_url}"
"""
        config.write_text(original)
        listing = run_cli(config, "zalando", "merchants", "zal", "--json")
        assert listing.returncode == 0, listing.stderr
        merchants = {m["merchant_id"]: m for m in json.loads(listing.stdout)}
        assert set(merchants) == {MERCHANT_A, MERCHANT_B}
        table = run_cli(config, "zalando", "merchants", "zal").stdout
        assert MERCHANT_A in table and "MERCHANT ID" in table
        wrong = run_cli(config, "zalando", "merchants", "zal", "--select", "not-mine")
        assert wrong.returncode == 1 and "not one these credentials may act for" in wrong.stderr
        chosen = run_cli(config, "zalando", "merchants", "zal", "--select", MERCHANT_A)
        assert chosen.returncode == 0, chosen.stderr
    assert config.read_text() == original, "a file a person wrote is never rewritten"
    dropins = list((tmp_path / "conf.d").glob("*.toml"))
    assert len(dropins) == 1
    written = tomllib.loads(dropins[0].read_text())
    assert written["marketplaces"]["zal"]["merchant_id"] == MERCHANT_A
    assert sorted(written["marketplaces"]["zal"]["sales_channels"]) == sorted(
        merchants[MERCHANT_A]["sales_channels"]
    )
    assert DEFAULT_CLIENT_SECRET not in dropins[0].read_text()


def test_run_keeps_no_copy_of_the_configuration_beside_the_daemons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` reads the configuration for the state directory's lock; the daemon loads its own. A copy kept by
    the command for the whole run cost about 27 KB per connection."""
    import gc

    from click.testing import CliRunner

    from ordersyncd import cli
    from ordersyncd.config import Config
    from ordersyncd.runtime import Daemon

    live: list[int] = []

    async def count_configs(self: Daemon) -> None:  # stands in for the daemon's run
        gc.collect()
        live.append(sum(1 for o in gc.get_objects() if isinstance(o, Config)))

    monkeypatch.setattr(Daemon, "run", count_configs)
    monkeypatch.setattr(cli, "_log_to_stderr", lambda config: None)  # leave this process's logging alone
    config = write_config(tmp_path, "http://127.0.0.1:9")
    result = CliRunner().invoke(cli.cli, ["--config", str(config), "run"])
    assert result.exit_code == 0, result.output
    assert live == [0]


def test_status_shows_each_job_of_the_running_daemon_and_exits_1_when_a_connection_is_down(
    fake_backend: FakeBackend, tmp_path: Path
):
    config = write_config(tmp_path, fake_backend.base_url)
    assert run_cli(config, "status").returncode == 69  # no daemon yet
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_ready()

        def reported() -> dict | None:
            result = run_cli(config, "status", "--json")
            body = json.loads(result.stdout) if result.returncode == 0 else None
            jobs = body["connections"]["fake"]["jobs"] if body else {}
            return body if jobs and jobs["poll_orders"]["last_success"] else None

        body = wait_for(reported, what="a successful poll in the status")
        assert body["connections"]["fake"]["up"] is True
        assert set(body["connections"]["fake"]["jobs"]) >= {"poll_orders", "advance_orders", "poll_shipments"}
        plain = run_cli(config, "status", "fake")
        assert plain.returncode == 0, plain.stderr
        header, *rows = plain.stdout.splitlines()
        assert header.split()[:3] == ["CONNECTION", "STATE", "JOB"]
        poll = next(row for row in rows if " poll_orders " in row)
        assert poll.split()[:2] == ["fake", "up"] and " s ago" in poll
        unknown = run_cli(config, "status", "nope")
        assert unknown.returncode == 1 and "no active connection 'nope'" in unknown.stderr

        # The marketplace refuses the credentials: the connection goes down, and status says so with exit 1.
        fake_backend.faults.error_status = 401
        fake_backend.faults.error_rate = 1.0

        def down() -> subprocess.CompletedProcess[str] | None:
            result = run_cli(config, "status")
            return result if result.returncode == 1 else None

        result = wait_for(down, what="the connection reported down")
        assert "DOWN" in result.stdout and "AuthenticationError" in result.stdout, result.stdout
    finally:
        daemon.stop()
