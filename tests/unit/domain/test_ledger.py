"""The daily dosage ledger: local days, policy windows across DST, fidelity and gaps."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas
from streams.domain.coverage import DEFAULT_BANDS, DEFAULT_MAX_GAP_S, CoveragePolicy, PolicyBand
from streams.domain.ledger import (
    DailyLedger,
    DoseKey,
    daily_ledger,
    day_bounds,
    fidelity,
    ledger_value,
    local_day,
    longest_gap,
    policy_windows,
)

LONDON = ZoneInfo("Europe/London")
HOUR = 3600.0
MINUTE = 60.0
IMPACT = CoveragePolicy(DEFAULT_BANDS, DEFAULT_MAX_GAP_S, alert=True)


def at(day: int, hour: int, minute: int = 0, month: int = 11, fold: int = 0) -> float:
    """A London wall-clock moment in 2026 as seconds since the epoch."""
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON, fold=fold).timestamp()


def local_windows(policy: CoveragePolicy, day: str) -> list[tuple[str, float]]:
    """Each window of ``day`` as its local start ``HH:MM+offset`` and its length in hours."""
    return [
        (datetime.fromtimestamp(start, LONDON).strftime("%H:%M%z"), (end - start) / HOUR)
        for start, end in policy_windows(policy, day)
    ]


@pytest.mark.parametrize(
    ("ts", "day"),
    [
        (at(21, 0), "2026-11-21"),
        (at(21, 23, 59), "2026-11-21"),
        (at(22, 0), "2026-11-22"),
        (datetime(2026, 6, 21, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp(), "2026-06-22"),
    ],
)
def test_local_day_is_the_london_calendar_day(ts: float, day: str) -> None:
    assert local_day(ts, "Europe/London") == day


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-11-21", 24), ("2026-03-29", 23), ("2026-10-25", 25)],
)
def test_day_bounds_are_local_midnights(day: str, hours: int) -> None:
    start, end = day_bounds(day, "Europe/London")
    assert local_day(start, "Europe/London") == day
    assert local_day(end, "Europe/London") != day
    assert end - start == hours * HOUR


def test_default_impact_windows_follow_the_bands() -> None:
    assert local_windows(IMPACT, "2026-11-21") == [
        ("00:00+0000", 2),
        ("02:00+0000", 4),
        ("06:00+0000", 4),
        ("10:00+0000", 4),
        ("14:00+0000", 4),
        ("18:00+0000", 2),
        ("20:00+0000", 2),
        ("22:00+0000", 2),
    ]


def test_spring_change_day_has_a_one_hour_first_window() -> None:
    assert local_windows(IMPACT, "2026-03-29") == [
        ("00:00+0000", 1),
        ("02:00+0100", 4),
        ("06:00+0100", 4),
        ("10:00+0100", 4),
        ("14:00+0100", 4),
        ("18:00+0100", 2),
        ("20:00+0100", 2),
        ("22:00+0100", 2),
    ]


def test_autumn_change_day_has_three_hours_before_0200_in_two_windows() -> None:
    assert local_windows(IMPACT, "2026-10-25") == [
        ("00:00+0100", 2),
        ("01:00+0000", 1),
        ("02:00+0000", 4),
        ("06:00+0000", 4),
        ("10:00+0000", 4),
        ("14:00+0000", 4),
        ("18:00+0000", 2),
        ("20:00+0000", 2),
        ("22:00+0000", 2),
    ]


def test_windows_shorten_where_a_band_begins_mid_gap() -> None:
    policy = CoveragePolicy((PolicyBand(19 * 60, 21 * 60 + 30, 3600.0),), 5 * HOUR, alert=False)
    assert local_windows(policy, "2026-11-21") == [
        ("00:00+0000", 5),
        ("05:00+0000", 5),
        ("10:00+0000", 5),
        ("15:00+0000", 4),
        ("19:00+0000", 1),
        ("20:00+0000", 1),
        ("21:00+0000", 0.5),
        ("21:30+0000", 2.5),
    ]


@given(
    day=st.dates(date(2024, 1, 1), date(2030, 12, 31)).map(str),
    gap_minutes=st.integers(1, 1440),
    band_start=st.integers(0, 1439),
    band_end=st.integers(0, 1439),
)
def test_windows_tile_the_day_without_exceeding_their_gap(
    day: str, gap_minutes: int, band_start: int, band_end: int
) -> None:
    policy = CoveragePolicy(
        (PolicyBand(band_start, band_end, 45 * MINUTE),), gap_minutes * MINUTE, alert=True
    )
    windows = policy_windows(policy, day)
    start, end = day_bounds(day, "Europe/London")
    assert windows[0][0] == start
    assert windows[-1][1] == end
    for (_, previous_end), (next_start, _) in pairwise(windows):
        assert previous_end == next_start
    assert all(0 < finish - begin <= max(45, gap_minutes) * MINUTE for begin, finish in windows)


@pytest.mark.parametrize(
    ("visits", "now", "expected"),
    [
        pytest.param([], at(21, 9), (0, 2), id="no visits: two windows over, one running"),
        pytest.param([(at(21, 7), at(21, 7, 15))], at(21, 9), (1, 3), id="running window met"),
        pytest.param([(at(21, 11), at(21, 11, 12))], at(21, 11, 30), (1, 4), id="met in 10-14"),
        pytest.param(
            [(at(21, 9, 55), at(21, 10, 7))], at(21, 14), (2, 4), id="straddling meets both"
        ),
        pytest.param([(at(21, 9, 30), at(21, 14, 30))], at(21, 15), (3, 5), id="long stand"),
        pytest.param(
            [(at(21, 5, 50), at(21, 6))], at(21, 10), (1, 3), id="ending on a boundary: earlier"
        ),
        pytest.param([], at(22, 0), (0, 8), id="whole day"),
    ],
)
def test_fidelity_counts_met_windows_and_those_over(
    visits: list[tuple[float, float]], now: float, expected: tuple[int, int]
) -> None:
    assert fidelity(policy_windows(IMPACT, "2026-11-21"), visits, now) == expected


def test_longest_gap_counts_from_day_start_to_now() -> None:
    day_start = at(21, 0)
    ends = [at(21, 3), at(21, 9), at(21, 10), at(20, 22), at(21, 23)]
    assert longest_gap(ends, day_start, at(21, 12)) == 6 * HOUR
    assert longest_gap([], day_start, at(21, 5)) == 5 * HOUR
    assert longest_gap(ends, day_start, at(21, 16, 30)) == 6.5 * HOUR


@given(
    ends=st.lists(st.floats(0, 86_400)),
    now=st.floats(0, 86_400),
)
def test_longest_gap_is_at_least_an_even_share_and_at_most_the_span(
    ends: list[float], now: float
) -> None:
    gap = longest_gap(ends, 0.0, now)
    inside = [end for end in ends if end <= now]
    assert now / (len(inside) + 1) - 1e-6 <= gap <= now


def test_daily_ledger_brings_visits_dose_gap_and_fidelity_together() -> None:
    dose: dict[DoseKey, float] = {
        ("neighbourhood", "foot", "proactive"): 900.0,
        ("response", "vehicle", "reactive"): 300.0,
        ("response", "foot", "proactive"): 60.0,
    }
    visits = [
        (at(20, 23, 55), at(21, 0, 10)),
        (at(21, 7), at(21, 7, 15)),
        (at(21, 19), at(21, 19, 20)),
    ]
    ledger = daily_ledger(
        "WM-IA-017", "2026-11-21", IMPACT, visits, 4, dose, at(21, 20, 30), patrol_seconds=1140.0
    )
    assert ledger == DailyLedger(
        area_id="WM-IA-017",
        day="2026-11-21",
        qualifying_visits=3,
        drive_throughs=4,
        dose_seconds=dose,
        longest_gap_s=at(21, 19, 20) - at(21, 7, 15),
        fidelity_met=3,
        fidelity_due=6,
        patrol_seconds=1140.0,
    )
    value = ledger_value(ledger)
    assert value == {
        "day": "2026-11-21",
        "qualifying_visits": 3,
        "drive_throughs": 4,
        "dose_seconds": {
            "total": 1260.0,
            "by_role": {"neighbourhood": 900.0, "response": 360.0},
            "by_mode": {"foot": 960.0, "vehicle": 300.0},
            "by_activity": {"proactive": 960.0, "reactive": 300.0},
            "by_evidence": {"observed": 1260.0, "inferred": 0.0},
            "split": {
                "neighbourhood": {"foot": {"proactive": 900.0}},
                "response": {"foot": {"proactive": 60.0}, "vehicle": {"reactive": 300.0}},
            },
        },
        "patrol_seconds": 1140.0,
        "longest_gap_s": ledger.longest_gap_s,
        "fidelity": {"met": 3, "due": 6, "share": 0.5},
    }
    example = schemas.SCHEMA_DIR / "examples" / "area.snapshots" / "impact-area-covered-busy.json"
    snapshot = json.loads(example.read_text(encoding="utf-8"))
    snapshot["coverage"]["ledger"] = value
    schemas.assert_valid("area.snapshots", snapshot)


def test_a_finished_day_is_measured_to_its_end() -> None:
    ledger = daily_ledger("A", "2026-10-25", IMPACT, [], 0, {}, at(27, 12, month=10))
    assert (ledger.longest_gap_s, ledger.fidelity_met, ledger.fidelity_due) == (25 * HOUR, 0, 9)
    assert ledger_value(ledger)["fidelity"] == {"met": 0, "due": 9, "share": 0.0}


def test_a_comparison_area_is_measured_against_the_same_windows() -> None:
    measured = replace(IMPACT, alert=False)
    visits = [(at(21, 12), at(21, 12, 12))]
    ledger = daily_ledger("CMP-4", "2026-11-21", measured, visits, 1, {}, at(21, 13))
    assert (ledger.fidelity_met, ledger.fidelity_due) == (1, 4)


def test_fidelity_share_is_null_before_any_window_is_due() -> None:
    ledger = daily_ledger("A", "2026-11-21", IMPACT, [], 0, {}, at(21, 1))
    assert ledger_value(ledger)["fidelity"] == {"met": 0, "due": 0, "share": None}


def test_windows_before_monitoring_began_are_not_held_against_an_area() -> None:
    from streams.domain.coverage import CoveragePolicy, PolicyBand
    from streams.domain.ledger import day_bounds, fidelity, policy_windows

    policy = CoveragePolicy(
        bands=(PolicyBand(18 * 60, 2 * 60, 7200.0),), default_max_gap_s=14400.0, alert=True
    )
    start, _ = day_bounds("2026-11-20", policy.timezone)
    windows = policy_windows(policy, "2026-11-20")
    now = start + 20 * 3600
    unwatched = fidelity(windows, [], now)
    watched = fidelity(windows, [], now, monitored_since=start + 15 * 3600)
    assert unwatched == (0, 6)
    assert watched == (0, 2)


def test_an_uncovered_area_has_missed_the_window_it_is_in() -> None:
    from streams.domain.ledger import day_bounds, fidelity, policy_windows

    start, _ = day_bounds("2026-11-21", IMPACT.timezone)
    windows = policy_windows(IMPACT, "2026-11-21")
    visits = [(start + 3 * 3600, start + 3.5 * 3600), (start + 7 * 3600, start + 7.5 * 3600)]
    now = start + 12 * 3600  # 12:00: windows 00-02, 02-06, 06-10 over; 10-14 running, not met
    assert fidelity(windows, visits, now) == (2, 3)  # 00-02 missed, 02-06 and 06-10 met
    assert fidelity(windows, visits, now, uncovered=True) == (2, 4)  # and 10-14 now missed


def test_an_uncovered_area_never_reads_full_fidelity() -> None:
    start, _ = day_bounds("2026-11-21", IMPACT.timezone)
    visits = [(start + 1 * 3600, start + 1.2 * 3600), (start + 3 * 3600, start + 3.5 * 3600)]
    covered = daily_ledger("ia-01", "2026-11-21", IMPACT, visits, 0, {}, start + 8 * 3600)
    uncovered = daily_ledger(
        "ia-01", "2026-11-21", IMPACT, visits, 0, {}, start + 8 * 3600, uncovered=True
    )
    assert ledger_value(covered)["fidelity"]["share"] == 1.0
    assert ledger_value(uncovered)["fidelity"] == {"met": 2, "due": 3, "share": 2 / 3}
