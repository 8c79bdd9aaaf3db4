"""Behaviour of dose accounting: minute buckets and rolling windows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.dose import (
    RollingWindows,
    buckets_by_area,
    drop_buckets_before,
    merge_buckets,
    minute_buckets,
    window_totals,
)
from streams.domain.tracks import DoseAccrued

T0 = 1_763_700_000.0  # a whole minute: 29_395_000
M0 = 29_395_000


def dose(start_s: float, end_s: float, seconds: float | None = None) -> DoseAccrued:
    return DoseAccrued(
        area_id="A",
        start=T0 + start_s,
        end=T0 + end_s,
        role="response",
        mode="foot",
        activity="proactive",
        seconds=end_s - start_s if seconds is None else seconds,
    )


def key(minute: int) -> tuple[str, int, str, str, str]:
    return ("A", M0 + minute, "response", "foot", "proactive")


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (dose(10, 40), {key(0): 30}),
        (dose(50, 70), {key(0): 10, key(1): 10}),
        (dose(30, 150), {key(0): 30, key(1): 60, key(2): 30}),
        (dose(60, 120), {key(1): 60}),
        (dose(50, 70, seconds=-20), {key(0): -10, key(1): -10}),
        (dose(30, 30, seconds=0), {key(0): 0}),
    ],
)
def test_dose_splits_across_utc_minutes(
    segment: DoseAccrued, expected: dict[object, float]
) -> None:
    assert minute_buckets(segment) == pytest.approx(expected)


@given(
    start_s=st.floats(-1e5, 1e5),
    length_s=st.floats(0, 600),
    sign=st.sampled_from([1, -1]),
)
def test_minute_buckets_sum_to_the_dose_with_its_sign(
    start_s: float, length_s: float, sign: int
) -> None:
    segment = dose(start_s, start_s + length_s, seconds=sign * length_s)
    buckets = minute_buckets(segment)
    assert sum(buckets.values()) == pytest.approx(segment.seconds, abs=1e-6)
    assert all(value * sign >= 0 for value in buckets.values())
    minutes = [k[1] for k in buckets]
    assert min(minutes) == int(segment.start // 60)
    assert max(minutes) <= int(segment.end // 60)


def test_correction_cancels_the_dose_it_corrects() -> None:
    merged = merge_buckets(minute_buckets(dose(50, 170)), minute_buckets(dose(50, 170, -120)))
    assert all(value == pytest.approx(0) for value in merged.values())


def test_buckets_by_area_sums_equal_keys() -> None:
    grouped = buckets_by_area(
        [(key(0), 10.0), (key(0), 5.0), (("B", M0, "r", "foot", "reactive"), 1.0)]
    )
    assert grouped == {
        "A": {(M0, "response", "foot", "proactive"): 15.0},
        "B": {(M0, "r", "foot", "reactive"): 1.0},
    }


NOW = T0 + 3600  # the start of minute M0 + 60


def totals_for(
    minutes_and_seconds: dict[int, float], now: float = NOW
) -> dict[RollingWindows, float]:
    buckets = {
        (M0 + minute, "response", "foot", "proactive"): s
        for minute, s in minutes_and_seconds.items()
    }
    totals = window_totals(buckets, now)
    return {window: sum(split.values()) for window, split in totals.items()}


@pytest.mark.parametrize(
    ("now", "minute", "in_15_minutes"),
    [
        (NOW, 45, True),  # starts exactly at now - 15 min: included
        (NOW, 44, False),
        (NOW, 60, True),  # the minute containing now
        (NOW, 61, False),  # the future
        (NOW + 59, 45, True),  # now - 15 min falls inside minute 45: the whole minute counts
        (NOW + 60, 45, False),
    ],
)
def test_window_boundary_is_the_minute_containing_now_minus_window(
    now: float, minute: int, in_15_minutes: bool
) -> None:
    assert (totals_for({minute: 30.0}, now)[RollingWindows.MINUTES_15] == 30.0) is in_15_minutes


def test_windows_nest_and_split_by_role_mode_and_activity() -> None:
    buckets = {
        (M0 + 59, "response", "foot", "proactive"): 60.0,
        (M0 + 59, "response", "vehicle", "reactive"): 30.0,
        (M0 + 10, "neighbourhood", "foot", "proactive"): 60.0,
        (M0 - 7 * 60, "response", "foot", "proactive"): 60.0,
        (M0 - 23 * 60, "response", "foot", "proactive"): 60.0,
        (M0 - 25 * 60, "response", "foot", "proactive"): 60.0,
    }
    totals = window_totals(buckets, NOW)
    assert totals[RollingWindows.MINUTES_15] == {
        ("response", "foot", "proactive"): 60.0,
        ("response", "vehicle", "reactive"): 30.0,
    }
    assert totals[RollingWindows.HOURS_1][("neighbourhood", "foot", "proactive")] == 60.0
    assert totals[RollingWindows.HOURS_8][("response", "foot", "proactive")] == 120.0
    assert totals[RollingWindows.HOURS_24][("response", "foot", "proactive")] == 180.0
    assert [int(window) for window in RollingWindows] == [900, 3600, 28_800, 86_400]


def test_old_buckets_can_be_dropped() -> None:
    buckets = {(M0, "r", "foot", "proactive"): 1.0, (M0 + 1, "r", "foot", "proactive"): 2.0}
    assert drop_buckets_before(buckets, M0 + 1) == {(M0 + 1, "r", "foot", "proactive"): 2.0}
