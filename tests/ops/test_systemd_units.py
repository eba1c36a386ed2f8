"""The systemd unit files: lint with ``systemd-analyze verify``, exposure with ``systemd-analyze security``.

``systemd-analyze`` comes with Debian's ``systemd`` package (PID 1 need not be systemd). A missing tool fails
these tests unless ``ORDERSYNCD_ALLOW_MISSING_TOOLS=1``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .tools import REPO, run

UNIT_DIR = REPO / "systemd"
SERVICES = ("ordersyncd.service", "ordersyncd@.service")
INSTALLED_EXECUTABLE = "/opt/ordersyncd/bin/ordersyncd"
EXPOSURE = re.compile(r"Overall exposure level for (?P<unit>\S+): (?P<score>\d+\.\d+) (?P<rating>\w+)")


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file as {section: {key: [values in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: setting outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=VALUE line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_copy_for_verify_changes_only_the_executable(tmp_path: Path) -> None:
    unit = UNIT_DIR / "ordersyncd.service"
    copied = copy_for_verify(unit, tmp_path, unit.name)
    original_lines = unit.read_text().splitlines()
    copied_lines = copied.read_text().splitlines()
    changed = [(a, b) for a, b in zip(original_lines, copied_lines, strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][0].startswith(f"ExecStart={INSTALLED_EXECUTABLE} --config ")


def copy_for_verify(unit: Path, tmp_path: Path, name: str) -> Path:
    """A test-only copy of ``unit`` whose ExecStart= names an executable that exists.

    ``systemd-analyze verify`` fails when the ExecStart= binary is missing, and this machine has no
    ``/opt/ordersyncd``; only that path changes, the arguments and every other line stay as shipped.
    """
    stub = tmp_path / "bin" / "ordersyncd"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = unit.read_text()
    assert f"ExecStart={INSTALLED_EXECUTABLE} " in text
    copy = tmp_path / name
    copy.write_text(text.replace(f"ExecStart={INSTALLED_EXECUTABLE} ", f"ExecStart={stub} "))
    return copy


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("ordersyncd.service", "ordersyncd.service"),
        ("ordersyncd@.service", "ordersyncd@.service"),
        ("ordersyncd@.service", "ordersyncd@shop1.service"),
    ],
)
def test_systemd_analyze_verify_is_clean(
    systemd_analyze: str, tmp_path: Path, source: str, name: str
) -> None:
    copy = copy_for_verify(UNIT_DIR / source, tmp_path, name)
    (tmp_path / "ordersyncd.target").write_text((UNIT_DIR / "ordersyncd.target").read_text())
    result = run(systemd_analyze, "verify", copy, tmp_path / "ordersyncd.target")
    # verify exits 0 on unknown keys and unparsable values and only warns, so any output is a failure
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    assert result.stdout.strip() == ""


def test_systemd_analyze_verify_catches_mistakes(systemd_analyze: str, tmp_path: Path) -> None:
    copy = copy_for_verify(UNIT_DIR / "ordersyncd.service", tmp_path, "ordersyncd.service")
    copy.write_text(copy.read_text().replace("Restart=on-failure", "Restart=sometimes\nWatchdogSecs=10"))
    result = run(systemd_analyze, "verify", copy)
    assert "sometimes" in result.stderr
    assert "WatchdogSecs" in result.stderr


def security(systemd_analyze: str, unit: Path) -> tuple[int, float, str, str]:
    """Exit status, exposure score, rating and full output of an offline security analysis."""
    result = run(systemd_analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", unit)
    output = result.stdout + result.stderr
    match = EXPOSURE.search(output)
    assert match is not None, output
    return result.returncode, float(match["score"]), match["rating"], output


@pytest.mark.parametrize("name", SERVICES)
def test_exposure_is_at_most_2_and_rated_ok(systemd_analyze: str, name: str) -> None:
    returncode, score, rating, output = security(systemd_analyze, UNIT_DIR / name)
    assert score <= 2.0, output
    assert rating == "OK", output
    assert returncode == 0, output


def test_security_threshold_rejects_an_unhardened_unit(systemd_analyze: str, tmp_path: Path) -> None:
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nType=notify\nExecStart=/bin/true\n")
    returncode, score, rating, _ = security(systemd_analyze, bare)
    assert score > 2.0
    assert rating != "OK"
    assert returncode != 0


@pytest.mark.parametrize("name", SERVICES)
def test_service_contract(name: str) -> None:
    unit = parse_unit(UNIT_DIR / name)
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    assert service["DynamicUser"] == ["yes"]
    assert service["CapabilityBoundingSet"] == [""]
    assert service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert int(service["WatchdogSec"][0]) >= 30
    assert int(service["TimeoutStopSec"][0]) > 30, "must exceed the daemon's own stop grace period"
    credentials = service.get("LoadCredential", []) + service.get("LoadCredentialEncrypted", [])
    assert credentials, "secrets are passed as systemd credentials"
    assert unit["Install"]["WantedBy"][0].split()[0] == "multi-user.target"


def test_single_instance_paths() -> None:
    service = parse_unit(UNIT_DIR / "ordersyncd.service")["Service"]
    assert service["ExecStart"] == [f"{INSTALLED_EXECUTABLE} --config /etc/ordersyncd/ordersyncd.toml run"]
    assert service["StateDirectory"] == ["ordersyncd"]
    assert service["ConfigurationDirectory"] == ["ordersyncd"]


def test_template_instance_is_the_config_name() -> None:
    unit = parse_unit(UNIT_DIR / "ordersyncd@.service")
    service = unit["Service"]
    assert service["ExecStart"] == [f"{INSTALLED_EXECUTABLE} --config /etc/ordersyncd/%i/ordersyncd.toml run"]
    assert service["StateDirectory"] == ["ordersyncd/%i"]
    # conf.d/ drop-ins are read beside the main file, so each instance gets its own directory
    assert service["ConfigurationDirectory"] == ["ordersyncd/%i"]
    assert service["SyslogIdentifier"] == ["ordersyncd-%i"]
    assert unit["Unit"]["AssertPathExists"] == ["/etc/ordersyncd/%i/ordersyncd.toml"]
    assert unit["Unit"]["PartOf"] == ["ordersyncd.target"]
    for credential in service["LoadCredentialEncrypted"]:
        name, _, source = credential.partition(":")
        assert source == f"%i.{name}", "per-instance credential files under one name"
