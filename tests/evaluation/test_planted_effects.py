"""The analysis recovers planted effects: 14 simulated days (a baseline week, then a week with
residual deterrence and displacement planted in the Impact Areas) through the real broker,
worker and archive, then ``coverwatch report``'s tables over the archive.

The period is days 8-14, the baseline days 1-7. What the tables must show, and why
(docs/evaluation-testing.md):

- RES = (T0 C1) / (T1 C0) above 1 with its 95 % interval clear of 1 (Impact Area crime fell
  against the comparison areas), and the difference-in-differences negative;
- with no effect planted, the RES interval holds 1 (the short size, in CI: within the planted
  run's baseline week, days 5-7 against days 2-4);
- with displacement planted, the weighted displacement quotient is negative (the rings gained
  what the Impact Areas lost);
- Kaplan-Meier survival (no crime yet in the area) after visits of 10 minutes or more is above
  survival after visits under 2 minutes (only qualifying visits deter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.archive import compact_day
from streams.devtools.stack.embedded import Services
from streams.evaluation.report import write_report
from tests.evaluation.harness import (
    DAYS,
    EFFECT_FROM_DAY,
    NO_EFFECT,
    PLANTED,
    SIZES,
    ZONE,
    ArchivedRun,
    Scenario,
    Size,
    Table,
    local_day,
    read_table,
    run_to_archive,
)

pytestmark = pytest.mark.evaluation

BASELINE_DAYS = range(1, EFFECT_FROM_DAY)
PERIOD_DAYS = range(EFFECT_FROM_DAY, DAYS + 1)


PLACEBO_BASELINE_DAYS = range(2, 5)
PLACEBO_PERIOD_DAYS = range(5, EFFECT_FROM_DAY)
"""The short run's check with no effect: two spans of the baseline week, where none acts."""


@dataclass
class Report:
    """The report's tables over one archived run, and the run."""

    run: ArchivedRun
    tables: dict[str, Table]


def compacted(run: ArchivedRun) -> ArchivedRun:
    """The run, every day of its archive compacted."""
    for day in range(1, DAYS + 1):
        compact_day(run.archive_url, local_day(day))
    return run


def report_of(run: ArchivedRun, name: str, period: range, baseline: range) -> Report:
    """Write the report of ``period`` against ``baseline`` (simulated days) and read its tables."""
    out = run.run_dir / name
    write_report(
        run.archive_url,
        out,
        period=(local_day(period[0]), local_day(period[-1])),
        baseline=(local_day(baseline[0]), local_day(baseline[-1])),
        zone=ZONE,
    )
    names = ("q7_did", "q7_displacement", "q7_residual_deterrence")
    return Report(run, {table: read_table(out / "tables" / f"{table}.csv") for table in names})


@pytest.fixture(scope="module")
def size(request: pytest.FixtureRequest) -> Size:
    return SIZES[request.config.getoption("--evaluation-size")]


def archived(stack: Services, work_dir: Path, size: Size, scenario: Scenario) -> ArchivedRun:
    """One scenario simulated, archived and compacted; timings printed (``-s`` shows them)."""
    run = compacted(run_to_archive(stack, work_dir, size, scenario))
    print(f"{scenario.name} ({size.name}): {run.timings_s}; archive and reports in {run.run_dir}")
    return run


@pytest.fixture(scope="module")
def planted_run(stack: Services, work_dir: Path, size: Size) -> ArchivedRun:
    return archived(stack, work_dir, size, PLANTED)


@pytest.fixture(scope="module")
def planted(planted_run: ArchivedRun) -> Report:
    return report_of(planted_run, "report", PERIOD_DAYS, BASELINE_DAYS)


@pytest.fixture(scope="module")
def no_effect(request: pytest.FixtureRequest, size: Size) -> Report:
    """The full size: a run of its own with the effect set to zero. The short size (CI): the
    planted run's baseline week, days 5-7 against days 2-4 (no effect acts in either; this
    saves a second run of 14 days)."""
    if size.no_effect_run:
        stack, work_dir = request.getfixturevalue("stack"), request.getfixturevalue("work_dir")
        run = archived(stack, work_dir, size, NO_EFFECT)
        return report_of(run, "report", PERIOD_DAYS, BASELINE_DAYS)
    run = request.getfixturevalue("planted_run")
    return report_of(run, "report-placebo", PLACEBO_PERIOD_DAYS, PLACEBO_BASELINE_DAYS)


def number(row: dict[str, str], column: str) -> float:
    """A numeric cell; an empty one fails naming the column."""
    assert row[column] not in ("", None), f"{column} is empty in {row}"
    return float(row[column])


def all_crime(table: Table, count_column: str) -> dict[str, str]:
    """The all-crime row: it counts the most (every category's row counts a part of it)."""
    return max(table, key=lambda row: number(row, count_column))


def test_the_report_counts_every_crime_the_simulator_put_in_the_areas(planted: Report) -> None:
    """Every crime of the area process is in the report's counts; beyond them only the few
    crimes that ordinary incidents lead to (under 5 %)."""
    row = all_crime(planted.tables["q7_did"], "t0")
    truth = planted.run.truth
    for column, kind, days in (
        ("t0", "impact", BASELINE_DAYS),
        ("t1", "impact", PERIOD_DAYS),
        ("c0", "comparison", BASELINE_DAYS),
        ("c1", "comparison", PERIOD_DAYS),
    ):
        planted_crimes = truth.total("crimes", kind, days)
        assert planted_crimes <= number(row, column) <= 1.05 * planted_crimes, column


def test_res_interval_excludes_one_and_points_the_planted_way(planted: Report) -> None:
    row = all_crime(planted.tables["q7_did"], "t0")
    assert number(row, "res") > 1.0
    assert number(row, "res_ci_low") > 1.0


def test_did_has_the_planted_sign(planted: Report) -> None:
    row = all_crime(planted.tables["q7_did"], "t0")
    assert number(row, "did") < 0.0


def test_res_interval_includes_one_without_an_effect(no_effect: Report) -> None:
    row = all_crime(no_effect.tables["q7_did"], "t0")
    assert number(row, "res_ci_low") <= 1.0 <= number(row, "res_ci_high")


def test_wdq_is_negative_with_planted_displacement(planted: Report) -> None:
    row = all_crime(planted.tables["q7_displacement"], "ra")
    assert number(row, "sm") < 0.0
    assert number(row, "wdq") < 0.0


def band_floor_minutes(band: str) -> float:
    """The lower bound of a duration band label such as ``10-15`` or ``>20``."""
    found = re.search(r"\d+(?:\.\d+)?", band)
    assert found, f"no number in duration band {band!r}"
    return float(found[0])


def survival_curve(rows: Table) -> list[tuple[float, float]]:
    """(minutes after, survival) of some bands' rows, visit-weighted where times coincide."""
    by_time: dict[float, list[tuple[float, float]]] = {}
    for row in rows:
        weight = number(row, "visits")
        by_time.setdefault(number(row, "minutes_after"), []).append(
            (number(row, "survival"), weight)
        )
    return [
        (minutes, sum(s * w for s, w in points) / max(sum(w for _, w in points), 1.0))
        for minutes, points in sorted(by_time.items())
    ]


def survival_at(curve: list[tuple[float, float]], minutes: float) -> float:
    """The step function's value at ``minutes`` (1 before the first step)."""
    value = 1.0
    for at, survival in curve:
        if at > minutes:
            break
        value = survival
    return value


def test_survival_after_long_visits_is_above_survival_after_short_ones(planted: Report) -> None:
    rows = planted.tables["q7_residual_deterrence"]
    long = survival_curve([r for r in rows if band_floor_minutes(r["duration_band"]) >= 10.0])
    short = survival_curve([r for r in rows if band_floor_minutes(r["duration_band"]) == 0.0])
    assert long, "the table has no rows for visits of 10 min or more"
    assert short, "the table has no rows for visits under 2 min"
    horizon = min(long[-1][0], short[-1][0])
    times = sorted({at for at, _ in long + short if at <= horizon})
    differences = [survival_at(long, at) - survival_at(short, at) for at in times]
    assert survival_at(long, horizon) > survival_at(short, horizon)
    assert sum(differences) > 0.0
