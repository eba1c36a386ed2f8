"""Fixtures for the configuration tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from config_helpers import WriteConfig


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """``write_config(main_text, **{"20-x.toml": text})`` writes ``etc/ordersyncd.toml`` and its drop-ins."""

    def write(main: str, **dropins: str) -> Path:
        directory = tmp_path / "etc"
        (directory / "conf.d").mkdir(parents=True, exist_ok=True)
        main_file = directory / "ordersyncd.toml"
        main_file.write_text(textwrap.dedent(main), encoding="utf-8")
        for name, text in dropins.items():
            (directory / "conf.d" / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return main_file

    return write
