"""docs/configuration.md documents exactly the keys of the core tables, and its TOML examples load."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from ordersyncd.config import ConnectionConfig, DaemonConfig, HttpConfig, Intervals, LogConfig, load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

SECTIONS: dict[str, tuple[type[BaseModel], set[str]]] = {
    "[daemon]": (DaemonConfig, set()),
    "[log]": (LogConfig, set()),
    "[http]": (HttpConfig, set()),
    "[connections.NAME]": (ConnectionConfig, {"name"}),  # the name is the table's key, not a setting
    "[connections.NAME.intervals]": (Intervals, set()),
}


def documented_keys() -> dict[str, set[str]]:
    """Section heading → keys in the first column of its table (in backticks)."""
    keys: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#+ `(\[[^\]]+\])`", line)
        if heading:
            current = keys.setdefault(heading.group(1), set())
        elif line.startswith("#"):
            current = None
        elif current is not None and (row := re.match(r"^\| `([a-z_]+)` \|", line)):
            current.add(row.group(1))
    return keys


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_key_of_core_tables_is_documented(section: str) -> None:
    model, internal = SECTIONS[section]
    assert documented_keys().get(section) == set(model.model_fields) - internal


def test_toml_examples_in_the_docs_are_valid_toml() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        tomllib.loads(block)


def test_complete_example_in_the_docs_loads(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8").split("## A complete example", 1)[1]
    (example,) = re.findall(r"```toml\n(.*?)```", text, re.S)
    main = tmp_path / "ordersyncd.toml"
    main.write_text(example, encoding="utf-8")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "shopify-token").write_text("t1", encoding="utf-8")
    (credentials / "zalando-client-secret").write_text("t2", encoding="utf-8")
    config = load_config(main, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert config.connections["zalando-de-shop"].intervals.poll_orders == 60.0
    assert sorted(config.secrets) == ["t1", "t2"]
