"""Generate the Grafana dashboards in deploy/grafana/dashboards/ (stdlib only).

    python deploy/grafana/build_dashboards.py          # rewrite the JSON files
    python deploy/grafana/build_dashboards.py --check  # exit 1 if a file differs (CI)

Area series are exported by exactly one worker at a time, and that role can move between workers;
during a failover two workers may briefly export the same area series (different `instance`).
Every area query therefore first takes ``max by (<all the series' own labels>)``, which removes the
`instance` duplicate without adding anything, and only then sums or averages across areas.
Pipeline series are per worker and are summed across workers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"

DS = {"type": "prometheus", "uid": "${datasource}"}
AREA = 'area=~"$area"'
RATE = "$__rate_interval"
Panel = dict[str, Any]

# --- query builders -----------------------------------------------------------------------------


def area(metric: str, labels: str, selector: str = "") -> str:
    """One value per area series, de-duplicated across workers: max by (area, kind, LABELS)."""
    by = ", ".join(["area", "kind", *[label for label in labels.split(",") if label]])
    matchers = ", ".join(part for part in (selector, AREA) if part)
    return f"max by ({by}) ({metric}{{{matchers}}})"


def area_sum(by: str, metric: str, labels: str, selector: str = "") -> str:
    """The de-duplicated area series summed by ``by``."""
    return f"sum by ({by}) ({area(metric, labels, selector)})"


def quantile(q: float, metric: str, by: str) -> str:
    """A quantile of a histogram over the rate interval, summed across workers."""
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[{RATE}])))"


IMPACT = 'kind="impact"'
KINDS = 'kind=~"impact|comparison"'


def state_series(state: str) -> str:
    """1 while an Impact Area is in ``state``, else 0 (de-duplicated across workers)."""
    return area("coverwatch_area_coverage_state", "state", f'{IMPACT}, state="{state}"')


# coverage state of an area as one number: 1 covered, 2 at risk, 3 uncovered, 4 unknown
STATE_CODE = (
    "max by (area) (\n"
    + "\n  or ".join(
        f"{state_series(state)} * {code}"
        for state, code in (("covered", 1), ("at_risk", 2), ("uncovered", 3), ("unknown", 4))
    )
    + "\n)"
)

STATE_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "1": {"text": "covered", "color": "green", "index": 0},
            "2": {"text": "at risk", "color": "orange", "index": 1},
            "3": {"text": "uncovered", "color": "red", "index": 2},
            "4": {"text": "unknown", "color": "text", "index": 3},
        },
    }
]
SEVERITY_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "none", "color": "green", "index": 0},
            "1": {"text": "low", "color": "blue", "index": 1},
            "2": {"text": "medium", "color": "yellow", "index": 2},
            "3": {"text": "high", "color": "orange", "index": 3},
            "4": {"text": "critical", "color": "red", "index": 4},
        },
    }
]

# --- panel builders -----------------------------------------------------------------------------


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        **({"format": "table"} if instant else {}),
    }


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    *,
    width: int = 12,
    height: int = 8,
    unit: str = "short",
    description: str = "",
    options: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    thresholds: list[tuple[float | None, str]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    overrides: list[dict[str, Any]] | None = None,
) -> Panel:
    steps = [
        {"color": color, "value": value}
        for value, color in (thresholds or [(None, "green"), (80, "red")])
    ]
    defaults: dict[str, Any] = {
        "unit": unit,
        "mappings": mappings or [],
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds" if thresholds or mappings else "palette-classic"},
    }
    if custom:
        defaults["custom"] = custom
    result: Panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": width, "h": height},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        result["transformations"] = transformations
    return result


def timeseries(title: str, *targets: dict[str, Any], stack: bool = False, **kw: Any) -> Panel:
    custom: dict[str, Any] = {
        "fillOpacity": 20 if stack else 5,
        "lineWidth": 1,
        "showPoints": "never",
    }
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, list(targets), custom=custom, options=options, **kw)


def stat(title: str, *targets: dict[str, Any], **kw: Any) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "area",
        "textMode": "value_and_name",
    }
    kw.setdefault("width", 4)
    kw.setdefault("height", 4)
    return panel("stat", title, list(targets), options=options, **kw)


def bargauge(title: str, *targets: dict[str, Any], **kw: Any) -> Panel:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": True,
    }
    return panel("bargauge", title, list(targets), options=options, **kw)


def table(title: str, *targets: dict[str, Any], rename: dict[str, str], **kw: Any) -> Panel:
    """An instant table joining the targets on their labels; ``rename`` maps 'Value #X' names."""
    transformations = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {"excludeByName": {"Time": True}, "renameByName": rename},
        },
    ]
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return panel(
        "table",
        title,
        list(targets),
        options=options,
        transformations=transformations,
        **kw,
    )


def override(column: str, **properties: Any) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"w": 24, "h": 1}}


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


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    variables: list[dict[str, Any]],
    refresh: str = "10s",
    time_from: str = "now-6h",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["coverwatch"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": refresh,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
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
        "panels": layout(panels),
    }


def control_room() -> dict[str, Any]:
    def count_state(name: str) -> str:
        return f"sum({state_series(name)})"

    officers = area("coverwatch_area_officers_present", "role,mode", IMPACT)

    def per_area(metric: str) -> str:
        """One value per Impact Area, labelled by area only (so the table rows join)."""
        return f"max by (area) ({area(metric, '', IMPACT)})"

    panels = [
        stat(
            "Impact Areas uncovered",
            target(count_state("uncovered"), "uncovered"),
            thresholds=[(None, "green"), (1, "red")],
        ),
        stat(
            "Impact Areas at risk",
            target(count_state("at_risk"), "at risk"),
            thresholds=[(None, "green"), (1, "orange")],
        ),
        stat(
            "Impact Areas unknown",
            target(count_state("unknown"), "unknown"),
            thresholds=[(None, "green"), (1, "text")],
        ),
        stat(
            "Officers in Impact Areas",
            target(f"sum({officers})", "officers"),
            thresholds=[(None, "blue")],
        ),
        stat(
            "Active alerts by severity",
            target("max by (severity) (coverwatch_alerts_active)", "{{severity}}"),
            width=8,
            thresholds=[(None, "green"), (1, "red")],
        ),
        panel(
            "state-timeline",
            "Coverage state per Impact Area",
            [target(STATE_CODE, "{{area}}")],
            width=24,
            height=10,
            mappings=STATE_MAPPINGS,
            thresholds=[(None, "text")],
            custom={"fillOpacity": 80, "lineWidth": 0},
            options={
                "showValue": "never",
                "mergeValues": True,
                "rowHeight": 0.85,
                "alignValue": "left",
                "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
            },
            description="1 covered, 2 at risk, 3 uncovered, 4 unknown (explicit per area).",
        ),
        table(
            "Impact Areas now",
            target(STATE_CODE, ref="A", instant=True),
            target(per_area("coverwatch_area_coverage_severity"), ref="B", instant=True),
            target(f"sum by (area) ({officers})", ref="C", instant=True),
            target(
                per_area("coverwatch_area_last_qualifying_visit_age_seconds"),
                ref="D",
                instant=True,
            ),
            target(per_area("coverwatch_area_qualifying_visits_today"), ref="E", instant=True),
            target(
                area_sum("area", "coverwatch_area_incidents_open", "grade", IMPACT),
                ref="F",
                instant=True,
            ),
            rename={
                "Value #A": "coverage",
                "Value #B": "severity",
                "Value #C": "officers present",
                "Value #D": "since last qualifying visit",
                "Value #E": "qualifying visits today",
                "Value #F": "open incidents",
            },
            width=24,
            height=10,
            overrides=[
                override(
                    "coverage",
                    mappings=STATE_MAPPINGS,
                    **{"custom.cellOptions": {"type": "color-background"}},
                ),
                override(
                    "severity",
                    mappings=SEVERITY_MAPPINGS,
                    **{"custom.cellOptions": {"type": "color-text"}},
                ),
                override("since last qualifying visit", unit="s"),
            ],
        ),
        timeseries(
            "Officers present per Impact Area",
            target(f"sum by (area) ({officers})", "{{area}}"),
            stack=True,
        ),
        bargauge(
            "Time since last qualifying visit",
            target(
                area("coverwatch_area_last_qualifying_visit_age_seconds", "", IMPACT), "{{area}}"
            ),
            unit="s",
            thresholds=[(None, "green"), (3600, "orange"), (7200, "red")],
        ),
        timeseries(
            "Open incidents by grade",
            target(area_sum("grade", "coverwatch_area_incidents_open", "grade"), "{{grade}}"),
            stack=True,
            width=8,
        ),
        timeseries(
            "Active alerts by severity",
            target("max by (severity) (coverwatch_alerts_active)", "{{severity}}"),
            stack=True,
            width=8,
        ),
        bargauge(
            "Alert events, last hour",
            target("max by (event) (increase(coverwatch_alert_events_total[1h]))", "{{event}}"),
            width=8,
            thresholds=[(None, "blue")],
        ),
    ]
    return dashboard(
        "coverwatch-control-room",
        "Coverwatch / Control room",
        "Live coverage of the Impact Areas: state, officers present, last qualifying visit, "
        "open incidents and active alerts.",
        panels,
        [datasource_variable(), area_variable(IMPACT)],
    )


def impact_vs_comparison() -> dict[str, Any]:
    dose = "coverwatch_area_dose_today_seconds"
    dose_labels = "role,mode,activity"
    areas_per_kind = f"count by (kind) ({area('coverwatch_area_fidelity_ratio', '', KINDS)})"

    def kind_sum(metric: str, labels: str = "", extra: str = "kind") -> str:
        return area_sum(extra, metric, labels, KINDS)

    panels = [
        row("Patrol dose"),
        stat(
            "Dose today by kind",
            target(kind_sum(dose, dose_labels), "{{kind}}"),
            unit="s",
            width=6,
            thresholds=[(None, "blue")],
        ),
        stat(
            "Mean dose today per area",
            target(f"{kind_sum(dose, dose_labels)} / {areas_per_kind}", "{{kind}}"),
            unit="s",
            width=6,
            thresholds=[(None, "blue")],
        ),
        stat(
            "Qualifying visits today",
            target(kind_sum("coverwatch_area_qualifying_visits_today"), "{{kind}}"),
            width=6,
            thresholds=[(None, "blue")],
        ),
        stat(
            "Mean fidelity",
            target(
                f"avg by (kind) ({area('coverwatch_area_fidelity_ratio', '', KINDS)})",
                "{{kind}}",
            ),
            unit="percentunit",
            width=6,
            thresholds=[(None, "red"), (0.5, "orange"), (0.8, "green")],
            description="Share of dose delivered as qualifying visits.",
        ),
        timeseries(
            "Dose today per area",
            target(area_sum("area, kind", dose, dose_labels), "{{area}} ({{kind}})"),
            unit="s",
        ),
        timeseries(
            "Dose rate by kind (officer-seconds per second)",
            target(
                "sum by (kind) (max by (area, kind, role, mode, activity) "
                f"(rate(coverwatch_area_dose_seconds_total{{{KINDS}, {AREA}}}[{RATE}])))",
                "{{kind}}",
            ),
            description="From the dose counter; the inner max removes a failover duplicate.",
        ),
        timeseries(
            "Dose today by role",
            target(kind_sum(dose, dose_labels, "kind, role"), "{{kind}} {{role}}"),
            unit="s",
            width=8,
        ),
        timeseries(
            "Dose today by mode",
            target(kind_sum(dose, dose_labels, "kind, mode"), "{{kind}} {{mode}}"),
            unit="s",
            width=8,
        ),
        timeseries(
            "Dose today by activity",
            target(kind_sum(dose, dose_labels, "kind, activity"), "{{kind}} {{activity}}"),
            unit="s",
            width=8,
        ),
        timeseries(
            "Rolling dose by window",
            target(
                kind_sum("coverwatch_area_dose_window_seconds", "window", "kind, window"),
                "{{kind}} {{window}}",
            ),
            unit="s",
        ),
        table(
            "Dose today per area by role, mode and activity",
            target(area(dose, dose_labels), ref="A", instant=True),
            rename={"Value #A": "dose today", "Value": "dose today"},
            overrides=[override("dose today", unit="s")],
        ),
        row("Visits and fidelity"),
        timeseries(
            "Qualifying visits and drive-throughs today",
            target(kind_sum("coverwatch_area_qualifying_visits_today"), "{{kind}} qualifying"),
            target(
                kind_sum("coverwatch_area_drive_throughs_today"), "{{kind}} drive-throughs", "B"
            ),
        ),
        bargauge(
            "Fidelity per area",
            target(area("coverwatch_area_fidelity_ratio", ""), "{{area}} ({{kind}})"),
            unit="percentunit",
            thresholds=[(None, "red"), (0.5, "orange"), (0.8, "green")],
        ),
        row("Demand"),
        timeseries(
            "Crimes, stop-searches and harm, last 24h",
            target(kind_sum("coverwatch_area_crimes_24h"), "{{kind}} crimes"),
            target(kind_sum("coverwatch_area_stop_searches_24h"), "{{kind}} stop-searches", "B"),
            target(kind_sum("coverwatch_area_harm_24h"), "{{kind}} harm", "C"),
        ),
        timeseries(
            "Incidents opened in 24h by grade",
            target(
                kind_sum("coverwatch_area_incidents_opened_24h", "grade", "kind, grade"),
                "{{kind}} {{grade}}",
            ),
            stack=True,
        ),
        table(
            "Per area now",
            target(area_sum("area, kind", dose, dose_labels), ref="A", instant=True),
            target(area("coverwatch_area_qualifying_visits_today", ""), ref="B", instant=True),
            target(area("coverwatch_area_drive_throughs_today", ""), ref="C", instant=True),
            target(area("coverwatch_area_fidelity_ratio", ""), ref="D", instant=True),
            target(area("coverwatch_area_crimes_24h", ""), ref="E", instant=True),
            target(area("coverwatch_area_harm_24h", ""), ref="F", instant=True),
            rename={
                "Value #A": "dose today",
                "Value #B": "qualifying visits",
                "Value #C": "drive-throughs",
                "Value #D": "fidelity",
                "Value #E": "crimes 24h",
                "Value #F": "harm 24h",
            },
            width=24,
            height=10,
            overrides=[
                override("dose today", unit="s"),
                override("fidelity", unit="percentunit"),
            ],
        ),
    ]
    return dashboard(
        "coverwatch-impact-vs-comparison",
        "Coverwatch / Impact vs comparison",
        "Patrol dose, qualifying visits, fidelity and demand of the Impact Areas against the "
        "comparison areas (the evaluation view).",
        panels,
        [datasource_variable(), area_variable(KINDS)],
        refresh="1m",
        time_from="now-24h",
    )


def pipeline_health() -> dict[str, Any]:
    def rate_by(by: str, metric: str) -> str:
        return f"sum by ({by}) (rate({metric}[{RATE}]))"

    panels = [
        stat(
            "Workers up",
            target("sum(coverwatch_worker_up)", "workers"),
            thresholds=[(None, "red"), (1, "green")],
        ),
        stat(
            "Area series exporters",
            target("sum(coverwatch_area_series_exporter)", "exporters"),
            thresholds=[(None, "red"), (1, "green"), (2, "orange")],
            description="Exactly one worker should export the area series (briefly two during "
            "a failover).",
        ),
        stat(
            "Redis state lost",
            target("max(coverwatch_redis_state_lost)", "lost"),
            thresholds=[(None, "green"), (1, "red")],
            description="1 when a worker found its Redis store wiped or replaced (epoch key "
            "missing or changed): it consumes nothing and is not ready until `coverwatch "
            "rebuild` (docs/operations.md).",
        ),
        stat(
            "Messages / s",
            target(f"sum(rate(coverwatch_messages_consumed_total[{RATE}]))", "consumed"),
            unit="ops",
            thresholds=[(None, "blue")],
        ),
        stat(
            "Deadletters / s",
            target(f"sum(rate(coverwatch_deadletter_total[{RATE}]))", "deadlettered"),
            unit="ops",
            thresholds=[(None, "green"), (0.1, "orange"), (1, "red")],
        ),
        stat(
            "p99 ingest latency",
            target(quantile(0.99, "coverwatch_ingest_latency_seconds", ""), "p99"),
            unit="s",
            thresholds=[(None, "green"), (0.5, "orange"), (1, "red")],
        ),
        stat(
            "p99 coverage evaluation",
            target(quantile(0.99, "coverwatch_coverage_evaluation_seconds", ""), "p99"),
            unit="s",
            thresholds=[(None, "green"), (0.5, "orange"), (1, "red")],
        ),
        timeseries(
            "Throughput by topic",
            target(rate_by("topic", "coverwatch_messages_consumed_total"), "{{topic}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Throughput by worker",
            target(rate_by("instance", "coverwatch_messages_consumed_total"), "{{instance}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Event lag (event time behind now)",
            target(quantile(0.5, "coverwatch_event_lag_seconds", "topic"), "p50 {{topic}}"),
            target(quantile(0.99, "coverwatch_event_lag_seconds", "topic"), "p99 {{topic}}", "B"),
            unit="s",
        ),
        timeseries(
            "Ingest latency (broker append to state committed)",
            target(quantile(0.5, "coverwatch_ingest_latency_seconds", "topic"), "p50 {{topic}}"),
            target(
                quantile(0.95, "coverwatch_ingest_latency_seconds", "topic"), "p95 {{topic}}", "B"
            ),
            target(
                quantile(0.99, "coverwatch_ingest_latency_seconds", "topic"), "p99 {{topic}}", "C"
            ),
            unit="s",
        ),
        timeseries(
            "Deadletters by reason",
            target(rate_by("topic, reason", "coverwatch_deadletter_total"), "{{topic}} {{reason}}"),
            unit="ops",
            stack=True,
        ),
        table(
            "Deadletters, last 24h",
            target(
                "sum by (topic, reason) (increase(coverwatch_deadletter_total[24h]))",
                ref="A",
                instant=True,
            ),
            rename={"Value": "messages", "Value #A": "messages"},
        ),
        timeseries(
            "Redis round trips by operation",
            target(rate_by("operation", "coverwatch_redis_round_trips_total"), "{{operation}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Batch size",
            target(
                f"{rate_by('topic', 'coverwatch_batch_messages_sum')} / "
                f"{rate_by('topic', 'coverwatch_batch_messages_count')}",
                "mean {{topic}}",
            ),
            target(quantile(0.99, "coverwatch_batch_messages", "topic"), "p99 {{topic}}", "B"),
        ),
        timeseries(
            "Agent busy share (1 = saturated, add workers)",
            target(rate_by("topic", "coverwatch_batch_seconds_sum"), "{{topic}}"),
            unit="percentunit",
        ),
        timeseries(
            "Waiting for Redis or the broker: batches retried, clock steps skipped",
            target(rate_by("topic", "coverwatch_batch_retries_total"), "{{topic}}"),
            target(rate_by("timer", "coverwatch_ticks_skipped_total"), "{{timer}}", "B"),
            target(
                rate_by("instance", "coverwatch_presence_process_lost_total"),
                "presence process lost {{instance}}",
                "C",
            ),
            unit="ops",
        ),
        timeseries(
            "CPU by worker: event loop and presence process (cores)",
            target(
                f"sum by (instance) (rate(process_cpu_seconds_total[{RATE}])"
                " and on (instance) coverwatch_worker_up)",
                "event loop {{instance}}",
            ),
            target(
                rate_by("instance", "coverwatch_presence_process_cpu_seconds_total"),
                "presence {{instance}}",
                "B",
            ),
            description="Each worker runs the pings hot path in a presence process of its own; "
            "near 1 core on either line, that side limits the worker (add workers and partitions).",
        ),
        timeseries(
            "Fixes by outcome",
            target(rate_by("outcome", "coverwatch_fixes_total"), "{{outcome}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Visits published by status",
            target(rate_by("status", "coverwatch_visits_published_total"), "{{status}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Coverage evaluation time",
            target(quantile(0.5, "coverwatch_coverage_evaluation_seconds", ""), "p50"),
            target(quantile(0.99, "coverwatch_coverage_evaluation_seconds", ""), "p99", "B"),
            unit="s",
        ),
        panel(
            "state-timeline",
            "Area series exporter by worker",
            [target("max by (instance) (coverwatch_area_series_exporter)", "{{instance}}")],
            mappings=[
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "standby", "color": "text", "index": 0},
                        "1": {"text": "exporting", "color": "green", "index": 1},
                    },
                }
            ],
            thresholds=[(None, "text")],
            custom={"fillOpacity": 80, "lineWidth": 0},
            options={"showValue": "never", "mergeValues": True},
        ),
    ]
    return dashboard(
        "coverwatch-pipeline-health",
        "Coverwatch / Pipeline health",
        "Throughput, lag, latency, deadletters, Redis and batching of every worker.",
        panels,
        [datasource_variable()],
        time_from="now-3h",
    )


DASHBOARDS = {
    "control-room.json": control_room,
    "impact-vs-comparison.json": impact_vs_comparison,
    "pipeline-health.json": pipeline_health,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


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
