"""PromQL expressions used by the shipped dashboard and alert rules, and what they select."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from .tools import REPO

DASHBOARD = REPO / "etc" / "grafana" / "ordersyncd-dashboard.json"
RULES = REPO / "etc" / "prometheus" / "ordersyncd-alerts.yml"
RULE_TESTS = REPO / "etc" / "prometheus" / "ordersyncd-alerts_test.yml"

METRIC = re.compile(r"\bordersyncd_[a-zA-Z0-9_]+\b")
SELECTOR = re.compile(r"\b(ordersyncd_[a-zA-Z0-9_]+)\s*\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def dashboard_expressions() -> list[str]:
    """Every query of the dashboard: panel targets and template variable queries."""
    found: list[str] = []
    for node in _walk(dashboard()):
        if isinstance(node.get("expr"), str):
            found.append(node["expr"])
        if isinstance(node.get("definition"), str) and node["definition"]:
            found.append(node["definition"])
    return found


def rule_expressions() -> list[str]:
    """Every expression of the alert rules."""
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def rule_test_series() -> list[str]:
    """Every input series of the promtool rule tests."""
    document = yaml.safe_load(RULE_TESTS.read_text())
    return [series["series"] for test in document["tests"] for series in test.get("input_series", [])]


def metric_names(expressions: list[str]) -> set[str]:
    """``ordersyncd_*`` names used in the expressions."""
    return {name for expr in expressions for name in METRIC.findall(expr)}


def selector_labels(expressions: list[str]) -> dict[str, set[str]]:
    """Label names each ``ordersyncd_*`` metric is matched on in ``metric{...}`` selectors."""
    labels: dict[str, set[str]] = {}
    for expr in expressions:
        for name, matchers in SELECTOR.findall(expr):
            labels.setdefault(name, set()).update(MATCHER_LABEL.findall(matchers))
    return labels
