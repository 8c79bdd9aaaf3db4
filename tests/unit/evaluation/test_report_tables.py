"""The report's tables from hand-built facts (contract C's shape): the contract's columns, the
counts behind Q7 and the waits behind residual deterrence."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd
import pytest

from streams.evaluation import effects, questions, report_tables
from streams.evaluation.page import write_report_files
from streams.evaluation.questions import Window
from tests.helpers.facts_frames import ZONE, at, crime, incident, make_facts, stop_search, visit

BASELINE = (date(2026, 11, 23), date(2026, 11, 29))
PERIOD = (date(2026, 11, 30), date(2026, 12, 6))


def crimes_in(area_id: str, days: tuple[date, date], count: int, category: str = "burglary"):
    """``count`` crimes spread over the window's days, at 13:00 plus a minute each."""
    span = (days[1] - days[0]).days + 1
    return [
        crime(area_id, at(days[0] + timedelta(days=n % span), 13, n % 60), category)
        for n in range(count)
    ]


def windows(baseline_rows: dict, period_rows: dict) -> tuple[Window, Window]:
    return (
        Window("baseline", *BASELINE, make_facts(*BASELINE, **baseline_rows)),
        Window("period", *PERIOD, make_facts(*PERIOD, **period_rows)),
    )


def test_did_counts_impact_and_comparison_crimes_of_both_windows():
    baseline, period = windows(
        {"crimes": crimes_in("i1", BASELINE, 20) + crimes_in("c1", BASELINE, 20)},
        {"crimes": crimes_in("i1", PERIOD, 10) + crimes_in("c1", PERIOD, 20)},
    )
    table = effects.did_table(baseline, period)
    assert list(table.columns[:11]) == [
        "crime_category", "t0", "t1", "c0", "c1", "did", "did_se", "did_z", "res", "res_ci_low",
        "res_ci_high",
    ]  # fmt: skip
    for category in ("all", "burglary"):
        row = table.set_index("crime_category").loc[category]
        assert (row.t0, row.t1, row.c0, row.c1) == (20, 10, 20, 20)
        assert row.did == -10
        assert row.res == pytest.approx(2.0)


def test_crimes_in_rings_are_not_counted_as_impact_or_comparison_crime():
    baseline, period = windows(
        {"crimes": crimes_in("i1-ring", BASELINE, 5)}, {"crimes": crimes_in("c1-ring", PERIOD, 5)}
    )
    row = effects.did_table(baseline, period).set_index("crime_category").loc["all"]
    assert (row.t0, row.t1, row.c0, row.c1) == (0, 0, 0, 0)
    assert pd.isna(row.res)
    assert "a count is zero" in row.reason


def test_displacement_of_the_pop_center_example_through_the_rings():
    baseline, period = windows(
        {
            "crimes": crimes_in("i1", BASELINE, 100)
            + crimes_in("i1-ring", BASELINE, 100)
            + crimes_in("c1", BASELINE, 100)
            + crimes_in("c1-ring", BASELINE, 10)
        },
        {
            "crimes": crimes_in("i1", PERIOD, 50)
            + crimes_in("i1-ring", PERIOD, 150)
            + crimes_in("c1", PERIOD, 100)
            + crimes_in("c1-ring", PERIOD, 10)
        },
    )
    table = effects.displacement_table(baseline, period)
    assert list(table.columns[:17]) == (
        [
            "scope",
            "ra",
            "rb",
            "da",
            "db",
            "ca",
            "cb",
            "cda",
            "cdb",
            "sm",
            "bdm",
            "wdq",
            "wdd",
            "wdd_se",
            "wdd_z",
            "wdd_ci_low",
            "wdd_ci_high",
        ]
    )
    row = table.set_index("scope").loc["all"]
    assert (row.ra, row.rb, row.da, row.db, row.ca, row.cb, row.cda, row.cdb) == (
        50, 100, 150, 100, 100, 100, 10, 10,
    )  # fmt: skip
    assert row.wdq == pytest.approx(-1.0)
    assert row.wdd == 0  # the fall in the Impact Area went to its ring
    assert row.wdd_se == pytest.approx((50 + 100 + 150 + 100 + 100 + 100 + 10 + 10) ** 0.5)


def test_residual_deterrence_waits_end_at_the_next_crime_or_the_next_visit():
    last = PERIOD[1]
    period = Window(
        "period",
        *PERIOD,
        make_facts(
            *PERIOD,
            visits=[
                visit("i1", at(last, 9), 30),  # crime 30 min after its end
                visit("i1", at(last, 12), 1),  # nothing after it: censored at the period's end
                visit("i2", at(last, 8), 12),  # the next visit comes first: censored at 18 min
                visit("i2", at(last, 8, 30), 5),  # crime 25 min after its end
            ],
            crimes=[crime("i1", at(last, 10)), crime("i2", at(last, 9))],
        ),
    )
    waits = effects.visit_outcomes(period, ZONE).sort_values("minutes_after")
    assert waits.to_dict("list") == {
        "duration_band": ["10-15", "5-10", ">20", "0-2"],
        "minutes_after": [18.0, 25.0, 30.0, 719.0],
        "crime": [False, True, True, False],
    }
    table = effects.residual_deterrence(waits)
    assert list(table.columns[:4]) == ["duration_band", "visits", "minutes_after", "survival"]
    over_20 = table.loc[table["duration_band"] == ">20"].set_index("minutes_after")["survival"]
    assert over_20[15] == 1.0
    assert over_20[30] == 0.0


def a_busy_week(days: tuple[date, date], impact_crimes: int) -> dict:
    """Visits of two officers each day in every programme area, crimes, calls and searches."""
    span = (days[1] - days[0]).days + 1
    visits = [
        visit(area, at(days[0] + timedelta(days=d), hour), minutes, officer=officer, mode=mode,
              activity=activity, incident_category="burglary" if activity == "reactive" else None)
        for d in range(span)
        for area in ("i1", "i2", "c1", "c2")
        for hour, minutes, officer, mode, activity in (
            (9, 25 + d, "o_00000000000000aa", "foot", "proactive"),
            (15, 4 + d % 3, "o_00000000000000bb", "vehicle", "reactive"),
        )
    ]  # fmt: skip
    crimes = (
        crimes_in("i1", days, impact_crimes)
        + crimes_in("c1", days, 12, "theft")
        + crimes_in("i1-ring", days, 6)
        + crimes_in("c2-ring", days, 6)
    )
    calls = [
        incident(a, at(days[0] + timedelta(days=d), 14)) for d in range(span) for a in ("i1", "c1")
    ]
    searches = [stop_search("i2", at(days[0], 16))]
    return {"visits": visits, "crimes": crimes, "incidents": calls, "stop_searches": searches}


def test_the_contract_tables_have_their_columns_and_area_rows():
    baseline, period = windows(a_busy_week(BASELINE, 14), a_busy_week(PERIOD, 8))
    report = report_tables.compute(baseline, period, ZONE)
    q1 = report.tables.q1_officer_time
    assert list(q1.columns) == questions.Q1_COLUMNS
    assert set(q1["kind"]) == {"impact", "comparison"}
    assert len(q1) == 4 * 7
    q8 = report.tables.q8_calls_vs_crime.set_index("area_id")
    assert list(report.tables.q8_calls_vs_crime.columns) == questions.Q8_COLUMNS
    assert q8.loc["i1", "calls"] == 7
    assert q8.loc["i1", "crimes"] == 8
    assert pd.isna(q8.loc["i2", "calls_per_crime"])  # no crime: no ratio, not infinity
    summary = report.tables.q1_summary.set_index(["window", "kind"])
    # each day 25 + d minutes on foot and 4 + d % 3 in a vehicle: the first day's 29 minutes
    # miss the 30-minute policy of the factory, the other six days meet it
    assert summary.loc[("period", "impact"), "fidelity"] == pytest.approx(6 / 7)


def test_distinct_officers_are_counted_not_listed():
    _baseline, period = windows(a_busy_week(BASELINE, 14), a_busy_week(PERIOD, 8))
    resources = questions.resources(period)
    totals = resources.loc[resources["role"] == "all"].set_index("kind")["officers"]
    assert totals.to_dict() == {"comparison": 2, "impact": 2}
    assert "officer" not in resources.columns


def test_the_report_page_is_offline_deterministic_and_names_no_officer(tmp_path):
    baseline, period = windows(a_busy_week(BASELINE, 14), a_busy_week(PERIOD, 8))
    index = write_report_files(baseline, period, tmp_path / "one", ZONE)
    again = write_report_files(baseline, period, tmp_path / "two", ZONE)
    page = index.read_text()
    assert page == again.read_text()
    assert page.count("<svg") >= 8
    assert "<script" not in page
    assert re.search(r'(src|href)="(https?:)?//', page) is None  # nothing fetched
    assert "url(http" not in page
    assert "@import" not in page
    for q in range(1, 9):
        assert f'id="q{q}"' in page
    # impact 14 -> 8 and comparison 12 -> 12 crimes: SM = 8/12 - 14/12 < 0, rings unchanged
    assert "Displacement: WDQ 0.00 (SM -0.50, BDM 0.00)" in page
    written = {path.name for path in (tmp_path / "one" / "tables").iterdir()}
    assert {"q1_officer_time.csv", "q7_did.csv", "q7_displacement.csv",
            "q7_residual_deterrence.csv", "q8_calls_vs_crime.csv"} <= written  # fmt: skip
    for path in [index, *(tmp_path / "one" / "tables").iterdir()]:
        text = path.read_text()
        assert "o_00000000000000aa" not in text
        assert "o_00000000000000bb" not in text
        assert "AB12" not in text  # no callsign either


def test_write_report_over_a_contract_a_archive(tmp_path):
    """Contract D end to end: a synthetic archive (the bench's) through ``load_facts`` into the
    page and the tables (needs the facts loader, contract C)."""
    pytest.importorskip("streams.evaluation.facts", reason="the facts loader (contract C)")
    from streams.devtools.bench.report_build import write_synthetic_archive
    from streams.evaluation.report import write_report

    write_synthetic_archive(tmp_path / "archive", date(2026, 10, 1), days=4, radios=20)
    index = write_report(
        (tmp_path / "archive").as_uri(),
        tmp_path / "report",
        period=(date(2026, 10, 3), date(2026, 10, 4)),
        zone=ZONE,
    )
    assert index == tmp_path / "report" / "index.html"
    did = pd.read_csv(tmp_path / "report" / "tables" / "q7_did.csv")
    row = did.set_index("crime_category").loc["all"]
    assert row.t0 > 0
    assert row.c1 > 0
    q1 = pd.read_csv(tmp_path / "report" / "tables" / "q1_officer_time.csv")
    assert set(q1["day"]) == {"2026-10-03", "2026-10-04"}
    assert len(q1) == 2 * 39  # every Impact and comparison area of the bundled pack, each day
    assert "o_0000" not in index.read_text()


def test_a_period_with_nothing_in_it_still_gives_a_page_that_says_why(tmp_path):
    baseline, period = windows({}, {})
    index = write_report_files(baseline, period, tmp_path, ZONE)
    did = pd.read_csv(tmp_path / "tables" / "q7_did.csv").set_index("crime_category")
    assert did.loc["all", "reason"] == "every count is zero; a count is zero: RES is undefined"
    dose = pd.read_csv(tmp_path / "tables" / "q7_dose_response.csv")
    assert set(dose["reason"]) == {"no event in any group"}
    assert "WDQ not computed (no control crime in a window)" in index.read_text()


def test_long_visits_followed_by_longer_calm_show_above_short_ones():
    last = PERIOD[1]
    visits, crimes = [], []
    for hour in range(0, 22, 2):  # one long and one short visit in each of two areas every 2 h
        visits += [visit("i1", at(last, hour), 15), visit("c1", at(last, hour), 1)]
        crimes += [crime("c1", at(last, hour, 10))]  # 9 minutes after each short visit
        crimes += [crime("i1", at(last, hour + 1, 50))]  # 95 minutes after each long visit
    period = Window("period", *PERIOD, make_facts(*PERIOD, visits=visits, crimes=crimes))
    contrast = effects.deterrence_contrast(effects.visit_outcomes(period, ZONE))
    at_60 = contrast.loc[contrast["minutes_after"] == 60].set_index("visits_group")
    assert at_60.loc["10_or_more", "survival"] == 1.0
    assert at_60.loc["under_2", "survival"] == 0.0
    assert at_60.loc["under_2", "log_rank_p"] < 0.001
