"""Coverage on the event clock is judged at fixed instants with the visits as they stood then,
so what is judged does not depend on when, or how often, the evaluator ran."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.judging import (
    JUDGING_STEP_S,
    QualifyingVisit,
    VisitHistory,
    coverage_watermark,
    judging_instants,
    last_qualifying_end_at,
    last_qualifying_visit_at,
    monitoring_start,
    present_at,
    present_since,
)

MINUTE = 60.0
T0 = 1_795_194_000.0  # 2026-11-20T14:00:00Z, on the minute


def test_coverage_is_judged_at_the_slowest_pings_partition_never_past_the_clock() -> None:
    assert coverage_watermark(5000.0, [4000.0, 3000.0, None, 4500.0]) == 3000.0
    assert coverage_watermark(2000.0, [4000.0, 3000.0]) == 2000.0
    assert coverage_watermark(None, [4000.0, 3000.0]) == 3000.0


def test_with_no_pings_yet_coverage_is_judged_on_the_clock() -> None:
    assert coverage_watermark(5000.0, [None, None]) == 5000.0
    assert coverage_watermark(None, []) is None


def test_monitoring_began_with_the_earliest_first_record_of_any_pings_partition() -> None:
    assert monitoring_start([None, 1200.0, 1100.0]) == 1100.0
    assert monitoring_start([None, None]) is None


def test_the_first_instant_is_the_first_whole_minute_from_when_monitoring_began() -> None:
    assert judging_instants(None, T0 + 10, T0 + 400, hold_s=120) == [
        T0 + 60,
        T0 + 120,
        T0 + 180,
        T0 + 240,
    ]
    assert judging_instants(None, T0, T0 + 130, hold_s=120) == [T0]


def test_an_instant_waits_until_every_partition_is_past_it_by_the_hold() -> None:
    assert judging_instants(T0, T0, T0 + 179, hold_s=120) == []
    assert judging_instants(T0, T0, T0 + 180, hold_s=120) == [T0 + 60]


def test_a_backlog_is_judged_a_bounded_number_of_instants_at_a_time() -> None:
    instants = judging_instants(T0, T0, T0 + 86400, hold_s=0, limit=5)
    assert instants == [T0 + 60 * k for k in range(1, 6)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=4 * 3600), min_size=1, max_size=30),
    st.floats(min_value=0, max_value=300),
    st.integers(min_value=1, max_value=40),
)
def test_every_instant_is_judged_once_in_order_however_the_watermark_moved(
    advances: list[float], hold_s: float, limit: int
) -> None:
    began = T0 + 7.5
    judged: list[float] = []
    watermark = began
    for advance in sorted(advances):
        watermark = max(watermark, began + advance)
        for _ in range(10_000):  # evaluations at this watermark until nothing is left to judge
            instants = judging_instants(
                judged[-1] if judged else None, began, watermark, hold_s, limit=limit
            )
            if not instants:
                break
            judged.extend(instants)
    expected = judging_instants(None, began, watermark, hold_s, limit=10**9)
    assert judged == expected
    assert all(b - a == JUDGING_STEP_S for a, b in itertools.pairwise(judged))


def test_a_visit_that_had_ended_counts_with_its_end_if_it_lasted_long_enough() -> None:
    history = VisitHistory((T0 - 4200, T0 - 3600), ((T0, T0 + 900), (T0 + 950, T0 + 1000)))
    assert last_qualifying_end_at(history, T0 + 1200, qualifying_s=600) == T0 + 900


def test_a_visit_going_on_at_the_instant_counts_once_it_had_lasted_long_enough() -> None:
    history = VisitHistory((T0 - 4200, T0 - 3600), ((T0, T0 + 7200),))
    assert last_qualifying_end_at(history, T0 + 300, qualifying_s=600) == T0 - 3600
    assert last_qualifying_end_at(history, T0 + 600, qualifying_s=600) == T0 + 600
    assert last_qualifying_end_at(history, T0 + 5000, qualifying_s=600) == T0 + 5000


def test_an_officer_standing_in_the_area_for_hours_keeps_it_covered() -> None:
    history = VisitHistory(None, ((T0, T0 + 5 * 3600),))
    ages = [
        at - (last_qualifying_end_at(history, at, 600) or 0.0) for at in (T0 + 3600, T0 + 14400)
    ]
    assert ages == [0.0, 0.0]


def test_with_no_qualifying_visit_kept_there_is_no_last_end() -> None:
    assert last_qualifying_end_at(VisitHistory(None, ()), T0, 600) is None
    assert last_qualifying_end_at(VisitHistory(None, ((T0, T0 + 100),)), T0 + 200, 600) is None


def test_officers_present_at_an_instant_are_the_visits_going_on_then() -> None:
    history = VisitHistory(None, ((T0, T0 + 600), (T0 + 100, T0 + 200), (T0 + 500, T0 + 900)))
    assert [present_at(history, T0 + s) for s in (0, 150, 300, 550, 700, 1000)] == [
        1,
        2,
        1,
        2,
        1,
        0,
    ]
    assert present_at(None, T0) == 0


def test_a_visit_still_open_when_read_goes_on_at_every_later_instant() -> None:
    history = VisitHistory(None, ((T0, math.inf),))
    assert last_qualifying_end_at(history, T0 + 300, qualifying_s=600) is None
    assert last_qualifying_end_at(history, T0 + 3 * 3600, qualifying_s=600) == T0 + 3 * 3600
    assert present_at(history, T0 + 3 * 3600) == 1


def test_the_latest_qualifying_visit_at_an_instant_has_its_start_and_says_if_it_goes_on() -> None:
    history = VisitHistory((T0 - 4200, T0 - 3600), ((T0, T0 + 900), (T0 + 100, T0 + 3000)))
    assert last_qualifying_visit_at(history, T0 + 300, 600) == QualifyingVisit(
        T0 - 4200, T0 - 3600, ongoing=False
    )
    assert last_qualifying_visit_at(history, T0 + 800, 600) == QualifyingVisit(
        T0, T0 + 800, ongoing=True
    )
    assert last_qualifying_visit_at(history, T0 + 4000, 600) == QualifyingVisit(
        T0 + 100, T0 + 3000, ongoing=False
    )


def test_of_visits_ending_together_the_longest_is_the_latest_qualifying_one() -> None:
    history = VisitHistory(None, ((T0, T0 + 5000), (T0 + 1000, T0 + 5000)))
    visit = last_qualifying_visit_at(history, T0 + 2000, 600)
    assert visit == QualifyingVisit(T0, T0 + 2000, ongoing=True)


def test_presence_at_an_instant_began_with_the_longest_visit_going_on() -> None:
    history = VisitHistory(None, ((T0, T0 + 600), (T0 + 100, T0 + 900)))
    assert [present_since(history, T0 + s) for s in (50, 300, 700, 1000)] == [
        T0,
        T0,
        T0 + 100,
        None,
    ]
    assert present_since(None, T0) is None
