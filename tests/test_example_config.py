"""The annotated example configuration passes `ordersyncd check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_example_configuration_passes_check(tmp_path: Path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in ("shopify_access_token", "zalando_client_secret"):
        (credentials / name).write_text(f"dummy-{name}\n")
    env = {
        **os.environ,
        "CREDENTIALS_DIRECTORY": str(credentials),
        "STATE_DIRECTORY": str(tmp_path / "state"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ordersyncd.cli",
            "--config",
            str(ROOT / "etc" / "ordersyncd.example.toml"),
            "check",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"valid": true' in result.stdout
    # Without the credentials the same file is refused with exit 78, naming the missing credential.
    env.pop("CREDENTIALS_DIRECTORY")
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "ordersyncd.cli",
            "--config",
            str(ROOT / "etc" / "ordersyncd.example.toml"),
            "check",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 78
    assert (
        "stores.shop.access_token_credential" in refused.stderr and "CREDENTIALS_DIRECTORY" in refused.stderr
    )
