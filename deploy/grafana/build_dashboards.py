"""Generate the Grafana dashboards in deploy/grafana/dashboards/ (stdlib only).

    python deploy/grafana/build_dashboards.py          # rewrite the JSON files
    python deploy/grafana/build_dashboards.py --check  # exit 1 if a file differs (CI)

What each dashboard shows is data in ``dashboard_specs.py`` (a table of panel specs per
dashboard); this script is the one builder that turns a spec into Grafana JSON (the panel kinds'
defaults, targets, field config, table joins), lays the panels out and writes the files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
if str(HERE) not in sys.path:  # loaded by path (the tests): find the sibling module too
    sys.path.insert(0, str(HERE))

from dashboard_specs import DASHBOARDS, Board, Spec, Thresholds  # noqa: E402

DS = {"type": "prometheus", "uid": "${datasource}"}
Panel = dict[str, Any]
DEFAULT_THRESHOLDS: Thresholds = ((None, "green"), (80, "red"))
"""A panel's thresholds when its spec gives none."""


class Kind(NamedTuple):
    """The defaults of one Grafana panel type: its size and its display options."""

    width: int
    height: int
    options: dict[str, Any]


REDUCE_TO_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}
PANEL_KINDS = {
    "stat": Kind(
        4,
        4,
        {
            "reduceOptions": REDUCE_TO_LAST,
            "colorMode": "background",
            "graphMode": "area",
            "textMode": "value_and_name",
        },
    ),
    "timeseries": Kind(
        12,
        8,
        {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    ),
    "bargauge": Kind(
        12,
        8,
        {
            "reduceOptions": REDUCE_TO_LAST,
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        },
    ),
    "table": Kind(12, 8, {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}),
    "state-timeline": Kind(12, 8, {"showValue": "never", "mergeValues": True}),
}


def target(expr: str, legend: str, ref: str, instant: bool) -> dict[str, Any]:
    """One Prometheus query of a panel; instant queries come back as a table."""
    return {
        "refId": ref,
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        **({"format": "table"} if instant else {}),
    }


def custom_field_config(spec: Spec) -> dict[str, Any] | None:
    """The kind's drawing style (line fill and stacking, timeline bars), if it has one."""
    if spec.kind == "state-timeline":
        return {"fillOpacity": 80, "lineWidth": 0}
    if spec.kind != "timeseries":
        return None
    custom: dict[str, Any] = {
        "fillOpacity": 20 if spec.stack else 5,
        "lineWidth": 1,
        "showPoints": "never",
    }
    if spec.stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return custom


def table_transformations(columns: list[str]) -> list[dict[str, Any]]:
    """Join a table's instant queries on their labels and name each query's value column.

    Grafana names the value column 'Value #<ref>' when a table has several queries and 'Value'
    when it has one, so a one-query table renames both.
    """
    rename = {f"Value #{chr(ord('A') + index)}": column for index, column in enumerate(columns)}
    if len(columns) == 1:
        rename["Value"] = columns[0]
    return [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": rename}},
    ]


def build_panel(spec: Spec) -> Panel:
    """The Grafana JSON of one panel row (placed later by ``layout``)."""
    if spec.kind == "row":
        return {
            "type": "row",
            "title": spec.title,
            "collapsed": False,
            "gridPos": {"w": 24, "h": 1},
        }
    kind = PANEL_KINDS[spec.kind]
    instant = spec.kind == "table"
    targets = [
        target(expr, "" if instant else legend, chr(ord("A") + index), instant)
        for index, (expr, legend) in enumerate(spec.queries)
    ]
    steps = [
        {"color": color, "value": value} for value, color in spec.thresholds or DEFAULT_THRESHOLDS
    ]
    defaults: dict[str, Any] = {
        "unit": spec.unit,
        "mappings": list(spec.mappings),
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds" if spec.thresholds or spec.mappings else "palette-classic"},
    }
    custom = custom_field_config(spec)
    if custom:
        defaults["custom"] = custom
    result: Panel = {
        "type": spec.kind,
        "title": spec.title,
        "description": spec.description,
        "datasource": DS,
        "gridPos": {"w": spec.width or kind.width, "h": spec.height or kind.height},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": list(spec.overrides)},
        "options": {**kind.options, **(spec.options or {})},
    }
    if instant:
        result["transformations"] = table_transformations([column for _, column in spec.queries])
    return result


# --- dashboards ---------------------------------------------------------------------------------


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
    }


def area_variable(selector: str) -> dict[str, Any]:
    query = f"label_values(coverwatch_area_coverage_state{{{selector}}}, area)"
    return {
        "name": "area",
        "label": "Area",
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "regex": "",
    }


def layout(panels: list[Panel]) -> list[Panel]:
    """Place panels left to right, wrapping at 24 columns; rows start a new line."""
    x = y = line_height = 0
    for number, item in enumerate(panels, start=1):
        item["id"] = number
        grid = item["gridPos"]
        if item["type"] == "row" or x + grid["w"] > 24:
            y += line_height
            x = line_height = 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        line_height = max(line_height, grid["h"])
        if item["type"] == "row":
            y += grid["h"]
            x = line_height = 0
    return panels


def build_dashboard(board: Board) -> dict[str, Any]:
    """The Grafana JSON of one dashboard, its panels built and laid out."""
    variables = [datasource_variable()]
    if board.area_selector is not None:
        variables.append(area_variable(board.area_selector))
    return {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": ["coverwatch"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": board.refresh,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": board.time_from, "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["coverwatch"],
                "asDropdown": False,
                "title": "Coverwatch",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": layout([build_panel(spec) for spec in board.panels]),
    }


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        name: json.dumps(build_dashboard(board), indent=2) + "\n"
        for name, board in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
