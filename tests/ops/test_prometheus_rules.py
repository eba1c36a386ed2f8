"""The Prometheus alert rules: ``promtool check rules``, ``promtool test rules`` and their completeness.

promtool comes with Debian's ``prometheus`` package; a missing tool fails these tests unless
``ORDERSYNCD_ALLOW_MISSING_TOOLS=1``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import REPO, run

PROM_DIR = REPO / "etc" / "prometheus"
RULES = PROM_DIR / "ordersyncd-alerts.yml"
RULE_TESTS = PROM_DIR / "ordersyncd-alerts_test.yml"
RUNBOOK_BASE = "https://github.com/ordersyncd/ordersyncd/blob/main/docs/operations.md#"
EXPECTED_ALERTS = {
    "OrdersyncdDown",
    "OrdersyncdConnectionDown",
    "OrdersyncdOrderImportStale",
    "OrdersyncdNeverSucceeded",
    "OrdersyncdOrdersNeedAttention",
    "OrdersyncdShipmentsWaitingForCodes",
    "OrdersyncdAlertEmailsFailing",
    "OrdersyncdStockPushRejected",
    "OrdersyncdJobsStartingLate",
}


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file."""
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


STALE_THRESHOLD = (
    'on (instance, job, connection, task) 3 * ordersyncd_job_interval_seconds{task="poll_orders"}'
)
LATE_THRESHOLD = "le) (rate(ordersyncd_job_start_lag_seconds_bucket[10m]))) > 10"
STALE, LATE = "OrdersyncdOrderImportStale", "OrdersyncdJobsStartingLate"


@pytest.mark.parametrize(
    ("alert", "original", "changed"),
    [
        pytest.param(
            STALE, STALE_THRESHOLD, STALE_THRESHOLD.replace("3 *", "30 *"), id="stale-loosened-factor"
        ),
        pytest.param(STALE, STALE_THRESHOLD, "3 * 120", id="stale-hard-coded-default-interval"),
        pytest.param(STALE, '{task="poll_orders"}', "", id="stale-any-task"),
        pytest.param(STALE, "on (instance, job,", "on (job,", id="stale-matching-across-instances"),
        pytest.param(
            LATE, "histogram_quantile(0.99,", "histogram_quantile(1,", id="late-largest-lag-not-p99"
        ),
        pytest.param(LATE, LATE_THRESHOLD, LATE_THRESHOLD.replace("> 10", "> 0"), id="late-any-lag"),
        pytest.param(LATE, "sum by (job, instance, le)", "sum by (le)", id="late-instances-merged"),
    ],
)
def test_rule_tests_catch_a_changed_rule(
    promtool: str, tmp_path: Path, alert: str, original: str, changed: str
) -> None:
    # the same tests against a changed rule must fail, and name the alert whose expectation broke
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    text = RULES.read_text()
    assert original in text
    (tmp_path / RULES.name).write_text(text.replace(original, changed))
    result = run(promtool, "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0
    assert alert in result.stdout + result.stderr


def test_example_scrape_config_is_valid(promtool: str) -> None:
    result = run(promtool, "check", "config", PROM_DIR / "scrape.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load((PROM_DIR / "scrape.yml").read_text())
    (job,) = document["scrape_configs"]
    assert job["job_name"] == "ordersyncd", 'the alert rules select up{job="ordersyncd"}'


def test_the_expected_alerts_exist() -> None:
    assert {rule["alert"] for rule in alert_rules()} == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_summary_description_runbook_and_severity(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert len(annotations["description"].split()) >= 10
    assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()
    assert rule["labels"]["severity"] in {"critical", "warning"}


def test_every_alert_is_tested_firing_and_silent() -> None:
    document = yaml.safe_load(RULE_TESTS.read_text())
    assert document["rule_files"] == [RULES.name]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in document["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert firing == EXPECTED_ALERTS
    assert silent == EXPECTED_ALERTS
