"""Pure interval arithmetic of the presence facts: band edges (DST-safe), clipping, unions,
gaps, and the met-policy rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.coverage import DEFAULT_BANDS, DEFAULT_MAX_GAP_S, CoveragePolicy
from streams.evaluation.intervals import (
    band_edges,
    clip_to_edges,
    gaps_between,
    met_policy,
    minute_limits,
    union_intervals,
)

LONDON = "Europe/London"
HOUR = 3600.0
POLICY = CoveragePolicy(DEFAULT_BANDS, DEFAULT_MAX_GAP_S, alert=True, timezone=LONDON)


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def test_a_winter_day_has_six_four_hour_bands_from_local_midnight() -> None:
    edges = band_edges(date(2026, 12, 1), date(2026, 12, 1), LONDON)
    assert edges.edges[0] == at(2026, 12, 1)
    assert np.diff(edges.edges).tolist() == [4 * HOUR] * 6


def test_a_summer_day_starts_at_local_midnight_an_hour_before_utc() -> None:
    edges = band_edges(date(2026, 7, 1), date(2026, 7, 2), LONDON)
    assert edges.day_start(0) == at(2026, 6, 30, 23)
    assert edges.day_end(1) == at(2026, 7, 2, 23)


def test_the_clock_change_days_are_25_and_23_hours_long_in_the_first_band() -> None:
    autumn = band_edges(date(2026, 10, 25), date(2026, 10, 25), LONDON)
    assert autumn.day_end(0) - autumn.day_start(0) == 25 * HOUR
    assert np.diff(autumn.edges).tolist() == [5 * HOUR] + [4 * HOUR] * 5
    spring = band_edges(date(2026, 3, 29), date(2026, 3, 29), LONDON)
    assert np.diff(spring.edges).tolist() == [3 * HOUR] + [4 * HOUR] * 5


def test_an_interval_across_midnight_is_cut_into_both_days() -> None:
    edges = band_edges(date(2026, 12, 1), date(2026, 12, 2), LONDON)
    index, slot, starts, ends = clip_to_edges(
        np.array([at(2026, 12, 1, 23, 40)]), np.array([at(2026, 12, 2, 0, 10)]), edges.edges
    )
    assert index.tolist() == [0, 0]
    assert slot.tolist() == [5, 6]  # 20-24 of the first day, 00-04 of the second
    assert (ends - starts).tolist() == [20 * 60, 10 * 60]


def test_parts_outside_the_edges_and_empty_intervals_are_dropped() -> None:
    edges = np.array([0.0, 10.0, 20.0])
    index, slot, starts, ends = clip_to_edges(
        np.array([-5.0, 5.0, 25.0, 12.0]), np.array([5.0, 5.0, 30.0, 40.0]), edges
    )
    assert index.tolist() == [0, 3]
    assert slot.tolist() == [0, 1]
    assert (ends - starts).tolist() == [5.0, 8.0]


def test_union_merges_overlapping_and_touching_intervals() -> None:
    starts, ends = union_intervals(
        np.array([10.0, 0.0, 5.0, 30.0]), np.array([20.0, 5.0, 8.0, 40.0])
    )
    assert starts.tolist() == [0.0, 10.0, 30.0]
    assert ends.tolist() == [8.0, 20.0, 40.0]
    assert gaps_between(starts, ends).tolist() == [2.0, 10.0]
    assert gaps_between(starts[:1], ends[:1]).size == 0


def test_minute_limits_follow_the_evening_band_in_local_time() -> None:
    edges = band_edges(date(2026, 7, 1), date(2026, 7, 1), LONDON)
    limits = minute_limits(edges.day_start(0), edges.day_end(0), POLICY)
    assert limits.size == 1440
    assert limits[0] == limits[119] == 120 * 60  # 00:00-02:00 local: the band from 18:00
    assert limits[120] == limits[18 * 60 - 1] == 240 * 60
    assert limits[18 * 60] == 120 * 60


def test_minute_limits_of_a_25_hour_day_judge_1500_minutes() -> None:
    edges = band_edges(date(2026, 10, 25), date(2026, 10, 25), LONDON)
    assert minute_limits(edges.day_start(0), edges.day_end(0), POLICY).size == 1500


def day_check(visits: list[tuple[int, int]], gap_began_hour: float = 0.0) -> bool:
    """met_policy for 2026-12-01 (London = UTC) with qualifying visits given as local
    (start minute, end minute) of the day."""
    edges = band_edges(date(2026, 12, 1), date(2026, 12, 1), LONDON)
    day_start = edges.day_start(0)
    limits = minute_limits(day_start, edges.day_end(0), POLICY)
    starts = np.array([day_start + 60.0 * start for start, _ in visits])
    ends = np.array([day_start + 60.0 * end for _, end in visits])
    return met_policy(starts, ends, day_start, limits, day_start + gap_began_hour * HOUR)


def test_a_day_with_a_qualifying_visit_inside_every_limit_met_its_policy() -> None:
    every_hour_in_the_evening = [(m, m + 15) for m in range(18 * 60, 24 * 60, 100)]
    assert day_check(
        [(60, 75), (300, 315), (530, 545), (760, 775), (990, 1005), *every_hour_in_the_evening]
    )


def test_a_gap_reaching_the_limit_at_any_minute_fails_the_day() -> None:
    assert not day_check([(60, 75), (75 + 240, 330)])  # 4 h gap: uncovered at 05:15
    assert day_check(
        [
            (60, 75),
            (75 + 239, 330),
            (520, 530),
            (760, 770),
            (1000, 1090),
            (1200, 1320),
            (1400, 1440),
        ]
    )


def test_a_long_visit_covers_while_it_goes_on() -> None:
    assert day_check([(0, 24 * 60)])


def test_the_gap_before_the_first_visit_runs_from_the_look_back() -> None:
    assert not day_check([(100, 1440)], gap_began_hour=-24.0)
    assert day_check([(100, 1440)], gap_began_hour=-0.25)


@pytest.mark.parametrize(("next_start", "met"), [(17 * 60 + 5, True), (18 * 60 + 10, False)])
def test_the_evening_band_tightens_the_limit(next_start: int, met: bool) -> None:
    """Covered until 15:00: a gap to 17:05 is within the 4 h of the afternoon; one to 18:10 is
    not within the 2 h the evening band allows from 18:00."""
    assert day_check([(0, 15 * 60), (next_start, 1440)]) is met


intervals = st.lists(
    st.tuples(st.floats(-50, 150, allow_nan=False), st.floats(0, 60, allow_nan=False)),
    max_size=20,
)


@given(intervals)
def test_pieces_add_up_to_each_interval_s_part_inside_the_edges(
    spans: list[tuple[float, float]],
) -> None:
    edges = np.array([0.0, 7.0, 30.0, 31.0, 100.0])
    starts = np.array([start for start, _ in spans])
    ends = starts + np.array([length for _, length in spans])
    index, slot, piece_starts, piece_ends = clip_to_edges(starts, ends, edges)
    assert np.all(piece_starts >= edges[slot])
    assert np.all(piece_ends <= edges[slot + 1])
    for k in range(len(spans)):
        inside = max(0.0, min(ends[k], 100.0) - max(starts[k], 0.0))
        assert np.sum((piece_ends - piece_starts)[index == k]) == pytest.approx(inside)


@given(intervals)
def test_the_union_covers_each_interval_once_and_no_more(spans: list[tuple[float, float]]) -> None:
    starts = np.array([start for start, _ in spans])
    ends = starts + np.array([length for _, length in spans])
    union_starts, union_ends = union_intervals(starts, ends)
    assert np.all(gaps_between(union_starts, union_ends) > 0)
    for start, end in zip(starts, ends, strict=True):
        assert np.any((union_starts <= start) & (union_ends >= end))
    assert np.sum(union_ends - union_starts) <= np.sum(ends - starts) + 1e-9
