"""What the Grafana dashboards show, as data: the PromQL, and each dashboard as a table of panel
specs (``Spec``: kind, title, queries and only what differs from that kind's defaults).
``build_dashboards.py`` turns them into the JSON files in deploy/grafana/dashboards/.

Area series are exported by exactly one worker at a time, and that role can move between workers;
during a failover two workers may briefly export the same area series (different `instance`).
Every area query therefore first takes ``max by (<all the series' own labels>)``, which removes the
`instance` duplicate without adding anything, and only then sums or averages across areas.
Pipeline series are per worker and are summed across workers.

Queries are ``(PromQL, legend)`` pairs; a table's targets are instant queries and the second item
names the column the query fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

AREA = 'area=~"$area"'
RATE = "$__rate_interval"

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


# --- panels as data -----------------------------------------------------------------------------

Query = tuple[str, str]
Thresholds = tuple[tuple[float | None, str], ...]

NONE_IS_GOOD: Thresholds = ((None, "green"), (1, "red"))
INFORMATIVE: Thresholds = ((None, "blue"),)
NEUTRAL: Thresholds = ((None, "text"),)
SLOW_SECONDS: Thresholds = ((None, "green"), (0.5, "orange"), (1, "red"))
FIDELITY: Thresholds = ((None, "red"), (0.5, "orange"), (0.8, "green"))


class Spec(NamedTuple):
    """One panel as data: its kind, title and queries, and what differs from the kind's defaults."""

    kind: str
    title: str
    queries: tuple[Query, ...] = ()
    unit: str = "short"
    width: int | None = None
    height: int | None = None
    thresholds: Thresholds | None = None
    stack: bool = False
    description: str = ""
    mappings: Sequence[dict[str, Any]] = ()
    overrides: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] | None = None


def override(column: str, **properties: Any) -> dict[str, Any]:
    """Field properties for one table column (unit, value mappings, cell colouring)."""
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def legend_of(labels: str) -> str:
    """A legend naming each of the comma-separated labels: 'kind, role' -> '{{kind}} {{role}}'."""
    return " ".join(f"{{{{{label.strip()}}}}}" for label in labels.split(","))


def percentiles(metric: str, by: str, *quantiles: float) -> tuple[Query, ...]:
    """Quantile queries of a histogram, legends 'p50 {{by}}' (just 'p50' when not split)."""
    return tuple(
        (
            quantile(q, metric, by),
            f"p{round(q * 100)} {legend_of(by)}" if by else f"p{round(q * 100)}",
        )
        for q in quantiles
    )


def rate_by(by: str, metric: str) -> str:
    """A counter's rate summed across workers, split by ``by``."""
    return f"sum by ({by}) (rate({metric}[{RATE}]))"


def rate_panel(title: str, metric: str, by: str) -> Spec:
    """Events per second of a counter, stacked by ``by``."""
    return Spec(
        "timeseries", title, ((rate_by(by, metric), legend_of(by)),), unit="ops", stack=True
    )


# --- control room ------------------------------------------------------------------------------

OFFICERS_PRESENT = area("coverwatch_area_officers_present", "role,mode", IMPACT)
ALERTS_BY_SEVERITY = "max by (severity) (coverwatch_alerts_active)"


def per_impact_area(metric: str) -> str:
    """One value per Impact Area, labelled by area only (so the table rows join)."""
    return f"max by (area) ({area(metric, '', IMPACT)})"


def named(query: str) -> str:
    """``query`` (labelled by area, and perhaps more) with the area's name as a label too, from
    ``coverwatch_area_info`` (the leader exports one per area)."""
    info = f"max by (area, name) (coverwatch_area_info{{{AREA}}})"
    return f"{query} * on (area) group_left(name) {info}"


NEVER_VISITED_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "1": {"text": "never visited", "color": "red", "index": 0},
            "0": {"text": "", "index": 1},
        },
    }
]


CONTROL_ROOM = (
    *(
        Spec(
            "stat",
            f"Impact Areas {label}",
            ((f"sum({state_series(state)})", label),),
            thresholds=((None, "green"), (1, color)),
        )
        for state, label, color in (
            ("uncovered", "uncovered", "red"),
            ("at_risk", "at risk", "orange"),
            ("unknown", "unknown", "text"),
        )
    ),
    Spec(
        "stat",
        "Officers in Impact Areas",
        ((f"sum({OFFICERS_PRESENT})", "officers"),),
        thresholds=INFORMATIVE,
    ),
    Spec(
        "stat",
        "Active alerts by severity",
        ((ALERTS_BY_SEVERITY, "{{severity}}"),),
        width=8,
        thresholds=NONE_IS_GOOD,
    ),
    Spec(
        "stat",
        "Radios by health",
        (("max by (health) (coverwatch_radios)", "{{health}}"),),
        width=8,
        thresholds=INFORMATIVE,
    ),
    Spec(
        "state-timeline",
        "Coverage state per Impact Area",
        ((STATE_CODE, "{{area}}"),),
        width=24,
        height=10,
        mappings=STATE_MAPPINGS,
        thresholds=NEUTRAL,
        options={
            "rowHeight": 0.85,
            "alignValue": "left",
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
        },
        description="1 covered, 2 at risk, 3 uncovered, 4 unknown (explicit per area).",
    ),
    Spec(
        "table",
        "Impact Areas now",
        (
            (named(per_impact_area("coverwatch_area_limit_seconds")) + " / 60", "limit (min)"),
            (STATE_CODE, "coverage"),
            (per_impact_area("coverwatch_area_coverage_severity"), "severity"),
            (f"sum by (area) ({OFFICERS_PRESENT})", "officers present"),
            (
                per_impact_area("coverwatch_area_last_qualifying_visit_age_seconds"),
                "since last qualifying visit",
            ),
            (per_impact_area("coverwatch_area_never_visited"), "never visited"),
            (per_impact_area("coverwatch_area_qualifying_visits_today"), "qualifying visits today"),
            (area_sum("area", "coverwatch_area_incidents_open", "grade", IMPACT), "open incidents"),
        ),
        width=24,
        height=10,
        overrides=(
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
            override("never visited", mappings=NEVER_VISITED_MAPPINGS),
        ),
        description="Each Impact Area by name with the limit in force now; an area with no "
        "qualifying visit since monitoring began says so (its time since the last one is empty).",
    ),
    Spec(
        "timeseries",
        "Officers present per Impact Area",
        ((f"sum by (area) ({OFFICERS_PRESENT})", "{{area}}"),),
        stack=True,
    ),
    Spec(
        "timeseries",
        "Officers in Impact Areas by unit",
        (
            (
                area_sum("unit", "coverwatch_area_officers_present_by_unit", "unit", IMPACT),
                "{{unit}}",
            ),
        ),
        stack=True,
        description="Units named in COVERWATCH_METRIC_UNITS; every other unit is `other`.",
    ),
    Spec(
        "bargauge",
        "Time since last qualifying visit, as a share of each area's limit",
        (
            (
                named(
                    area("coverwatch_area_last_qualifying_visit_age_seconds", "", IMPACT)
                    + " / on (area, kind) "
                    + area("coverwatch_area_limit_seconds", "", IMPACT)
                ),
                "{{name}}",
            ),
        ),
        unit="percentunit",
        thresholds=((None, "green"), (0.75, "orange"), (1, "red")),
        description="1 (100 %) is the area's own limit in force now (2 h in the evening band, "
        "4 h otherwise by default); never-visited areas are in the table above.",
    ),
    Spec(
        "timeseries",
        "Open incidents by grade",
        ((area_sum("grade", "coverwatch_area_incidents_open", "grade"), "{{grade}}"),),
        stack=True,
        width=8,
    ),
    Spec(
        "timeseries",
        "Active alerts by severity",
        ((ALERTS_BY_SEVERITY, "{{severity}}"),),
        stack=True,
        width=8,
    ),
    Spec(
        "bargauge",
        "Alert events, last hour",
        (("max by (event) (increase(coverwatch_alert_events_total[1h]))", "{{event}}"),),
        width=8,
        thresholds=INFORMATIVE,
    ),
)

# --- impact vs comparison ----------------------------------------------------------------------

DOSE = "coverwatch_area_dose_today_seconds"
DOSE_LABELS = "role,mode,activity"
FIDELITY_RATIO = "coverwatch_area_fidelity_ratio"
AREAS_PER_KIND = f"count by (kind) ({area(FIDELITY_RATIO, '', KINDS)})"


def kind_sum(metric: str, labels: str = "", by: str = "kind") -> str:
    """Impact and comparison areas' series summed by ``by`` (the area kind by default)."""
    return area_sum(by, metric, labels, KINDS)


IMPACT_VS_COMPARISON = (
    Spec("row", "Patrol dose"),
    Spec(
        "stat",
        "Dose today by kind",
        ((kind_sum(DOSE, DOSE_LABELS), "{{kind}}"),),
        unit="s",
        width=6,
        thresholds=INFORMATIVE,
    ),
    Spec(
        "stat",
        "Mean dose today per area",
        ((f"{kind_sum(DOSE, DOSE_LABELS)} / {AREAS_PER_KIND}", "{{kind}}"),),
        unit="s",
        width=6,
        thresholds=INFORMATIVE,
    ),
    Spec(
        "stat",
        "Qualifying visits today",
        ((kind_sum("coverwatch_area_qualifying_visits_today"), "{{kind}}"),),
        width=6,
        thresholds=INFORMATIVE,
    ),
    Spec(
        "stat",
        "Mean fidelity",
        ((f"avg by (kind) ({area(FIDELITY_RATIO, '', KINDS)})", "{{kind}}"),),
        unit="percentunit",
        width=6,
        thresholds=FIDELITY,
        description="Share of dose delivered as qualifying visits.",
    ),
    Spec(
        "timeseries",
        "Patrol today per area (time with at least one officer present)",
        (
            (
                area_sum("area, kind", "coverwatch_area_patrol_today_seconds", "", KINDS),
                "{{area}} ({{kind}})",
            ),
        ),
        unit="s",
    ),
    Spec(
        "timeseries",
        "Officer-seconds and patrol-seconds in the last hour by kind",
        (
            (
                area_sum(
                    "kind", "coverwatch_area_dose_window_seconds", "window", f'{KINDS}, window="1h"'
                ),
                "officer ({{kind}})",
            ),
            (
                area_sum(
                    "kind",
                    "coverwatch_area_patrol_window_seconds",
                    "window",
                    f'{KINDS}, window="1h"',
                ),
                "patrol ({{kind}})",
            ),
        ),
        unit="s",
        description="Two officers together for 10 min: 1200 officer-s, 600 patrol-s.",
    ),
    Spec(
        "timeseries",
        "Dose in the last hour by unit and kind",
        (
            (
                area_sum(
                    "kind, unit",
                    "coverwatch_area_dose_window_by_unit_seconds",
                    "window,unit",
                    f'{KINDS}, window="1h"',
                ),
                "{{unit}} ({{kind}})",
            ),
        ),
        unit="s",
        description="Units named in COVERWATCH_METRIC_UNITS; every other unit is `other`.",
    ),
    Spec(
        "timeseries",
        "Dose today per area",
        ((area_sum("area, kind", DOSE, DOSE_LABELS), "{{area}} ({{kind}})"),),
        unit="s",
    ),
    Spec(
        "timeseries",
        "Dose rate by kind (officer-seconds per second)",
        (
            (
                "sum by (kind) (max by (area, kind, role, mode, activity) "
                f"(rate(coverwatch_area_dose_seconds_total{{{KINDS}, {AREA}}}[{RATE}])))",
                "{{kind}}",
            ),
        ),
        description="From the dose counter; the inner max removes a failover duplicate.",
    ),
    *(
        Spec(
            "timeseries",
            f"Dose today by {label}",
            ((kind_sum(DOSE, DOSE_LABELS, f"kind, {label}"), legend_of(f"kind, {label}")),),
            unit="s",
            width=8,
        )
        for label in DOSE_LABELS.split(",")
    ),
    Spec(
        "timeseries",
        "Rolling dose by window",
        (
            (
                kind_sum("coverwatch_area_dose_window_seconds", "window", "kind, window"),
                "{{kind}} {{window}}",
            ),
        ),
        unit="s",
    ),
    Spec(
        "table",
        "Dose today per area by role, mode and activity",
        ((area(DOSE, DOSE_LABELS), "dose today"),),
        overrides=(override("dose today", unit="s"),),
    ),
    Spec("row", "Visits and fidelity"),
    Spec(
        "timeseries",
        "Qualifying visits and drive-throughs today",
        (
            (kind_sum("coverwatch_area_qualifying_visits_today"), "{{kind}} qualifying"),
            (kind_sum("coverwatch_area_drive_throughs_today"), "{{kind}} drive-throughs"),
        ),
    ),
    Spec(
        "bargauge",
        "Fidelity per area",
        ((area(FIDELITY_RATIO, ""), "{{area}} ({{kind}})"),),
        unit="percentunit",
        thresholds=FIDELITY,
    ),
    Spec("row", "Demand"),
    Spec(
        "timeseries",
        "Crimes, stop-searches and harm, last 24h",
        (
            (kind_sum("coverwatch_area_crimes_24h"), "{{kind}} crimes"),
            (kind_sum("coverwatch_area_stop_searches_24h"), "{{kind}} stop-searches"),
            (kind_sum("coverwatch_area_harm_24h"), "{{kind}} harm"),
        ),
    ),
    Spec(
        "timeseries",
        "Incidents opened in 24h by grade",
        (
            (
                kind_sum("coverwatch_area_incidents_opened_24h", "grade", "kind, grade"),
                "{{kind}} {{grade}}",
            ),
        ),
        stack=True,
    ),
    Spec(
        "table",
        "Per area now",
        (
            (area_sum("area, kind", DOSE, DOSE_LABELS), "dose today"),
            (area("coverwatch_area_qualifying_visits_today", ""), "qualifying visits"),
            (area("coverwatch_area_drive_throughs_today", ""), "drive-throughs"),
            (area(FIDELITY_RATIO, ""), "fidelity"),
            (area("coverwatch_area_crimes_24h", ""), "crimes 24h"),
            (area("coverwatch_area_harm_24h", ""), "harm 24h"),
        ),
        width=24,
        height=10,
        overrides=(override("dose today", unit="s"), override("fidelity", unit="percentunit")),
    ),
)

# --- pipeline health ---------------------------------------------------------------------------

INGEST_LATENCY = "coverwatch_ingest_latency_seconds"
EVALUATION_TIME = "coverwatch_coverage_evaluation_seconds"

PIPELINE_HEALTH = (
    Spec(
        "stat",
        "Workers up",
        (("sum(coverwatch_worker_up)", "workers"),),
        thresholds=((None, "red"), (1, "green")),
    ),
    Spec(
        "stat",
        "Area series exporters",
        (("sum(coverwatch_area_series_exporter)", "exporters"),),
        thresholds=((None, "red"), (1, "green"), (2, "orange")),
        description="Exactly one worker should export the area series (briefly two during "
        "a failover).",
    ),
    Spec(
        "stat",
        "Redis state lost",
        (("max(coverwatch_redis_state_lost)", "lost"),),
        thresholds=NONE_IS_GOOD,
        description="1 when a worker found its Redis store wiped or replaced (epoch key "
        "missing or changed): it consumes nothing and is not ready until `coverwatch "
        "rebuild` (docs/operations.md).",
    ),
    Spec(
        "stat",
        "Ingest lag",
        (("max(coverwatch_ingest_lag_seconds)", "lag"),),
        unit="s",
        thresholds=((None, "green"), (60, "orange"), (300, "red")),
        description="How far the slowest airwave.pings partition's event time is behind the "
        "clock; over COVERWATCH_INGEST_LAG_BOUND_S (coverwatch_ingest_lagging = 1) the areas are "
        "shown with reason ingest_lag and the IngestLagging alert fires.",
    ),
    Spec(
        "stat",
        "Areas unknown, by reason",
        (
            ('max by (reason) (coverwatch_areas{state="unknown"})', "{{reason}}"),
            ("max(coverwatch_ingest_lagging)", "ingest lagging"),
        ),
        thresholds=INFORMATIVE,
        description="Areas whose coverage the feed cannot tell: feed_silent, nobody_on_duty, "
        "feed_degraded (at most COVERWATCH_FEED_DEGRADED_SHARE of the radios on duty "
        "reported), none (not judged yet).",
    ),
    Spec(
        "stat",
        "Messages / s",
        ((f"sum(rate(coverwatch_messages_consumed_total[{RATE}]))", "consumed"),),
        unit="ops",
        thresholds=INFORMATIVE,
    ),
    Spec(
        "stat",
        "Deadletters / s",
        ((f"sum(rate(coverwatch_deadletter_total[{RATE}]))", "deadlettered"),),
        unit="ops",
        thresholds=((None, "green"), (0.1, "orange"), (1, "red")),
    ),
    Spec(
        "stat",
        "p99 ingest latency",
        percentiles(INGEST_LATENCY, "", 0.99),
        unit="s",
        thresholds=SLOW_SECONDS,
    ),
    Spec(
        "stat",
        "p99 coverage evaluation",
        percentiles(EVALUATION_TIME, "", 0.99),
        unit="s",
        thresholds=SLOW_SECONDS,
    ),
    rate_panel("Throughput by topic", "coverwatch_messages_consumed_total", "topic"),
    rate_panel("Throughput by worker", "coverwatch_messages_consumed_total", "instance"),
    Spec(
        "timeseries",
        "Event lag (event time behind now)",
        percentiles("coverwatch_event_lag_seconds", "topic", 0.5, 0.99),
        unit="s",
    ),
    Spec(
        "timeseries",
        "Ingest latency (broker append to state committed)",
        percentiles(INGEST_LATENCY, "topic", 0.5, 0.95, 0.99),
        unit="s",
    ),
    rate_panel("Deadletters by reason", "coverwatch_deadletter_total", "topic, reason"),
    Spec(
        "table",
        "Deadletters, last 24h",
        (("sum by (topic, reason) (increase(coverwatch_deadletter_total[24h]))", "messages"),),
    ),
    rate_panel("Redis round trips by operation", "coverwatch_redis_round_trips_total", "operation"),
    Spec(
        "timeseries",
        "Batch size",
        (
            (
                f"{rate_by('topic', 'coverwatch_batch_messages_sum')} / "
                f"{rate_by('topic', 'coverwatch_batch_messages_count')}",
                "mean {{topic}}",
            ),
            *percentiles("coverwatch_batch_messages", "topic", 0.99),
        ),
    ),
    Spec(
        "timeseries",
        "Agent busy share (1 = saturated, add workers)",
        ((rate_by("topic", "coverwatch_batch_seconds_sum"), "{{topic}}"),),
        unit="percentunit",
    ),
    Spec(
        "timeseries",
        "Redis ready by worker (1 ready, 0 not: RedisNotReady)",
        (("min by (instance) (coverwatch_redis_ready)", "{{instance}}"),),
        description="As each worker's /readyz: Redis answers and holds this deployment's state.",
    ),
    Spec(
        "timeseries",
        "Service clock behind the wall clock",
        (("time() - max(coverwatch_event_clock_seconds > 0)", "behind"),),
        unit="s",
        description="On the event clock, how far the newest event time seen is behind now: it "
        "grows steadily when no record or heartbeat arrives (EventClockStalled); near 0 live.",
    ),
    Spec(
        "timeseries",
        "Waiting for Redis or the broker: batches retried, clock steps skipped",
        (
            (rate_by("topic", "coverwatch_batch_retries_total"), "{{topic}}"),
            (rate_by("timer", "coverwatch_ticks_skipped_total"), "{{timer}}"),
            (
                rate_by("instance", "coverwatch_presence_process_lost_total"),
                "presence process lost {{instance}}",
            ),
        ),
        unit="ops",
    ),
    Spec(
        "timeseries",
        "CPU by worker: event loop, presence and archive processes (cores)",
        (
            (
                f"sum by (instance) (rate(process_cpu_seconds_total[{RATE}])"
                " and on (instance) coverwatch_worker_up)",
                "event loop {{instance}}",
            ),
            (
                rate_by("instance", "coverwatch_presence_process_cpu_seconds_total"),
                "presence {{instance}}",
            ),
            (
                rate_by("instance", "coverwatch_archive_process_cpu_seconds_total"),
                "archive {{instance}}",
            ),
        ),
        description="Each worker runs the pings hot path in a presence process of its own, and "
        "the archive (when it keeps one) in another; near 1 core on the event loop or presence "
        "line, that side limits the worker (add workers and partitions).",
    ),
    rate_panel("Fixes by outcome", "coverwatch_fixes_total", "outcome"),
    rate_panel("Visits published by status", "coverwatch_visits_published_total", "status"),
    Spec(
        "timeseries",
        "Coverage evaluation time",
        percentiles(EVALUATION_TIME, "", 0.5, 0.99),
        unit="s",
    ),
    rate_panel("Archive rows by table", "coverwatch_archive_rows_total", "table"),
    Spec(
        "timeseries",
        "Archive: records skipped, files written, write failures",
        (
            (
                rate_by("table, reason", "coverwatch_archive_skipped_total"),
                "skipped {{table}} {{reason}}",
            ),
            ("sum(rate(coverwatch_archive_files_total[" + RATE + "]))", "files written"),
            ("sum(rate(coverwatch_archive_write_failures_total[" + RATE + "]))", "write failures"),
            (
                rate_by("instance", "coverwatch_archive_process_lost_total"),
                "archive process lost {{instance}}",
            ),
        ),
        unit="ops",
        description="Records of archived topics that give no row (a deadletter reason, tombstone "
        "or internal_error), archive files written, block writes that failed (the block is "
        "read again), and archive processes that ended unasked (started again; they read their "
        "blocks again from the last marks).",
    ),
    Spec(
        "timeseries",
        "Archive: oldest row not yet written",
        (("max by (instance) (coverwatch_archive_unwritten_age_seconds)", "{{instance}}"),),
        unit="s",
        description="Rows reach a file at most COVERWATCH_ARCHIVE_FLUSH_S after they are read; "
        "a line that keeps rising means writes fail (see write failures).",
    ),
    Spec(
        "bargauge",
        "Daily reports written and failed, last 2 days",
        (("sum by (outcome) (increase(coverwatch_reports_total[2d]))", "{{outcome}}"),),
        thresholds=INFORMATIVE,
        description="The coverage leader writes each closed day's evaluation report after the "
        "report hour (docs/operations.md, daily reports); a failure is retried 10 min later.",
    ),
    Spec(
        "state-timeline",
        "Area series exporter by worker",
        (("max by (instance) (coverwatch_area_series_exporter)", "{{instance}}"),),
        mappings=(
            {
                "type": "value",
                "options": {
                    "0": {"text": "standby", "color": "text", "index": 0},
                    "1": {"text": "exporting", "color": "green", "index": 1},
                },
            },
        ),
        thresholds=NEUTRAL,
    ),
)


class Board(NamedTuple):
    """One dashboard as data: identity, panels, and the area variable's selector (if it has one)."""

    uid: str
    title: str
    description: str
    panels: tuple[Spec, ...]
    area_selector: str | None
    refresh: str = "10s"
    time_from: str = "now-6h"


DASHBOARDS = {
    "control-room.json": Board(
        "coverwatch-control-room",
        "Coverwatch / Control room",
        "Live coverage of the Impact Areas: state, officers present, last qualifying visit, "
        "open incidents and active alerts.",
        CONTROL_ROOM,
        IMPACT,
    ),
    "impact-vs-comparison.json": Board(
        "coverwatch-impact-vs-comparison",
        "Coverwatch / Impact vs comparison",
        "Patrol dose, qualifying visits, fidelity and demand of the Impact Areas against the "
        "comparison areas (the evaluation view).",
        IMPACT_VS_COMPARISON,
        KINDS,
        refresh="1m",
        time_from="now-24h",
    ),
    "pipeline-health.json": Board(
        "coverwatch-pipeline-health",
        "Coverwatch / Pipeline health",
        "Throughput, lag, latency, deadletters, Redis and batching of every worker.",
        PIPELINE_HEALTH,
        None,
        time_from="now-3h",
    ),
}
