"""Behaviour of CAD incidents, crimes and stop-searches: decoding and the incident lifecycle."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import SCHEMA_DIR, validation_errors
from streams.domain.incidents import (
    GRADES,
    CrimeRecorded,
    FirstArrival,
    FirstArrivalRetracted,
    Grade,
    IncidentAssigned,
    IncidentClosed,
    IncidentEvent,
    IncidentEventKind,
    IncidentFact,
    IncidentOpened,
    IncidentRegraded,
    IncidentState,
    IncidentUnassigned,
    StopSearchRecorded,
    apply_incident,
    assignments,
    attribute,
    decode_crime,
    decode_incident,
    decode_stop_search,
    incident_from_dict,
    incident_to_dict,
)
from streams.domain.validation import Rejected, TimeLimits

NOW = datetime(2026, 11, 21, 22, 0, tzinfo=UTC).timestamp()
LIMITS = TimeLimits(max_future_skew_s=30, max_age_s=86400, max_message_bytes=65536)
T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC).timestamp()
LAT, LON = 52.4751, -1.8839
INCIDENT = "INC-1"
DECODERS = {
    "cad.incidents": decode_incident,
    "crimes.recorded": decode_crime,
    "stopsearch.events": decode_stop_search,
}


# ---- factories -------------------------------------------------------------------------------


def event(
    kind: IncidentEventKind,
    at: float,
    grade: Grade | None = None,
    callsigns: Iterable[str] = (),
) -> IncidentEvent:
    """An event of incident INC-1 ``at`` seconds after T0; opened carries place and category."""
    opened = kind == "opened"
    return IncidentEvent(
        INCIDENT,
        kind,
        T0 + at,
        grade=grade,
        category="burglary" if opened else None,
        lat=LAT if opened else None,
        lon=LON if opened else None,
        callsigns=frozenset(callsigns),
    )


def run(
    events: Sequence[IncidentEvent], state: IncidentState | None = None
) -> tuple[IncidentState, list[IncidentFact]]:
    """Apply ``events`` in order; the final state and every fact."""
    facts: list[IncidentFact] = []
    for one in events:
        state, new_facts = apply_incident(state, one)
        facts.extend(new_facts)
    assert state is not None
    return state, facts


def tally(facts: Iterable[IncidentFact]) -> dict[str, Counter[object]]:
    """What a demand consumer following the incidents module docstring ends up holding."""
    counts: dict[str, Counter[object]] = {
        "open": Counter(),
        "opened": Counter(),
        "samples": Counter(),
        "assigned": Counter(),
    }
    for fact in facts:
        if isinstance(fact, IncidentOpened):
            counts["open"][fact.grade] += 1
            counts["opened"][(int(fact.ts // 60), fact.grade)] += 1
        elif isinstance(fact, IncidentRegraded):
            minute = int(fact.opened_ts // 60)
            counts["opened"][(minute, fact.old_grade)] -= 1
            counts["opened"][(minute, fact.new_grade)] += 1
            if fact.open:
                counts["open"][fact.old_grade] -= 1
                counts["open"][fact.new_grade] += 1
        elif isinstance(fact, IncidentClosed):
            counts["open"][fact.grade] -= 1
        elif isinstance(fact, FirstArrival):
            counts["samples"][(fact.ts, fact.response_seconds)] += 1
        elif isinstance(fact, FirstArrivalRetracted):
            counts["samples"][(fact.ts, fact.response_seconds)] -= 1
        elif isinstance(fact, IncidentAssigned):
            counts["assigned"].update(fact.callsigns)
        else:
            counts["assigned"].subtract(fact.callsigns)
    return {name: +counter for name, counter in counts.items()}


def contribution(state: IncidentState) -> dict[str, Counter[object]]:
    """What the final state alone says the consumer should hold."""
    counts: dict[str, Counter[object]] = {
        "open": Counter(),
        "opened": Counter(),
        "samples": Counter(),
        "assigned": Counter(assignments(state)),
    }
    if state.opened_ts is not None:
        counts["opened"][(int(state.opened_ts // 60), state.grade_label)] = 1
        if state.closed_ts is None:
            counts["open"][state.grade_label] = 1
        if state.first_arrival_ts is not None:
            sample = (state.first_arrival_ts, state.first_arrival_ts - state.opened_ts)
            counts["samples"][sample] = 1
    return counts


def rejection(state: IncidentState | None, one: IncidentEvent) -> str:
    with pytest.raises(Rejected) as caught:
        apply_incident(state, one)
    assert caught.value.rejection.reason == "impossible_event"
    return caught.value.rejection.detail


# ---- decoding --------------------------------------------------------------------------------


def _examples(topic: str, valid: bool) -> list[tuple[str, dict[str, object]]]:
    folder = SCHEMA_DIR / "examples" / ("" if valid else "invalid") / topic
    return [
        (topic, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(Path(folder).glob("*.json"))
    ]


GOOD_EXAMPLES = [example for topic in DECODERS for example in _examples(topic, valid=True)]
BAD_EXAMPLES = [example for topic in DECODERS for example in _examples(topic, valid=False)]


def decodes(topic: str, value: object) -> bool:
    try:
        DECODERS[topic](None, orjson.dumps(value), None, LIMITS)
    except Rejected:
        return False
    return True


@pytest.mark.parametrize(("topic", "value"), GOOD_EXAMPLES)
def test_every_valid_example_decodes_and_validates(topic: str, value: dict[str, object]) -> None:
    assert validation_errors(topic, value) == []
    assert decodes(topic, value)


@pytest.mark.parametrize(("topic", "value"), BAD_EXAMPLES)
def test_every_invalid_example_is_rejected_by_both(topic: str, value: dict[str, object]) -> None:
    assert validation_errors(topic, value) != []
    assert not decodes(topic, value)


def opened_value(**fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "incident_id": INCIDENT,
        "event": "opened",
        "ts": "2026-11-21T21:59:00Z",
        "category": "burglary",
        "lat": LAT,
        "lon": LON,
    }
    value.update(fields)
    return {name: field for name, field in value.items() if field is not None}


def crime_value(**fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "crime_id": "CRM-1",
        "ts": "2026-11-21T21:59:00Z",
        "lat": LAT,
        "lon": LON,
        "category": "robbery",
    }
    value.update(fields)
    return {name: field for name, field in value.items() if field is not None}


def search_value(**fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "id": "SS-1",
        "ts": "2026-11-21T21:59:00Z",
        "lat": LAT,
        "lon": LON,
        "object_of_search": "controlled_drugs",
        "outcome": "arrest",
    }
    value.update(fields)
    return {name: field for name, field in value.items() if field is not None}


SHAPE_CASES: list[tuple[str, dict[str, object]]] = [
    ("cad.incidents", opened_value()),
    ("cad.incidents", opened_value(grade="immediate", callsigns=["B21"])),
    ("cad.incidents", opened_value(event="graded", grade="priority", lat=None, lon=None)),
    ("cad.incidents", opened_value(event="graded", category=None, lat=None, lon=None)),
    ("cad.incidents", opened_value(event="closed", category=None, lat=None, lon=None)),
    ("cad.incidents", opened_value(event="arrived", callsigns=[])),
    ("cad.incidents", opened_value(event="assigned", callsigns=["B21", "B24"])),
    ("cad.incidents", opened_value(event="assigned", callsigns=["B21", "B21"])),
    ("cad.incidents", opened_value(event="assigned", callsigns=["B 21"])),
    ("cad.incidents", opened_value(event="assigned", callsigns="B21")),
    ("cad.incidents", opened_value(event="assigned")),
    ("cad.incidents", opened_value(lat=None)),
    ("cad.incidents", opened_value(category=None)),
    ("cad.incidents", opened_value(category="")),
    ("cad.incidents", opened_value(category="x" * 257)),
    ("cad.incidents", opened_value(grade="urgent")),
    ("cad.incidents", opened_value(event="reopened")),
    ("cad.incidents", opened_value(lon="-1.88")),
    ("cad.incidents", opened_value(lat=91.0)),
    ("cad.incidents", opened_value(ts="21/11/2026")),
    ("cad.incidents", opened_value(caller="J Smith")),
    ("cad.incidents", opened_value(schema="cad.incidents/1")),
    ("crimes.recorded", crime_value()),
    ("crimes.recorded", crime_value(incident_id=INCIDENT)),
    ("crimes.recorded", crime_value(incident_id="")),
    ("crimes.recorded", crime_value(category=None)),
    ("crimes.recorded", crime_value(lat=True)),
    ("crimes.recorded", crime_value(lon=-181)),
    ("crimes.recorded", crime_value(schema="crimes.recorded/1")),
    ("stopsearch.events", search_value()),
    ("stopsearch.events", search_value(callsign="B21")),
    ("stopsearch.events", search_value(callsign="")),
    ("stopsearch.events", search_value(outcome=None)),
    ("stopsearch.events", search_value(object_of_search="")),
    ("stopsearch.events", search_value(id="SS 1")),
    ("stopsearch.events", search_value(lat=-90.5)),
]


@pytest.mark.parametrize(("topic", "value"), SHAPE_CASES)
def test_decoders_and_json_schemas_agree(topic: str, value: dict[str, object]) -> None:
    assert decodes(topic, value) == (validation_errors(topic, value) == [])


def test_a_decoded_incident_event_carries_every_field() -> None:
    raw = orjson.dumps(opened_value(grade="immediate", callsigns=["B21", "B24"]))
    decoded = decode_incident(INCIDENT.encode(), raw, NOW, LIMITS)
    assert decoded == IncidentEvent(
        INCIDENT,
        "opened",
        NOW - 60,
        "immediate",
        "burglary",
        LAT,
        LON,
        frozenset({"B21", "B24"}),
    )


def test_decoded_crimes_and_stop_searches_carry_every_field() -> None:
    crime = decode_crime(b"CRM-1", orjson.dumps(crime_value(incident_id=INCIDENT)), NOW, LIMITS)
    search = decode_stop_search(b"SS-1", orjson.dumps(search_value(callsign="B21")), NOW, LIMITS)
    assert crime == CrimeRecorded("CRM-1", NOW - 60, LAT, LON, "robbery", INCIDENT)
    assert search == StopSearchRecorded(
        "SS-1", NOW - 60, LAT, LON, "controlled_drugs", "arrest", "B21"
    )


@pytest.mark.parametrize(
    ("topic", "key", "raw", "reason"),
    [
        ("cad.incidents", None, b'{"incident_id": ', "invalid_json"),
        ("crimes.recorded", None, b"[" * 70000, "oversized"),
        ("stopsearch.events", None, None, "invalid_schema"),
        ("cad.incidents", b"INC-2", orjson.dumps(opened_value()), "invalid_schema"),
        ("crimes.recorded", b"CRM-2", orjson.dumps(crime_value()), "invalid_schema"),
        ("stopsearch.events", b"SS-2", orjson.dumps(search_value()), "invalid_schema"),
        ("cad.incidents", None, orjson.dumps(opened_value(lat=123.0)), "invalid_coordinates"),
        ("crimes.recorded", None, orjson.dumps(crime_value(lon=200)), "invalid_coordinates"),
        (
            "stopsearch.events",
            None,
            orjson.dumps(search_value(lat=0, lon=0)),
            "invalid_coordinates",
        ),
        (
            "cad.incidents",
            None,
            orjson.dumps(opened_value(ts="2026-11-21T22:05:00Z")),
            "future_timestamp",
        ),
        (
            "crimes.recorded",
            None,
            orjson.dumps(crime_value(ts="2026-11-19T22:00:00Z")),
            "stale_timestamp",
        ),
        (
            "stopsearch.events",
            None,
            orjson.dumps(search_value(schema="stopsearch.events/2")),
            "wrong_schema_version",
        ),
        (
            "cad.incidents",
            None,
            orjson.dumps(opened_value(schema="crimes.recorded/1")),
            "wrong_schema_version",
        ),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(
    topic: str, key: bytes | None, raw: bytes | None, reason: str
) -> None:
    with pytest.raises(Rejected) as caught:
        DECODERS[topic](key, raw, NOW, LIMITS)
    assert caught.value.rejection.reason == reason


def test_a_graded_event_without_a_grade_decodes_but_cannot_be_applied() -> None:
    decoded = decode_incident(
        None,
        orjson.dumps({"incident_id": INCIDENT, "event": "graded", "ts": "2026-11-21T21:59:00Z"}),
        NOW,
        LIMITS,
    )
    assert "grade" in rejection(None, decoded)


# ---- lifecycle in order ----------------------------------------------------------------------


def test_an_incident_in_order_goes_through_every_stage() -> None:
    stages = [
        event("opened", 0),
        event("graded", 60, "immediate"),
        event("assigned", 120, callsigns=["B21", "B24"]),
        event("arrived", 600, callsigns=["B21"]),
        event("closed", 3600),
    ]
    state: IncidentState | None = None
    seen_status = []
    all_facts: list[list[IncidentFact]] = []
    for stage in stages:
        state, facts = apply_incident(state, stage)
        seen_status.append(state.status)
        all_facts.append(facts)
    assert seen_status == ["opened", "graded", "assigned", "arrived", "closed"]
    assert all_facts == [
        [IncidentOpened(INCIDENT, "ungraded", "burglary", T0, LAT, LON)],
        [
            IncidentRegraded(
                INCIDENT, "ungraded", "immediate", T0 + 60, T0, "burglary", LAT, LON, open=True
            )
        ],
        [IncidentAssigned(INCIDENT, frozenset({"B21", "B24"}), T0 + 120)],
        [FirstArrival(INCIDENT, 600.0, T0 + 600, LAT, LON)],
        [
            IncidentUnassigned(INCIDENT, frozenset({"B21", "B24"}), T0 + 3600),
            IncidentClosed(INCIDENT, "immediate", T0 + 3600, LAT, LON),
        ],
    ]
    assert state is not None
    assert (state.grade, state.category, state.lat, state.lon) == (
        "immediate",
        "burglary",
        LAT,
        LON,
    )
    assert (state.opened_ts, state.first_arrival_ts, state.closed_ts) == (T0, T0 + 600, T0 + 3600)
    assert state.grades == ((T0 + 60, "immediate"),)
    assert assignments(state) == frozenset()
    assert state.callsigns == frozenset({"B21", "B24"})


def test_regrading_moves_the_incident_and_keeps_the_history() -> None:
    state, facts = run([event("opened", 0, "priority"), event("graded", 300, "immediate")])
    assert facts[-1] == IncidentRegraded(
        INCIDENT, "priority", "immediate", T0 + 300, T0, "burglary", LAT, LON, open=True
    )
    assert state.grades == ((T0, "priority"), (T0 + 300, "immediate"))
    assert state.grade == "immediate"


def test_a_late_older_grading_does_not_change_the_current_grade() -> None:
    state, _ = run([event("opened", 0), event("graded", 300, "immediate")])
    state, facts = apply_incident(state, event("graded", 100, "scheduled"))
    assert facts == []
    assert state.grade == "immediate"
    assert [grade for _, grade in state.grades] == ["scheduled", "immediate"]


def test_two_grades_at_the_same_time_resolve_to_the_more_urgent() -> None:
    one, _ = run(
        [event("opened", 0), event("graded", 60, "scheduled"), event("closed", 60, "priority")]
    )
    other, _ = run(
        [event("opened", 0), event("closed", 60, "priority"), event("graded", 60, "scheduled")]
    )
    assert one == other
    assert one.grade == "priority"


def test_later_assignments_add_callsigns_and_arrivals_count_as_committed() -> None:
    state, facts = run(
        [
            event("opened", 0),
            event("assigned", 60, callsigns=["B21"]),
            event("arrived", 300, callsigns=["B24"]),
            event("assigned", 400, callsigns=["B21", "B30"]),
        ]
    )
    assert assignments(state) == frozenset({"B21", "B24", "B30"})
    assert [fact.callsigns for fact in facts if isinstance(fact, IncidentAssigned)] == [
        frozenset({"B21"}),
        frozenset({"B24"}),
        frozenset({"B30"}),
    ]


# ---- out of order ----------------------------------------------------------------------------


def test_closed_before_opened_counts_it_opened_but_never_open() -> None:
    state, facts = apply_incident(None, event("closed", 3600))
    assert facts == []
    assert (state.status, state.counted) == ("closed", False)
    state, facts = apply_incident(state, event("opened", 0, "priority"))
    assert facts == [
        IncidentOpened(INCIDENT, "priority", "burglary", T0, LAT, LON),
        IncidentClosed(INCIDENT, "priority", T0 + 3600, LAT, LON),
    ]
    assert tally(facts) == contribution(state)
    assert tally(facts)["open"] == Counter()


def test_an_orphan_arrival_is_recorded_and_assigned_but_counted_nowhere() -> None:
    orphan = IncidentEvent(
        INCIDENT, "arrived", T0 + 600, lat=LAT, lon=LON, callsigns=frozenset({"B21"})
    )
    state, facts = apply_incident(None, orphan)
    assert facts == [IncidentAssigned(INCIDENT, frozenset({"B21"}), T0 + 600)]
    assert (state.status, state.counted, state.lat, state.lon) == ("arrived", False, None, None)
    assert state.first_arrival_ts == T0 + 600
    assert assignments(state) == frozenset({"B21"})
    state, facts = apply_incident(state, event("opened", 0))
    assert facts == [
        IncidentOpened(INCIDENT, "ungraded", "burglary", T0, LAT, LON),
        FirstArrival(INCIDENT, 600.0, T0 + 600, LAT, LON),
    ]


def test_an_orphan_close_of_an_unknown_incident_is_a_consistent_record() -> None:
    state, facts = run([event("arrived", 600, callsigns=["B21"]), event("closed", 900)])
    assert facts[-1] == IncidentUnassigned(INCIDENT, frozenset({"B21"}), T0 + 900)
    assert (state.status, state.counted, state.closed_ts) == ("closed", False, T0 + 900)
    assert assignments(state) == frozenset()
    assert tally(facts) == contribution(state) == {name: Counter() for name in tally([])}


def test_graded_before_opened_opens_it_under_that_grade() -> None:
    state, facts = run([event("graded", 60, "immediate"), event("opened", 0, "priority")])
    assert facts == [IncidentOpened(INCIDENT, "immediate", "burglary", T0, LAT, LON)]
    assert state.grade == "immediate"


def test_an_earlier_arrival_arriving_late_replaces_the_first_arrival() -> None:
    _, facts = run(
        [
            event("opened", 0),
            event("arrived", 900, callsigns=["B24"]),
            event("arrived", 600, callsigns=["B21"]),
        ]
    )
    assert facts[-2:] == [
        FirstArrivalRetracted(INCIDENT, 900.0, T0 + 900, LAT, LON),
        FirstArrival(INCIDENT, 600.0, T0 + 600, LAT, LON),
    ]
    assert tally(facts)["samples"] == Counter({(T0 + 600, 600.0): 1})


def test_an_assignment_arriving_after_the_close_commits_nobody() -> None:
    state, facts = run(
        [event("opened", 0), event("closed", 900), event("assigned", 60, callsigns=["B21"])]
    )
    assert not any(isinstance(fact, IncidentAssigned) for fact in facts)
    assert assignments(state) == frozenset()
    assert state.callsigns == frozenset({"B21"})


def test_a_grading_arriving_after_the_close_moves_the_opened_count_only() -> None:
    state, facts = run([event("opened", 0), event("closed", 900), event("graded", 60, "priority")])
    assert facts[-1] == IncidentRegraded(
        INCIDENT, "ungraded", "priority", T0 + 60, T0, "burglary", LAT, LON, open=False
    )
    assert tally(facts) == contribution(state)


def test_a_close_carrying_a_new_grade_regrades_then_closes() -> None:
    _, facts = run([event("opened", 0, "scheduled"), event("closed", 900, "resolution")])
    assert facts == [
        IncidentOpened(INCIDENT, "scheduled", "burglary", T0, LAT, LON),
        IncidentRegraded(
            INCIDENT, "scheduled", "resolution", T0 + 900, T0, "burglary", LAT, LON, open=True
        ),
        IncidentClosed(INCIDENT, "resolution", T0 + 900, LAT, LON),
    ]


def test_location_and_category_come_from_the_opened_event_only() -> None:
    elsewhere = IncidentEvent(
        INCIDENT,
        "arrived",
        T0 + 60,
        category="theft",
        lat=52.5,
        lon=-1.9,
        callsigns=frozenset({"B21"}),
    )
    state, _ = run([elsewhere, event("opened", 0)])
    assert (state.category, state.lat, state.lon) == ("burglary", LAT, LON)


# ---- duplicates ------------------------------------------------------------------------------


def test_a_duplicate_changes_nothing_even_with_other_content() -> None:
    state, _ = run([event("opened", 0), event("assigned", 60, callsigns=["B21"])])
    again, facts = apply_incident(state, event("assigned", 60, callsigns=["B99"]))
    assert (again, facts) == (state, [])


def test_a_duplicate_of_the_first_event_changes_nothing() -> None:
    state, _ = apply_incident(None, event("closed", 900))
    assert apply_incident(state, event("closed", 900)) == (state, [])


# ---- impossible events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "detail"),
    [
        (event("opened", 0), event("opened", 10), "opened at"),
        (event("closed", 900), event("closed", 1000), "closed at"),
        (event("opened", 100), event("arrived", 50, callsigns=["B21"]), "before the opening"),
        (event("opened", 100), event("closed", 50), "before the opening"),
        (event("opened", 100), event("graded", 50, "immediate"), "before the opening"),
        (event("opened", 100), event("assigned", 50, callsigns=["B21"]), "before the opening"),
        (event("closed", 900), event("assigned", 901, callsigns=["B21"]), "after the close"),
        (event("closed", 900), event("arrived", 901, callsigns=["B21"]), "after the close"),
        (event("closed", 900), event("graded", 900 + 86400.5, "priority"), "over 24 h"),
    ],
)
def test_impossible_combinations_are_rejected_whichever_comes_second(
    first: IncidentEvent, second: IncidentEvent, detail: str
) -> None:
    state, _ = apply_incident(None, first)
    assert detail in rejection(state, second)
    reversed_state, _ = apply_incident(None, second)
    rejection(reversed_state, first)


def test_a_grade_correction_exactly_24_h_after_the_close_is_accepted() -> None:
    state, facts = run(
        [event("opened", 0), event("closed", 900), event("graded", 900 + 86400, "priority")]
    )
    assert state.grade == "priority"
    assert isinstance(facts[-1], IncidentRegraded)


def test_a_rejected_event_leaves_the_state_as_it_was() -> None:
    state, _ = run([event("opened", 100), event("closed", 900)])
    rejection(state, event("arrived", 1000, callsigns=["B21"]))
    assert state.first_arrival_ts is None


def test_an_event_of_another_incident_is_a_caller_mistake() -> None:
    state, _ = apply_incident(None, event("opened", 0))
    with pytest.raises(ValueError):
        apply_incident(state, IncidentEvent("INC-2", "closed", T0 + 60))


# ---- properties ------------------------------------------------------------------------------

CALLSIGN_SETS = st.frozensets(st.sampled_from(["B21", "B24", "B30", "C11"]), min_size=1)
MAYBE_GRADE = st.none() | st.sampled_from(GRADES)


@st.composite
def incident_histories(draw: st.DrawFn) -> list[IncidentEvent]:
    """A consistent set of one incident's events (maybe without opened, or without closed)."""
    events: list[IncidentEvent] = []
    if draw(st.booleans()):
        events.append(event("opened", 0, draw(MAYBE_GRADE)))
    for at in draw(st.sets(st.integers(0, 9000), max_size=4)):
        events.append(event("graded", at, draw(st.sampled_from(GRADES))))
    commitments: list[int] = []
    kinds: tuple[IncidentEventKind, ...] = ("assigned", "arrived")
    for kind in kinds:
        for at in draw(st.sets(st.integers(0, 7200), max_size=3)):
            commitments.append(at)
            events.append(event(kind, at, draw(MAYBE_GRADE), draw(CALLSIGN_SETS)))
    if draw(st.booleans()):
        events.append(
            event("closed", draw(st.integers(max(commitments, default=0), 8000)), draw(MAYBE_GRADE))
        )
    return events


@settings(max_examples=200, deadline=None)
@given(data=st.data(), history=incident_histories().filter(bool))
def test_any_arrival_order_gives_the_same_state_and_counts(
    data: st.DataObject, history: list[IncidentEvent]
) -> None:
    in_time_order = sorted(history, key=lambda one: one.ts)
    shuffled = data.draw(st.permutations(history))
    expected_state, expected_facts = run(in_time_order)
    state, facts = run(shuffled)
    assert state == expected_state
    assert tally(facts) == tally(expected_facts) == contribution(state)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), history=incident_histories().filter(bool))
def test_a_duplicate_anywhere_changes_nothing(
    data: st.DataObject, history: list[IncidentEvent]
) -> None:
    duplicate = data.draw(st.sampled_from(history))
    position = data.draw(st.integers(history.index(duplicate) + 1, len(history)))
    with_duplicate = [*history[:position], duplicate, *history[position:]]
    state, facts = run(history)
    assert run(with_duplicate) == (state, facts)


def test_stored_incident_state_round_trips() -> None:
    state, _ = apply_incident(
        None,
        IncidentEvent("INC-1", "opened", 1000.0, "immediate", "assault", 52.48, -1.89),
    )
    state, _ = apply_incident(
        state, IncidentEvent("INC-1", "assigned", 1010.0, callsigns=frozenset({"B21"}))
    )
    assert incident_from_dict(incident_to_dict(state)) == state
    placed = attribute(state, ["ia-02", "ia-01"])
    assert placed.areas == ("ia-01", "ia-02")
    assert incident_from_dict(incident_to_dict(placed)) == placed
    outside = attribute(state, [])
    assert incident_from_dict(incident_to_dict(outside)) == outside != state


def test_a_state_stored_before_incidents_kept_their_areas_awaits_them() -> None:
    stored = incident_to_dict(run([event("opened", 0, "immediate")])[0])
    del stored["areas"]
    state = incident_from_dict(stored)
    assert state.awaiting_areas
    assert attribute(state, ["ia-01"]).areas == ("ia-01",)
