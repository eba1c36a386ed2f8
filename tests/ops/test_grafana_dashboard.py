"""The Grafana dashboard is provisionable as a file and covers the operator's questions."""

from __future__ import annotations

from typing import Any

import yaml

from .queries import DASHBOARD, dashboard
from .tools import REPO

PROVIDER = REPO / "etc" / "grafana" / "provisioning" / "dashboards" / "ordersyncd.yaml"
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}


def panels() -> list[dict[str, Any]]:
    """Every panel except rows."""
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def variables() -> dict[str, dict[str, Any]]:
    """Template variables by name."""
    return {variable["name"]: variable for variable in dashboard()["templating"]["list"]}


def test_provisionable_identity() -> None:
    board = dashboard()
    assert board["id"] is None
    assert board["uid"] == "ordersyncd-overview"
    assert isinstance(board["version"], int)
    text = DASHBOARD.read_text()
    assert "__inputs" not in text, "file provisioning never substitutes __inputs"
    assert "${DS_" not in text


def test_datasource_and_connection_variables() -> None:
    found = variables()
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    assert found["connection"]["type"] == "query"
    assert found["connection"]["multi"] is True
    assert found["connection"]["includeAll"] is True
    assert found["connection"]["datasource"] == DATASOURCE_REF
    assert "connection" in found["connection"]["definition"]


def test_every_panel_and_query_uses_the_datasource_variable() -> None:
    for panel in panels():
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_connection_scoped_panels_filter_by_connection() -> None:
    for panel in panels():
        for target in panel["targets"]:
            if "connection" in target["expr"] and "ordersyncd_api" not in target["expr"]:
                assert 'connection=~"$connection"' in target["expr"], panel["title"]


def test_required_panels_exist() -> None:
    titles = {panel["title"] for panel in panels()}
    required = {
        "Connection up",
        "Last order import success age",
        "Order flow",
        "Orders by state",
        "Shipments waiting for codes",
        "API errors and throttling",
        "Stock pushes",
        "Alert e-mails",
    }
    assert required <= titles


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    all_panels = dashboard()["panels"]
    ids = [panel["id"] for panel in all_panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area


def test_provider_file() -> None:
    document = yaml.safe_load(PROVIDER.read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
    assert {"name", "orgId", "folder", "disableDeletion", "updateIntervalSeconds"} <= provider.keys()
