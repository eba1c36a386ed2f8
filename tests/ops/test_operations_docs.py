"""docs/operations.md documents every metric and has a runbook section for every alert."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from ordersyncd.metrics import Metrics

from .tools import REPO

DOCS = REPO / "docs" / "operations.md"
RULES = REPO / "etc" / "prometheus" / "ordersyncd-alerts.yml"
#: Files that link into docs/operations.md#anchor.
LINKING_FILES = [
    RULES,
    REPO / "etc" / "prometheus" / "ordersyncd-alerts_test.yml",
    REPO / "etc" / "grafana" / "ordersyncd-dashboard.json",
    REPO / "etc" / "grafana" / "provisioning" / "dashboards" / "ordersyncd.yaml",
    REPO / "systemd" / "ordersyncd.service",
    REPO / "systemd" / "ordersyncd@.service",
    REPO / "systemd" / "ordersyncd.target",
]
#: Suffix of the exposed series name per metric family type (client_python drops it from family names).
SUFFIX = {"counter": "_total", "info": "_info"}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Anchors of every heading of a Markdown text."""
    return {github_anchor(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def documented_metrics(text: str) -> set[str]:
    """Metric names in backticks in the first column of a table row."""
    return set(re.findall(r"^\| `(ordersyncd_[a-z0-9_]+)` \|", text, flags=re.MULTILINE))


def exported_metric_names() -> set[str]:
    """Every metric of ordersyncd.metrics.Metrics, by the name it is exposed (and queried) under."""
    registry = CollectorRegistry()
    Metrics(registry)
    return {family.name + SUFFIX.get(family.type, "") for family in registry.collect()}


def test_github_anchor() -> None:
    assert github_anchor("OrdersyncdDown") == "ordersyncddown"
    assert github_anchor("Start, stop, reload") == "start-stop-reload"


def test_every_metric_is_documented_and_nothing_else() -> None:
    exported = exported_metric_names()
    assert "ordersyncd_job_runs_total" in exported
    assert "ordersyncd_build_info" in exported
    documented = documented_metrics(DOCS.read_text())
    assert sorted(exported - documented) == [], "undocumented metrics"
    assert sorted(documented - exported) == [], "documented metrics that do not exist"


@pytest.mark.parametrize(
    "rule",
    [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]],
    ids=lambda rule: rule["alert"],
)
def test_every_alert_has_a_runbook_section(rule: dict[str, Any]) -> None:
    text = DOCS.read_text()
    anchor = rule["annotations"]["runbook_url"].partition("#")[2]
    assert anchor in anchors(text)
    section = text.split(f"### {rule['alert']}\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert "**Meaning**" in section
    assert "**What to do**" in section


@pytest.mark.parametrize("path", LINKING_FILES, ids=lambda path: path.name)
def test_links_into_the_docs_resolve(path: Path) -> None:
    known = anchors(DOCS.read_text())
    for anchor in re.findall(r"operations\.md#([\w-]+)", path.read_text()):
        assert anchor in known, f"{path.name} links to a missing section #{anchor}"


def test_internal_links_resolve() -> None:
    text = DOCS.read_text()
    links = re.findall(r"\]\(#([\w-]+)\)", text)
    assert links
    assert sorted(set(links) - anchors(text)) == []
