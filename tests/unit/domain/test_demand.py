"""Behaviour of demand counting: area attribution, signed bucket changes and rolling windows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.demand import (
    OUTSIDE,
    BucketChange,
    DemandFact,
    DemandKey,
    ResponseSampleChange,
    ResponseTimeStats,
    demand_changes,
    open_counts_at,
    open_incident_keys,
    response_sample_changes,
    response_time_stats,
)
from streams.domain.harm import DEFAULT_HARM_WEIGHTS
from streams.domain.incidents import (
    GRADES,
    INCIDENT_EVENT_KINDS,
    CrimeRecorded,
    FirstArrival,
    FirstArrivalRetracted,
    IncidentAssigned,
    IncidentClosed,
    IncidentEvent,
    IncidentOpened,
    IncidentRegraded,
    IncidentState,
    StopSearchRecorded,
    apply_incident,
    attribute,
)
from streams.domain.validation import Rejected
from streams.domain.windows import in_window
from tests.helpers.demand_model import (
    CallsVsCrimes,
    OpenCounts,
    apply_changes,
    calls_vs_crimes,
    drop_expired,
    window_counts,
)

T0 = 1_763_700_000.0  # a whole minute
M0 = 29_395_000
LAT, LON = 52.48, -1.89
WEIGHTS = DEFAULT_HARM_WEIGHTS


def opened(at: float = 0.0, grade: str = "immediate") -> IncidentOpened:
    return IncidentOpened("INC-1", grade, "burglary", T0 + at, LAT, LON)  # type: ignore[arg-type]


def crime(at: float, category: str = "robbery") -> CrimeRecorded:
    return CrimeRecorded(f"CRM-{at}", T0 + at, LAT, LON, category)


def stop_search(at: float, object_of_search: str, outcome: str = "arrest") -> StopSearchRecorded:
    return StopSearchRecorded("SS-1", T0 + at, LAT, LON, object_of_search, outcome)


def buckets_of(
    facts: Iterable[DemandFact], area_ids: Sequence[str] = ("A",)
) -> dict[DemandKey, float]:
    return apply_changes({}, demand_changes(facts, area_ids, WEIGHTS))


# ---- changes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (
            opened(30),
            [
                BucketChange("A", M0, "incidents_opened", "immediate", 1.0),
                BucketChange("A", M0, "harm", "incident", 40.0),
            ],
        ),
        (
            IncidentRegraded(
                "INC-1",
                "immediate",
                "resolution",
                T0 + 900,
                T0 + 30,
                "burglary",
                LAT,
                LON,
                open=True,
            ),
            [
                BucketChange("A", M0, "incidents_opened", "immediate", -1.0),
                BucketChange("A", M0, "incidents_opened", "resolution", 1.0),
                BucketChange("A", M0, "harm", "incident", -30.0),
            ],
        ),
        (
            crime(61),
            [
                BucketChange("A", M0 + 1, "crimes", "robbery", 1.0),
                BucketChange("A", M0 + 1, "harm", "crime", 365.0),
            ],
        ),
        (
            stop_search(0, "Offensive weapons"),
            [
                BucketChange("A", M0, "stop_searches", "Offensive weapons", 1.0),
                BucketChange("A", M0, "harm", "stop_search", 90.0),
            ],
        ),
        (
            stop_search(0, "Controlled drugs"),
            [BucketChange("A", M0, "stop_searches", "Controlled drugs", 1.0)],
        ),
        (
            opened(0, "ungraded").__class__(
                "INC-1", "ungraded", "concern_for_welfare", T0, LAT, LON
            ),
            [BucketChange("A", M0, "incidents_opened", "ungraded", 1.0)],
        ),
        (IncidentClosed("INC-1", "immediate", T0, LAT, LON), []),
        (IncidentAssigned("INC-1", frozenset({"B21"}), T0), []),
        (FirstArrival("INC-1", 600.0, T0, LAT, LON), []),
    ],
)
def test_each_fact_changes_its_buckets(fact: DemandFact, expected: list[BucketChange]) -> None:
    assert demand_changes([fact], ["A"], WEIGHTS) == expected


def test_a_place_in_no_area_counts_outside_and_one_in_two_areas_counts_in_both() -> None:
    assert {change.area_id for change in demand_changes([crime(0)], [], WEIGHTS)} == {OUTSIDE}
    assert [change.area_id for change in demand_changes([crime(0)], ["A", "B"], WEIGHTS)] == [
        "A",
        "B",
        "A",
        "B",
    ]


def placed(*events: IncidentEvent, areas: Sequence[str] = ("A",)) -> IncidentState:
    """The state after ``events`` in order, placed in ``areas`` once counted."""
    state: IncidentState | None = None
    for one in events:
        state, _ = apply_incident(state, one)
        assert state is not None
        state = attribute(state, areas)
    assert state is not None
    return state


OPENED = IncidentEvent("INC-1", "opened", T0, "priority", "burglary", LAT, LON)


@pytest.mark.parametrize(
    ("events", "areas", "keys"),
    [
        ([OPENED], ("A",), (("A", "priority"),)),
        ([OPENED], ("B", "A"), (("A", "priority"), ("B", "priority"))),
        ([OPENED], (), ((OUTSIDE, "priority"),)),
        (
            [OPENED, IncidentEvent("INC-1", "graded", T0 + 60, "immediate")],
            ("A",),
            (("A", "immediate"),),
        ),
        (
            [IncidentEvent("INC-1", "opened", T0, None, "burglary", LAT, LON)],
            ("A",),
            (("A", "ungraded"),),
        ),
        ([OPENED, IncidentEvent("INC-1", "closed", T0 + 900)], ("A",), ()),
        ([IncidentEvent("INC-1", "graded", T0 + 60, "immediate")], ("A",), ()),  # an orphan
    ],
)
def test_an_incident_is_open_in_each_of_its_areas_under_its_grade_until_closed(
    events: list[IncidentEvent], areas: tuple[str, ...], keys: tuple[tuple[str, str], ...]
) -> None:
    assert open_incident_keys(placed(*events, areas=areas)) == keys


def test_an_incident_not_yet_placed_in_areas_is_in_no_open_count() -> None:
    state, _ = apply_incident(None, OPENED)
    assert state.awaiting_areas
    assert open_incident_keys(state) == ()


def test_an_incident_keeps_the_areas_it_was_first_counted_in() -> None:
    state = placed(OPENED, areas=())
    regraded, _ = apply_incident(state, IncidentEvent("INC-1", "graded", T0 + 60, "immediate"))
    assert attribute(regraded, ["A"]) == regraded
    assert open_incident_keys(attribute(regraded, ["A"])) == ((OUTSIDE, "immediate"),)


def test_response_samples_are_added_and_retracted() -> None:
    facts: list[DemandFact] = [
        FirstArrival("INC-1", 900.0, T0 + 900, LAT, LON),
        FirstArrivalRetracted("INC-1", 900.0, T0 + 900, LAT, LON),
        FirstArrival("INC-1", 600.0, T0 + 600, LAT, LON),
    ]
    assert response_sample_changes(facts, ["A"]) == [
        ResponseSampleChange("A", "INC-1", T0 + 900, 900.0, 1),
        ResponseSampleChange("A", "INC-1", T0 + 900, 900.0, -1),
        ResponseSampleChange("A", "INC-1", T0 + 600, 600.0, 1),
    ]


def test_changes_that_cancel_leave_no_bucket_behind() -> None:
    regraded = IncidentRegraded(
        "INC-1", "immediate", "priority", T0, T0, "burglary", LAT, LON, open=True
    )
    back = IncidentRegraded(
        "INC-1", "priority", "immediate", T0, T0, "burglary", LAT, LON, open=True
    )
    assert buckets_of([opened()]) == buckets_of([opened(), regraded, back])
    assert apply_changes({}, []) == {}


def test_closed_before_opened_through_the_whole_chain_counts_opened_but_not_open() -> None:
    closed_first = IncidentEvent("INC-1", "closed", T0 + 900)
    opened_late = IncidentEvent("INC-1", "opened", T0, "priority", "burglary", LAT, LON)
    state: IncidentState | None = None
    facts: list[DemandFact] = []
    for event in (closed_first, opened_late):
        state, new_facts = apply_incident(state, event)
        facts.extend(new_facts)
    assert state is not None
    assert open_incident_keys(attribute(state, ["A"])) == ()
    assert buckets_of(facts) == {
        ("A", M0, "incidents_opened", "priority"): 1.0,
        (
            "A",
            M0,
            "harm",
            "incident",
        ): 30.0,
    }


# ---- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("window_s", [3600, 86400])
@pytest.mark.parametrize(
    ("from_window_end", "offset_s", "inside"),
    [
        (False, -0.001, False),  # the minute has not begun yet
        (False, 0.0, True),  # its first second
        (False, 59.999, True),
        (True, -0.001, True),  # the last instant the minute counts
        (True, 0.0, False),  # exactly W after the minute began: gone
        (True, 0.001, False),
    ],
)
def test_a_minute_counts_from_its_start_for_exactly_the_window(
    window_s: int, from_window_end: bool, offset_s: float, inside: bool
) -> None:
    now = M0 * 60 + (window_s if from_window_end else 0) + offset_s
    assert in_window(M0, now, window_s) is inside
    counts = window_counts({("A", M0, "crimes", "robbery"): 1.0}, now, (window_s,))
    assert counts == ({("A", window_s, "crimes", "robbery"): 1.0} if inside else {})


def test_an_event_late_in_its_minute_ages_out_with_the_minute() -> None:
    buckets = buckets_of([crime(59.5)])
    assert window_counts(buckets, T0 + 3599.999, (3600,)) != {}
    assert window_counts(buckets, T0 + 3600, (3600,)) == {}


def test_window_counts_sum_per_area_window_measure_and_label() -> None:
    buckets = buckets_of(
        [crime(0), crime(30), crime(7200), crime(7200, "theft"), stop_search(7200, "firearms")]
    )
    counts = window_counts(buckets, T0 + 7200)
    assert counts[("A", 3600, "crimes", "robbery")] == 1.0
    assert counts[("A", 86400, "crimes", "robbery")] == 3.0
    assert counts[("A", 86400, "crimes", "theft")] == 1.0
    assert counts[("A", 3600, "stop_searches", "firearms")] == 1.0
    assert counts[("A", 86400, "harm", "crime")] == 3 * 365.0 + 2.0
    assert counts[("A", 3600, "harm", "stop_search")] == 730.0


@given(
    offsets=st.lists(st.integers(-100_000, 100_000), max_size=30),
    now_offset=st.integers(-100_000, 100_000),
    window_s=st.sampled_from([3600, 86400]),
)
def test_window_counts_agree_with_counting_event_minutes(
    offsets: list[int], now_offset: int, window_s: int
) -> None:
    now = T0 + now_offset
    buckets = buckets_of([crime(offset) for offset in offsets])
    expected = sum(1 for offset in offsets if now - window_s < ((T0 + offset) // 60) * 60 <= now)
    counted = window_counts(buckets, now, (window_s,)).get(("A", window_s, "crimes", "robbery"), 0)
    assert counted == expected


def test_dropping_expired_buckets_keeps_what_the_longest_window_sees() -> None:
    buckets = buckets_of([crime(0), crime(3600)])
    now = T0 + 86400 + 1800
    kept = drop_expired(buckets, now)
    assert kept == buckets_of([crime(3600)])
    assert window_counts(kept, now) == window_counts(buckets, now)


# ---- response times --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ([], ResponseTimeStats(None, None, 0)),
        ([300.0], ResponseTimeStats(300.0, 300.0, 1)),
        ([100.0, 300.0], ResponseTimeStats(200.0, 300.0, 2)),
        ([float(s) for s in range(1, 11)], ResponseTimeStats(5.5, 9.0, 10)),
        ([float(s) for s in range(20, 0, -1)], ResponseTimeStats(10.5, 18.0, 20)),
        ([float(s) for s in range(1, 12)], ResponseTimeStats(6.0, 10.0, 11)),
    ],
)
def test_response_time_median_and_nearest_rank_p90(
    seconds: list[float], expected: ResponseTimeStats
) -> None:
    samples = [(T0, value) for value in seconds]
    assert response_time_stats(samples, T0 + 60) == expected


def test_response_samples_leave_the_24_h_window_at_the_exact_boundary() -> None:
    samples = [(T0 + 30, 600.0), (T0 + 3600, 60.0)]
    assert response_time_stats(samples, T0 + 86400 - 0.001).count == 2
    assert response_time_stats(samples, T0 + 86400) == ResponseTimeStats(60.0, 60.0, 1)
    assert response_time_stats(samples, T0 - 0.001).count == 0


@given(st.lists(st.floats(0, 10_000), min_size=1, max_size=50))
def test_p90_is_the_inverted_cdf_percentile(seconds: list[float]) -> None:
    stats = response_time_stats([(T0, value) for value in seconds], T0)
    assert stats.p90_seconds == float(np.percentile(seconds, 90, method="inverted_cdf"))
    assert stats.median_seconds is not None
    assert math.isclose(stats.median_seconds, float(np.median(seconds)), rel_tol=1e-12)


# ---- calls versus crimes ---------------------------------------------------------------------


def test_calls_versus_crimes_per_area_over_24_h() -> None:
    buckets = apply_changes(
        buckets_of([opened(0), opened(60, "priority"), opened(120), crime(0), crime(10, "theft")]),
        demand_changes([opened(0), crime(0)], ["B"], WEIGHTS)
        + demand_changes([opened(0)], ["C"], WEIGHTS)
        + demand_changes([crime(-86400)], ["D"], WEIGHTS),
    )
    assert calls_vs_crimes(buckets, T0 + 600) == {
        "A": CallsVsCrimes(3.0, 2.0, 1.5),
        "B": CallsVsCrimes(1.0, 1.0, 1.0),
        "C": CallsVsCrimes(1.0, 0.0, None),
    }
    # A day after minute M0 its call and both crimes are gone; the calls of M0+1, M0+2 remain.
    assert calls_vs_crimes(buckets, T0 + 86400) == {"A": CallsVsCrimes(2.0, 0.0, None)}


# ---- the whole chain under any arrival order ---------------------------------------------------

LIFECYCLE = [
    IncidentEvent("INC-1", "opened", T0, None, "burglary", LAT, LON),
    IncidentEvent("INC-1", "graded", T0 + 60, "priority"),
    IncidentEvent("INC-1", "assigned", T0 + 90, callsigns=frozenset({"B21"})),
    IncidentEvent("INC-1", "arrived", T0 + 700, callsigns=frozenset({"B24"})),
    IncidentEvent("INC-1", "arrived", T0 + 600, callsigns=frozenset({"B21"})),
    IncidentEvent("INC-1", "graded", T0 + 800, "immediate"),
    IncidentEvent("INC-1", "closed", T0 + 3600),
    IncidentEvent("INC-1", "graded", T0 + 4000, "scheduled"),
]


def demand_of(events: Sequence[IncidentEvent]) -> tuple[object, ...]:
    """Buckets, open counts and response samples a consumer holds after ``events``."""
    state: IncidentState | None = None
    buckets: dict[DemandKey, float] = {}
    open_counts = OpenCounts()
    samples: Counter[tuple[float, float]] = Counter()
    for event in events:
        state, facts = apply_incident(state, event)
        state = attribute(state, ["A"])
        buckets = apply_changes(buckets, demand_changes(facts, ["A"], WEIGHTS))
        open_counts.count(state.incident_id, open_incident_keys(state))
        for sample in response_sample_changes(facts, ["A"]):
            samples[(sample.ts, sample.response_seconds)] += sample.delta
    return buckets, open_counts.counts, +samples


@given(st.permutations(LIFECYCLE), st.integers(0, len(LIFECYCLE)))
def test_any_arrival_order_and_a_cut_give_the_same_demand_as_time_order(
    shuffled: list[IncidentEvent], cut: int
) -> None:
    in_order = sorted(shuffled[:cut], key=lambda event: event.ts)
    assert demand_of(shuffled[:cut]) == demand_of(in_order)
    if cut == len(LIFECYCLE):
        assert demand_of(shuffled) == (
            {
                ("A", M0, "incidents_opened", "scheduled"): 1.0,
                ("A", M0, "harm", "incident"): 20.0,
            },
            Counter(),
            Counter({(T0 + 600, 600.0): 1}),
        )


# ---- open counts: a function of the incident states ------------------------------------------

INCIDENT_IDS = ("INC-1", "INC-2", "INC-3")
MAYBE_GRADE = st.none() | st.sampled_from(GRADES)
PLACES = st.sampled_from([(), ("A",), ("A", "B"), ("B",)])
"""The areas a place falls in at one moment (areas are drawn, redrawn, removed, loaded late)."""


@st.composite
def incident_event(draw: st.DrawFn) -> IncidentEvent:
    """Any event of one of a few incidents, possible or not given the others."""
    kind = draw(st.sampled_from(INCIDENT_EVENT_KINDS))
    grade = draw(st.sampled_from(GRADES)) if kind == "graded" else draw(MAYBE_GRADE)
    return IncidentEvent(
        draw(st.sampled_from(INCIDENT_IDS)),
        kind,
        T0 + 60 * draw(st.integers(0, 6)),
        grade,
        "burglary" if kind == "opened" else None,
        LAT if kind == "opened" else None,
        LON if kind == "opened" else None,
        frozenset({"B21"}) if kind in ("assigned", "arrived") else frozenset(),
    )


@st.composite
def deliveries(draw: st.DrawFn, events: Sequence[IncidentEvent]) -> list[IncidentEvent]:
    """``events`` in any order, some of them delivered again later."""
    shuffled = draw(st.permutations(events))
    for again in draw(st.lists(st.sampled_from(shuffled), max_size=4)) if shuffled else []:
        position = draw(st.integers(shuffled.index(again) + 1, len(shuffled)))
        shuffled.insert(position, again)
    return shuffled


def keep_counts(
    delivered: Sequence[IncidentEvent], places: Sequence[tuple[str, ...]]
) -> tuple[dict[str, IncidentState], list[OpenCounts]]:
    """The states and the open counts after each delivery, as the demand engine keeps them:
    impossible events rejected, each incident placed in the areas of its place when counted."""
    states: dict[str, IncidentState] = {}
    counts = OpenCounts()
    history = []
    for one, areas in zip(delivered, places, strict=True):
        try:
            state, _ = apply_incident(states.get(one.incident_id), one)
        except Rejected:
            continue
        states[one.incident_id] = attribute(state, areas)
        counts.count(one.incident_id, open_incident_keys(states[one.incident_id]))
        history.append(OpenCounts(Counter(counts.counts), dict(counts.keys)))
    return states, history


def counts_of(states: Iterable[IncidentState]) -> Counter[tuple[str, str]]:
    return Counter(key for state in states for key in open_incident_keys(state))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), events=st.lists(incident_event(), max_size=14))
def test_open_counts_are_those_of_the_current_states_and_never_negative(
    data: st.DataObject, events: list[IncidentEvent]
) -> None:
    delivered = data.draw(deliveries(events))
    places = data.draw(st.lists(PLACES, min_size=len(delivered), max_size=len(delivered)))
    states, history = keep_counts(delivered, places)
    for counts in history:
        assert all(count > 0 for count in counts.counts.values())
    final = history[-1].counts if history else Counter()
    assert final == counts_of(states.values())


@settings(max_examples=300, deadline=None)
@given(data=st.data(), events=st.lists(incident_event(), max_size=14))
def test_repeated_events_change_no_open_count(
    data: st.DataObject, events: list[IncidentEvent]
) -> None:
    places = data.draw(st.lists(PLACES, min_size=len(events), max_size=len(events)))
    once, counted_once = keep_counts(events, places)
    twice, counted_twice = keep_counts(
        [e for one in events for e in (one, one)], [a for area in places for a in (area, area)]
    )
    assert twice == once
    assert (counted_twice[-1].counts if counted_twice else Counter()) == (
        counted_once[-1].counts if counted_once else Counter()
    )


@st.composite
def consistent_history(draw: st.DrawFn, incident_id: str) -> list[IncidentEvent]:
    """One incident opened, graded, assigned and maybe closed (events of one incident that no
    order makes impossible)."""
    events = [
        IncidentEvent(incident_id, "opened", T0, draw(MAYBE_GRADE), "burglary", LAT, LON),
        IncidentEvent(
            incident_id, "graded", T0 + draw(st.integers(1, 600)), draw(st.sampled_from(GRADES))
        ),
        IncidentEvent(incident_id, "assigned", T0 + 700, callsigns=frozenset({"B21"})),
    ]
    if draw(st.booleans()):
        events.append(IncidentEvent(incident_id, "closed", T0 + 900, draw(MAYBE_GRADE)))
    return events


@settings(max_examples=300, deadline=None)
@given(data=st.data(), incidents=st.integers(1, len(INCIDENT_IDS)))
def test_any_order_of_consistent_histories_gives_the_open_counts_of_time_order(
    data: st.DataObject, incidents: int
) -> None:
    events = [
        one
        for incident_id in INCIDENT_IDS[:incidents]
        for one in data.draw(consistent_history(incident_id))
    ]
    delivered = data.draw(deliveries(events))
    states, history = keep_counts(delivered, [("A",)] * len(delivered))
    in_order, in_order_history = keep_counts(
        sorted(events, key=lambda one: one.ts), [("A",)] * len(events)
    )
    assert states == in_order
    assert history[-1].counts == in_order_history[-1].counts == counts_of(in_order.values())


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    incidents=st.integers(1, len(INCIDENT_IDS)),
    at=st.floats(min_value=T0 - 60, max_value=T0 + 1200),
)
def test_the_open_counts_at_a_time_are_those_the_events_up_to_it_give(
    data: st.DataObject, incidents: int, at: float
) -> None:
    events = [
        one
        for incident_id in INCIDENT_IDS[:incidents]
        for one in data.draw(consistent_history(incident_id))
    ]
    places = data.draw(st.lists(PLACES, min_size=len(events), max_size=len(events)))
    everything, _ = keep_counts(events, places)
    up_to = [(one, area) for one, area in zip(events, places, strict=True) if one.ts <= at]
    read_by_then, _ = keep_counts([one for one, _ in up_to], [area for _, area in up_to])
    as_of = open_counts_at(everything.values(), at)
    flat = Counter({(a, g): n for a, by_grade in as_of.items() for g, n in by_grade.items()})
    assert flat == counts_of(read_by_then.values())
