"""A running daemon exports every metric the dashboard and the alert rules use, with the labels they match on,
and nothing it exports breaks Prometheus' naming conventions (promtool check metrics)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from ops.queries import dashboard_expressions, metric_names, rule_expressions, selector_labels
from ops.tools import require_tool, run

from support import DaemonProcess, FakeBackend, wait_for, write_config

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s", re.M)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created", "_info")


def exported(text: str) -> dict[str, set[str]]:
    """Metric family → label names, from an exposition."""
    families: dict[str, set[str]] = {}
    for name, labels in SAMPLE.findall(text):
        names = set(LABEL.findall(labels or ""))
        families.setdefault(name, set()).update(names)
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                families.setdefault(name[: -len(suffix)], set()).update(names)
    return families


def test_running_daemon_exports_what_dashboard_and_alerts_use(fake_backend: FakeBackend, tmp_path: Path):
    fake_backend.world.generate(3, seed=51)
    daemon = DaemonProcess(write_config(tmp_path, fake_backend.base_url)).start()
    try:
        daemon.wait_ready()
        wait_for(lambda: len(fake_backend.world.acks) == 3, what="orders acknowledged")
        text = httpx.get(daemon.url("/metrics")).text
    finally:
        daemon.stop()
    families = exported(text)
    expressions = dashboard_expressions() + rule_expressions()
    used = metric_names(expressions)
    assert used, "the dashboard and rules use ordersyncd metrics"
    missing = sorted(name for name in used if name not in families)
    assert not missing, (
        f"used by the dashboard or alert rules but not exported by a running daemon: {missing}"
    )
    for name, labels in selector_labels(expressions).items():
        unknown = labels - families[name] - {"job", "instance"}
        assert not unknown, f"{name} is matched on labels it does not have: {sorted(unknown)}"
    # Known series exist from start with value 0 (e.g. no order was quarantined).
    assert 'ordersyncd_orders_quarantined_total{connection="fake"} 0.0' in text
    assert 'ordersyncd_api_requests_total{code_class="5xx",system="fakes"} 0.0' in text
    promtool = require_tool("promtool")
    checked = run(promtool, "check", "metrics", input_text=text)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr
    )
