"""Every table of the report, computed once from the baseline's and the period's facts, and
written as ``tables/*.csv`` (the names and columns are a public contract: docs/report.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from streams.evaluation import effects, questions
from streams.evaluation.questions import Window
from streams.evaluation.statistics import SurvivalCurve


@dataclass(frozen=True)
class ReportTables:
    """The report's tables; each is written as ``tables/<field name>.csv``."""

    q1_officer_time: pd.DataFrame
    q1_summary: pd.DataFrame
    q1_hour_bands: pd.DataFrame
    q2_resources: pd.DataFrame
    q3_activities: pd.DataFrame
    q4_modes: pd.DataFrame
    q5_crimes: pd.DataFrame
    q5_incidents: pd.DataFrame
    q6_stop_searches: pd.DataFrame
    q7_did: pd.DataFrame
    q7_displacement: pd.DataFrame
    q7_residual_deterrence: pd.DataFrame
    q7_deterrence_contrast: pd.DataFrame
    q7_dose_response: pd.DataFrame
    q8_calls_vs_crime: pd.DataFrame
    q8_calls_by_day: pd.DataFrame
    q8_correlation: pd.DataFrame
    q8_linked_crimes: pd.DataFrame


@dataclass(frozen=True)
class Report:
    """What the page shows: the windows, the tables, the survival curves and the daily
    officer-minutes of both windows (for the Q1 chart)."""

    baseline: Window
    period: Window
    tables: ReportTables
    curves: dict[str, SurvivalCurve | None]
    daily_minutes: pd.DataFrame


def compute(baseline: Window, period: Window, zone: str) -> Report:
    """Every table of the report."""
    outcomes = effects.visit_outcomes(period, zone)
    tables = ReportTables(
        q1_officer_time=questions.officer_time(period),
        q1_summary=questions.officer_time_summary([baseline, period]),
        q1_hour_bands=questions.hour_bands(period),
        q2_resources=questions.resources(period),
        q3_activities=questions.activities(period),
        q4_modes=questions.modes(period),
        q5_crimes=questions.crimes_by_category(period),
        q5_incidents=questions.incidents_by_grade(period),
        q6_stop_searches=questions.stop_searches(period),
        q7_did=effects.did_table(baseline, period),
        q7_displacement=effects.displacement_table(baseline, period),
        q7_residual_deterrence=effects.residual_deterrence(outcomes),
        q7_deterrence_contrast=effects.deterrence_contrast(outcomes),
        q7_dose_response=effects.dose_response([baseline, period]),
        q8_calls_vs_crime=questions.calls_vs_crime(period),
        q8_calls_by_day=questions.calls_vs_crime_by_day(period),
        q8_correlation=questions.call_crime_correlation(period),
        q8_linked_crimes=questions.linked_crimes(period),
    )
    return Report(
        baseline, period, tables, effects.survival_curves(outcomes), _daily(baseline, period)
    )


def _daily(baseline: Window, period: Window) -> pd.DataFrame:
    """Officer- and patrol-minutes per area-day, by day and kind, over both windows."""
    days = pd.concat(
        [w.facts.area_days.assign(window=w.name) for w in (baseline, period)], ignore_index=True
    )
    days = days.loc[days["kind"].isin(questions.PROGRAMME_KINDS)]
    return (
        days.groupby(["window", "day", "kind"])[["officer_minutes", "patrol_minutes"]]
        .mean()
        .reset_index()
    )


def write_csvs(tables: ReportTables, directory: Path) -> list[Path]:
    """Each table as ``directory/<name>.csv`` (UTF-8, ``\\n`` line ends, empty for missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for field in fields(tables):
        path = directory / f"{field.name}.csv"
        getattr(tables, field.name).to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written
