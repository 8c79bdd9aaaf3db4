"""The report as one self-contained HTML page (inline CSS, charts inline as SVG, no script and
nothing fetched) beside its CSV tables: ``write_report_files`` is contract D's body once the
facts are loaded."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from streams.evaluation import charts, report_tables
from streams.evaluation.questions import Window
from streams.evaluation.report_tables import Report

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;
max-width:980px;padding:1.5rem;color:#1d1d1d;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #ddd;
padding-bottom:.2rem}h3{margin-top:1.4rem}.meta{color:#555}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.summary{background:#f7f9fc;border:1px solid #d6e0ef;padding:1rem 1.2rem;border-radius:6px}
.caveats li{margin:.2rem 0}svg{max-width:100%;height:auto}.note{color:#555;font-size:.9rem}
"""


def write_report_files(baseline: Window, period: Window, out_dir: Path, zone: str) -> Path:
    """Compute every table, write ``out_dir/tables/*.csv`` and ``out_dir/index.html``; return
    the page's path."""
    report = report_tables.compute(baseline, period, zone)
    report_tables.write_csvs(report.tables, out_dir / "tables")
    index = out_dir / "index.html"
    index.write_text(render(report), encoding="utf-8")
    return index


def render(report: Report) -> str:
    """The whole page."""
    sections = [section(report) for section in SECTIONS]
    title = f"Impact Areas evaluation, {report.period.first} to {report.period.last}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{summary(report)}{''.join(sections)}</body></html>\n"
    )


def _missing(value: object) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: object, digits: int = 2) -> str:
    """A value for the page: '—' for missing, integers plainly, floats rounded."""
    if _missing(value):
        return "—"
    if isinstance(value, float):
        return f"{round(value, digits) + 0.0:,.{digits}f}"  # + 0.0: no "-0.00"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def csv_link(csv_name: str, note: str = "") -> str:
    """A link to a CSV table of the report."""
    path = f"tables/{csv_name}.csv"
    return f'<p class="note">Table: <a href="{path}">{path}</a>{html.escape(note)}</p>'


def table_html(frame: pd.DataFrame, csv_name: str, limit: int = 40) -> str:
    """A table (its first ``limit`` rows) with a link to its full CSV."""
    shown = frame.head(limit)
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(number(v))}</td>" for v in row) + "</tr>"
        for row in shown.astype(object).itertuples(index=False)
    )
    more = f" (first {limit} of {len(frame)} rows)" if len(frame) > limit else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return table + csv_link(csv_name, more)


def _interval(value: object, low: object, high: object) -> str:
    """'v (low to high)'."""
    return f"{number(value)} (95 % CI {number(low)} to {number(high)})"


def _all_row(frame: pd.DataFrame, column: str) -> dict[str, object]:
    """The row of ``frame`` whose ``column`` is 'all', as a dict (empty if there is none)."""
    rows = frame.loc[frame[column] == "all"]
    return {} if rows.empty else {str(key): value for key, value in rows.iloc[0].items()}


def _estimate(row: dict[str, object], name: str, low: str, high: str) -> str:
    """``row[name]`` with its interval ``row[low]``, ``row[high]``."""
    return _interval(row.get(name), row.get(low), row.get(high))


def summary(report: Report) -> str:
    """The box at the top: windows, areas, headline effects and the caveats."""
    period, baseline, results = report.period, report.baseline, report.tables
    did = _all_row(results.q7_did, "crime_category")
    moved = _all_row(results.q7_displacement, "scope")
    dose = results.q7_dose_response
    patrol = dose.loc[(dose["crime_category"] == "all") & (dose["dose"] == "patrol_minutes")]
    dose_text = "not estimated"
    if not patrol.empty:
        row = patrol.iloc[0]
        dose_text = (
            f"{_interval(row['irr_per_10_min'], row['ci_low'], row['ci_high'])} "
            f"({row['model'].replace('_', ' ')}, {number(row['area_days'])} area-days)"
        )
    items = [
        f"Period {period.first} to {period.last} ({period.days} days); baseline "
        f"{baseline.first} to {baseline.last} ({baseline.days} days).",
        f"All crime in Impact Areas {number(did.get('t0'))} → {number(did.get('t1'))}, in "
        f"comparison areas {number(did.get('c0'))} → {number(did.get('c1'))}.",
        "Relative effect size (RES, above 1 = crime fell in Impact Areas relative to "
        f"comparison areas): {_estimate(did, 'res', 'res_ci_low', 'res_ci_high')}.",
        f"Difference-in-differences: {_estimate(did, 'did', 'did_ci_low', 'did_ci_high')} "
        f"crimes, z = {number(did.get('did_z'))}.",
        f"Displacement: WDQ {_wdq_text(moved)} (SM {number(moved.get('sm'))}, "
        f"BDM {number(moved.get('bdm'))}); "
        f"WDD {_estimate(moved, 'wdd', 'wdd_ci_low', 'wdd_ci_high')}, "
        f"z = {number(moved.get('wdd_z'))}.",
        f"Dose-response, crimes per area-day per 10 patrol-minutes: IRR {dose_text}.",
        _contrast_text(results.q7_deterrence_contrast),
    ]
    return (
        '<div class="summary"><h2 style="margin-top:0">Summary</h2><ul>'
        + "".join(f"<li>{html.escape(item)}</li>" for item in items)
        + '</ul><h3>Caveats</h3><ul class="caveats">'
        + "".join(f"<li>{html.escape(c)}</li>" for c in caveats(report))
        + "</ul></div>"
    )


def _wdq_text(row: dict[str, object]) -> str:
    """The WDQ, or why it is not reported."""
    if not _missing(row.get("wdq")):
        return number(row.get("wdq"))
    if _missing(row.get("sm")):
        return "not computed (no control crime in a window)"
    return "not reported (SM >= 0: crime did not fall relative to the comparison areas)"


def _contrast_text(contrast: pd.DataFrame, minutes: int = 60) -> str:
    """The residual-deterrence line of the summary: S(minutes) after short and long visits."""
    at = contrast.loc[contrast["minutes_after"] == minutes]
    survival = {
        str(row["visits_group"]): _interval(
            row["survival"], row["survival_ci_low"], row["survival_ci_high"]
        )
        for _, row in at.iterrows()
    }
    if not survival:
        return "Residual deterrence: no visit."
    return (
        f"Residual deterrence, share of visits with no crime {minutes} minutes after they "
        f"ended: visits of 10 minutes or more {survival.get('10_or_more', '—')}, visits under "
        f"2 minutes {survival.get('under_2', '—')}; log-rank p = "
        f"{number(at['log_rank_p'].iloc[0], 3)}."
    )


def caveats(report: Report) -> list[str]:
    """What a reader must keep in mind, including this report's own limits."""
    notes = [
        "The comparison areas were found by the same method but not chosen at random: the "
        "estimates are observational, not causal proof.",
        "Intervals assume Poisson counts; crime clusters in time and place, so the true "
        "uncertainty is likely wider.",
        "A crime in two overlapping rings is counted in each.",
        "Residual deterrence does not merge overlapping visits: a visit ending while another "
        "goes on is censored at once.",
        "Officers are pseudonymous and only counted, never listed.",
    ]
    if report.baseline.days != report.period.days:
        notes.insert(
            0,
            "The baseline and the period differ in length: the counts behind the "
            "DiD and the WDD are not on the same footing (RES and WDQ are ratios).",
        )
    did = report.tables.q7_did
    small = did.loc[
        (did["crime_category"] != "all") & (did[["t0", "t1", "c0", "c1"]].min(axis=1) < 10)
    ]
    if not small.empty:
        notes.append(
            f"{len(small)} crime categories have a count under 10 in some cell: their "
            "RES and DiD are very uncertain or undefined."
        )
    return notes


Section = Callable[[Report], str]


def _section(anchor: str, title: str, *parts: str) -> str:
    """One question's section."""
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def _p(text: str) -> str:
    """A paragraph of plain text."""
    return f"<p>{html.escape(text)}</p>"


def q1_section(report: Report) -> str:
    """Q1: officer time, Impact vs comparison, and fidelity."""
    return _section(
        "q1",
        "Q1. Officer time in the areas",
        _p(
            "Officer-minutes are all the time officers spent inside an area; patrol-minutes the "
            "part of it that counts as patrol. Per area-day, per km² per day, and fidelity: the "
            "share of area-days that met the area's policy."
        ),
        charts.daily_lines(report.daily_minutes, "officer_minutes", "officer-minutes per area-day"),
        table_html(report.tables.q1_summary, "q1_summary"),
        _p(
            "Every area-day of the period, with its visits, qualifying visits, drive-throughs and "
            "whether it met its policy:"
        ),
        csv_link("q1_officer_time", f" ({len(report.tables.q1_officer_time)} rows)"),
        _p("By local hour band, with the crimes, incidents and stop-searches of the same hours:"),
        charts.grouped_bars(
            report.tables.q1_hour_bands,
            "hour_band",
            "officer_minutes",
            "kind",
            "officer-minutes",
            order_by_name=True,
        ),
        table_html(report.tables.q1_hour_bands, "q1_hour_bands"),
    )


def q2_section(report: Report) -> str:
    """Q2: distinct officers by role and unit."""
    resources = report.tables.q2_resources
    detail = resources.loc[resources["role"] != "all"]
    return _section(
        "q2",
        "Q2. Resources in the areas",
        _p(
            "Distinct (pseudonymous) officers seen in the areas in the period, by role and unit; "
            "an officer in several roles or units counts once in each, and once in 'all'."
        ),
        charts.grouped_bars(detail, "role", "officers", "kind", "distinct officers"),
        table_html(resources, "q2_resources"),
    )


def q3_section(report: Report) -> str:
    """Q3: minutes by activity."""
    activities = report.tables.q3_activities
    labelled = activities.assign(
        label=activities["activity"].where(
            activities["incident_category"] == "",
            activities["activity"] + ": " + activities["incident_category"],
        )
    )
    return _section(
        "q3",
        "Q3. What the resources did",
        _p(
            "Officer-minutes proactive, and reactive by the category of the incident attended; "
            "stop-search columns are the visits (and their minutes) during which a stop-search "
            "under the officer's callsign was made."
        ),
        charts.grouped_bars(labelled, "label", "officer_minutes", "kind", "officer-minutes"),
        table_html(activities, "q3_activities"),
    )


def q4_section(report: Report) -> str:
    """Q4: foot against vehicle."""
    return _section(
        "q4",
        "Q4. On foot or in vehicles",
        charts.grouped_bars(
            report.tables.q4_modes, "mode", "officer_minutes", "kind", "officer-minutes"
        ),
        table_html(report.tables.q4_modes, "q4_modes"),
    )


def q5_section(report: Report) -> str:
    """Q5: crimes and incidents."""
    incidents = report.tables.q5_incidents
    return _section(
        "q5",
        "Q5. Crimes and incidents",
        _p("Crimes by category and harm in Impact Areas, comparison areas and their rings."),
        charts.grouped_bars(report.tables.q5_crimes, "category", "crimes", "kind", "crimes"),
        table_html(report.tables.q5_crimes, "q5_crimes"),
        _p("Incidents (calls for service) by grade and category."),
        charts.grouped_bars(incidents, "grade", "incidents", "kind", "incidents"),
        table_html(incidents, "q5_incidents"),
    )


def q6_section(report: Report) -> str:
    """Q6: stop-searches."""
    searches = report.tables.q6_stop_searches
    return _section(
        "q6",
        "Q6. Stops and searches",
        charts.grouped_bars(searches, "object_of_search", "stop_searches", "kind", "stop-searches"),
        table_html(searches, "q6_stop_searches"),
    )


def q7_section(report: Report) -> str:
    """Q7: DiD and RES, displacement, residual deterrence, dose-response."""
    return _section(
        "q7",
        "Q7. Presence and crime, and displacement",
        *_q7_effect_parts(report),
        *_q7_presence_parts(report),
    )


def _q7_effect_parts(report: Report) -> list[str]:
    """Q7 (a) and (b): the period against the baseline, the areas against their controls."""
    did = report.tables.q7_did
    return [
        "<h3>(a) Difference-in-differences and relative effect size</h3>",
        _p(
            "T = Impact Areas, C = comparison areas; 0 = baseline, 1 = period. DiD = (T1 - T0) - "
            "(C1 - C0) with Poisson SE √(T0+T1+C0+C1). RES = (T0·C1)/(T1·C0) (Farrington): above "
            "1, crime fell in Impact Areas relative to comparison areas."
        ),
        charts.intervals(
            did["crime_category"].tolist(),
            did["res"].tolist(),
            did["res_ci_low"].tolist(),
            did["res_ci_high"].tolist(),
            "RES (log scale)",
            1.0,
            log_scale=True,
        ),
        table_html(did, "q7_did"),
        "<h3>(b) Displacement</h3>",
        _p(
            "R = Impact Areas, D = their rings, C = comparison areas, CD = the comparison "
            "areas' rings; a = period, b = baseline. WDQ = BDM/SM (Bowers & Johnson), given "
            "only when SM < 0: below 0 displacement, above 0 diffusion of benefit. WDD = "
            "(R1-R0) - (C1-C0) + (D1-D0) - (CD1-CD0) (Wheeler & Ratcliffe): below 0, crime "
            "fell net of displacement."
        ),
        table_html(report.tables.q7_displacement, "q7_displacement"),
    ]


def _q7_presence_parts(report: Report) -> list[str]:
    """Q7 (c) and (d): crime after visits, and crime against the day's presence."""
    results = report.tables
    dose = results.q7_dose_response
    return [
        "<h3>(c) Residual deterrence</h3>",
        _p(
            "Share of visits after whose end no crime has yet happened in the area, by how "
            "long the visit lasted (Kaplan-Meier, censored at the area's next visit)."
        ),
        charts.survival(report.curves, horizon_minutes=480),
        table_html(results.q7_residual_deterrence, "q7_residual_deterrence", limit=60),
        _p(
            "Visits under 2 minutes against visits of 10 minutes or more, with the log-rank "
            "test that their curves are the same:"
        ),
        table_html(results.q7_deterrence_contrast, "q7_deterrence_contrast"),
        "<h3>(d) Dose-response</h3>",
        _p(
            "Crimes per area-day against the day's minutes, with area fixed effects over the "
            "baseline and the period: incidence-rate ratio per 10 minutes (below 1, more "
            "presence went with less crime). Poisson, or negative binomial when Cameron & "
            "Trivedi's test shows over-dispersion. Each dose is its own model."
        ),
        charts.intervals(
            (dose["crime_category"] + ", " + dose["dose_label"]).tolist(),
            dose["irr_per_10_min"].tolist(),
            dose["ci_low"].tolist(),
            dose["ci_high"].tolist(),
            "IRR per 10 minutes",
            1.0,
            log_scale=False,
        ),
        table_html(dose, "q7_dose_response"),
    ]


def q8_section(report: Report) -> str:
    """Q8: calls for service against recorded crime."""
    results = report.tables
    return _section(
        "q8",
        "Q8. Calls for service and recorded crime",
        charts.scatter(
            results.q8_calls_vs_crime, "calls", "crimes", "calls (incidents)", "recorded crimes"
        ),
        table_html(results.q8_calls_vs_crime, "q8_calls_vs_crime"),
        _p("Spearman's rank correlation of calls with crimes, across areas and across days."),
        table_html(results.q8_correlation, "q8_correlation"),
        _p("Share of the areas' crimes linked to an incident (Wilson 95 % interval)."),
        table_html(results.q8_linked_crimes, "q8_linked_crimes"),
        table_html(results.q8_calls_by_day, "q8_calls_by_day"),
    )


SECTIONS: tuple[Section, ...] = (
    q1_section,
    q2_section,
    q3_section,
    q4_section,
    q5_section,
    q6_section,
    q7_section,
    q8_section,
)
