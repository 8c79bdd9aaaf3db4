"""Behaviour of the event-time joins of fixes with CAD assignments and roster versions."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.incidents import (
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
    apply_incident,
    attribute,
    incident_from_dict,
    incident_to_dict,
)
from streams.domain.joins import (
    BEGINNING,
    ROSTER_VERSIONS_KEPT,
    Assignment,
    RadioJoin,
    RosterVersion,
    add_version,
    areas_at,
    context_at,
    incident_assignments,
    version_at,
)
from streams.domain.tracks import FixContext

CALLSIGNS = ("K1", "K2", "K3")


def entry(callsign: str = "K1", role: str = "response", device: str = "handheld") -> dict[str, Any]:
    """A roster entry as stored."""
    return {"issi": "3200001", "callsign": callsign, "role": role, "device": device}


def incident(
    events: Iterable[tuple[IncidentEventKind, float, Sequence[str]]],
    incident_id: str = "INC-1",
    areas: Sequence[str] = ("A",),
) -> IncidentState:
    """The state of an incident after ``events`` (kind, ts, callsigns), located in ``areas``
    once counted (as the demand engine does)."""
    state: IncidentState | None = None
    for kind, ts, callsigns in events:
        state, _ = apply_incident(
            state,
            IncidentEvent(
                incident_id,
                kind,
                ts,
                category="burglary" if kind == "opened" else None,
                lat=52.0 if kind == "opened" else None,
                lon=-1.0 if kind == "opened" else None,
                callsigns=frozenset(callsigns),
            ),
        )
        state = attribute(state, areas)
    assert state is not None
    return state


# ---- assignments -----------------------------------------------------------------------------


def test_a_callsign_is_committed_from_its_first_assignment_until_the_close() -> None:
    state = incident(
        [
            ("opened", 0, ()),
            ("assigned", 60, ("K1",)),
            ("arrived", 300, ("K1", "K2")),
            ("assigned", 90, ("K1",)),
            ("closed", 900, ()),
        ]
    )

    assert incident_assignments(state) == {
        "K1": Assignment(frozenset({"A"}), 60, 900, category="burglary"),
        "K2": Assignment(frozenset({"A"}), 300, 900, category="burglary"),
    }


def test_an_open_incident_commits_its_callsigns_open_ended() -> None:
    state = incident([("opened", 0, ()), ("assigned", 60, ("K1",))])

    assert incident_assignments(state) == {
        "K1": Assignment(frozenset({"A"}), 60, None, category="burglary")
    }


def test_an_unlocated_incident_commits_to_no_area() -> None:
    state, _ = apply_incident(
        None, IncidentEvent("INC-1", "assigned", 60.0, callsigns=frozenset({"K1"}))
    )

    assert incident_assignments(state) == {"K1": Assignment(frozenset(), 60, None)}


def test_commitment_times_survive_storage() -> None:
    state = incident([("opened", 0, ()), ("assigned", 60, ("K1",)), ("arrived", 30, ("K2",))])

    assert incident_from_dict(incident_to_dict(state)) == state


def test_a_state_stored_without_commitment_times_commits_from_its_first_assignment() -> None:
    state = incident([("opened", 0, ()), ("assigned", 60, ("K1",)), ("arrived", 120, ("K2",))])
    stored = incident_to_dict(state)
    del stored["committed"]

    assert incident_assignments(incident_from_dict(stored)) == {
        "K1": Assignment(frozenset({"A"}), 60, None, category="burglary"),
        "K2": Assignment(frozenset({"A"}), 60, None, category="burglary"),
    }


@pytest.mark.parametrize(
    ("ts", "areas"),
    [
        (59.0, set()),
        (60.0, {"A"}),
        (200.0, {"A", "B"}),
        (599.0, {"A", "B"}),
        (600.0, {"B"}),
        (10_000.0, {"B"}),
    ],
)
def test_a_fix_is_assigned_the_areas_of_the_intervals_containing_it(
    ts: float, areas: set[str]
) -> None:
    intervals = [
        Assignment(frozenset({"A"}), 60, 600),
        Assignment(frozenset({"B"}), 100, None),
    ]

    assert areas_at(intervals, ts) == areas


# ---- roster versions ------------------------------------------------------------------------


def versions(*since_callsign: tuple[float, str]) -> tuple[RosterVersion, ...]:
    found: tuple[RosterVersion, ...] = ()
    for since, callsign in since_callsign:
        found = add_version(found, RosterVersion(since, entry(callsign)))
    return found


@pytest.mark.parametrize(
    ("ts", "callsign"),
    [
        (50.0, "K1"),  # before every version: the earliest
        (100.0, "K1"),
        (150.0, "K1"),
        (200.0, "K2"),
        (1e9, "K3"),
    ],
)
def test_a_fix_takes_the_roster_version_valid_at_its_time(ts: float, callsign: str) -> None:
    found = version_at(versions((300, "K3"), (100, "K1"), (200, "K2")), ts)

    assert found is not None
    assert found.entry["callsign"] == callsign


def test_an_entry_without_time_is_valid_from_the_beginning() -> None:
    found = version_at(versions((BEGINNING, "K1"), (100, "K2")), -1e12)

    assert found is not None
    assert found.entry["callsign"] == "K1"


def test_a_version_at_the_same_time_replaces_the_one_before() -> None:
    assert versions((100, "K1"), (100, "K2")) == (RosterVersion(100, entry("K2")),)


def test_only_the_latest_versions_are_kept() -> None:
    kept = versions(*((float(i), f"K{i}") for i in range(ROSTER_VERSIONS_KEPT + 3)))

    assert [version.since for version in kept] == [
        float(i) for i in range(3, ROSTER_VERSIONS_KEPT + 3)
    ]


def test_a_radio_not_on_the_roster_is_unknown() -> None:
    assert version_at((), 0.0) is None
    assert context_at((), {}, 0.0) == (None, FixContext(role="unknown", device="handheld"))


def test_a_fix_context_joins_the_version_and_its_callsign_assignments() -> None:
    history = versions((0, "K1"), (1000, "K2"))
    assigned = {
        "K1": (Assignment(frozenset({"A"}), 100, 500),),
        "K2": (Assignment(frozenset({"B"}), 900, None),),
    }

    assert RadioJoin(history, assigned).at(200) == (
        entry("K1"),
        FixContext("response", "handheld", "K1", frozenset({"A"})),
    )
    assert RadioJoin(history, assigned).at(950)[1].assigned_areas == frozenset()
    assert RadioJoin(history, assigned).at(1000)[1].assigned_areas == frozenset({"B"})


def test_a_roster_change_of_unit_applies_from_its_event_time_on() -> None:
    history = (
        RosterVersion(BEGINNING, {**entry("K1"), "unit": "East NPT"}),
        RosterVersion(1000.0, {**entry("K1"), "unit": "West Response"}),
    )
    join = RadioJoin(history, {})

    assert join.context(999.999).unit == "East NPT"
    assert join.context(1000.0).unit == "West Response"
    assert context_at(history, {}, 5000.0)[1] == FixContext(
        "response", "handheld", "K1", unit="West Response"
    )


def test_a_radio_with_one_version_and_no_assignment_has_one_context() -> None:
    join = RadioJoin(versions((BEGINNING, "K1")), {"K2": (Assignment(frozenset("A"), 0, None),)})

    assert join.at(0.0) is join.at(1e9)


# ---- the property: read before or after, the same context ------------------------------------


@st.composite
def incident_histories(draw: st.DrawFn) -> list[tuple[str, IncidentEvent]]:
    """Events of a few incidents: opened first, assignments and arrivals after, maybe a close
    after them all."""
    events: list[tuple[str, IncidentEvent]] = []
    for number in range(draw(st.integers(0, 3))):
        incident_id = f"INC-{number}"
        opened = draw(st.integers(0, 1000))
        events.append(
            (
                incident_id,
                IncidentEvent(
                    incident_id, "opened", float(opened), category="c", lat=52.0, lon=-1.0
                ),
            )
        )
        latest = opened
        for offset in draw(st.lists(st.integers(0, 1000), unique=True, max_size=4)):
            ts = opened + offset  # an event is identified by its kind and time: one per time
            latest = max(latest, ts)
            kind: IncidentEventKind = draw(st.sampled_from(["assigned", "arrived"]))
            callsigns = draw(st.sets(st.sampled_from(CALLSIGNS), min_size=1))
            events.append(
                (incident_id, IncidentEvent(incident_id, kind, float(ts), callsigns=callsigns))
            )
        if draw(st.booleans()):
            closed = latest + draw(st.integers(0, 1000))
            events.append((incident_id, IncidentEvent(incident_id, "closed", float(closed))))
    return events


def assignments_of(events: Iterable[tuple[str, IncidentEvent]]) -> dict[str, list[Assignment]]:
    """Every callsign's intervals after ``events`` (any order), as the demand engine stores
    them: each incident located in an area named after it."""
    states: dict[str, IncidentState] = {}
    for incident_id, event in events:
        state, _ = apply_incident(states.get(incident_id), event)
        states[incident_id] = attribute(state, [f"area-{incident_id}"])
    by_callsign: dict[str, list[Assignment]] = defaultdict(list)
    for state in states.values():
        for callsign, interval in incident_assignments(state).items():
            by_callsign[callsign].append(interval)
    return by_callsign


def roster_of(history: Sequence[RosterVersion]) -> tuple[RosterVersion, ...]:
    found: tuple[RosterVersion, ...] = ()
    for version in history:
        found = add_version(found, version)
    return found


@settings(max_examples=300, deadline=None)
@given(
    cad=incident_histories(),
    roster_times=st.lists(st.integers(0, 3000), min_size=1, max_size=ROSTER_VERSIONS_KEPT),
    roster_callsigns=st.lists(st.sampled_from(CALLSIGNS), min_size=ROSTER_VERSIONS_KEPT),
    fix_ts=st.integers(0, 3500),
    cad_read=st.randoms(use_true_random=False),
    roster_ahead=st.integers(0, ROSTER_VERSIONS_KEPT),
)
def test_a_fix_gets_the_context_of_the_full_history_whatever_was_read_ahead(
    cad: list[tuple[str, IncidentEvent]],
    roster_times: list[int],
    roster_callsigns: list[str],
    fix_ts: int,
    cad_read: Any,
    roster_ahead: int,
) -> None:
    """CAD events are read in any order, with any of those after the fix read or not; roster
    versions in their order, with any number of those after the fix read or not."""
    ts = float(fix_ts)
    times = sorted(set(roster_times))
    history = [
        RosterVersion(BEGINNING if i == 0 and since % 2 else float(since), entry(callsign))
        for i, (since, callsign) in enumerate(zip(times, roster_callsigns, strict=False))
    ]
    due = sum(1 for version in history if version.since <= ts)
    roster_read = history[: max(1, due + roster_ahead)]
    cad_due = [item for item in cad if item[1].ts <= ts]
    cad_ahead = [item for item in cad if item[1].ts > ts and cad_read.random() < 0.5]
    read = cad_due + cad_ahead
    cad_read.shuffle(read)

    full = context_at(roster_of(history), freeze(assignments_of(cad)), ts)
    as_read = RadioJoin(roster_of(roster_read), freeze(assignments_of(read))).at(ts)

    assert as_read == full


def freeze(found: Mapping[str, list[Assignment]]) -> dict[str, tuple[Assignment, ...]]:
    return {callsign: tuple(intervals) for callsign, intervals in found.items()}


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(0, 100), unique=True, max_size=20),
    order=st.randoms(use_true_random=False),
)
def test_roster_versions_kept_are_the_latest_whatever_the_read_order(
    times: list[int], order: Any
) -> None:
    history = [RosterVersion(float(t), entry(f"K{t}")) for t in times]
    shuffled = list(history)
    order.shuffle(shuffled)

    assert roster_of(shuffled) == roster_of(sorted(history, key=lambda v: v.since))
    assert len(roster_of(shuffled)) == min(len(times), ROSTER_VERSIONS_KEPT)


def test_an_assignment_contains_its_start_not_its_end() -> None:
    interval = Assignment(frozenset({"A"}), 10, 20)

    assert (interval.contains(10), interval.contains(19.999), interval.contains(20)) == (
        True,
        True,
        False,
    )
    assert Assignment(frozenset({"A"}), BEGINNING, None).contains(-math.inf)
