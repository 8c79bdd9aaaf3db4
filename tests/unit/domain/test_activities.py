"""Behaviour of activities: the incident category of reactive presence and stop-searches.

Reactive presence carries the category of the incident attended; a stop-search by the officer's
callsign, in the area, during a visit marks the visit and the dose of its minute
``stop_search``, whichever of the stop-search and the pings is read first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streams.domain.demand import crime_areas, demand_changes
from streams.domain.harm import DEFAULT_HARM_WEIGHTS
from streams.domain.incidents import (
    CrimeRecorded,
    IncidentEvent,
    IncidentState,
    apply_incident,
    attribute,
)
from streams.domain.joins import (
    Assignment,
    RadioJoin,
    RosterVersion,
    StopSearchMark,
    context_at,
    incident_assignments,
    incident_categories_at,
    stop_searches_near,
)
from streams.domain.publication import visit_value
from streams.domain.tracks import (
    DoseAccrued,
    FixContext,
    advance,
    new_track,
    recontext,
    track_from_json,
    track_to_json,
)
from tests.unit.domain.test_tracks import (
    CAR,
    IN_A,
    INDEX,
    ISSI,
    OUTSIDE,
    POLICY,
    T0,
    dose_by_minute,
    feed,
    stay,
    visits,
)

ROSTER = (RosterVersion(0.0, {"callsign": "RV1", "role": "response", "device": "vehicle"}),)


def stop_search_at(at_s: float, areas: frozenset[str] = frozenset({"A"})) -> StopSearchMark:
    return StopSearchMark(ts=T0 + at_s, areas=areas)


def doses(facts: list[Any]) -> list[DoseAccrued]:
    return [fact for fact in facts if isinstance(fact, DoseAccrued)]


# ---- the category of the incident attended ---------------------------------------------------


def test_reactive_visit_carries_incident_category() -> None:
    attending = replace(
        CAR, assigned_areas=frozenset({"A"}), incident_categories=(("A", "burglary"),)
    )
    _, facts = feed([*stay(0, 600, 30, IN_A), *stay(630, 720, 30, OUTSIDE)], attending)
    (visit,) = visits(facts)
    assert (visit.activity, visit.incident_category) == ("reactive", "burglary")
    assert {(d.activity, d.incident_category) for d in doses(facts)} == {("reactive", "burglary")}
    published = visit_value(b"key", visit)
    assert (published["incident_category"], published["stop_search"]) == ("burglary", False)


def test_proactive_visit_has_no_incident_category() -> None:
    _, facts = feed([*stay(0, 600, 30, IN_A), *stay(630, 720, 30, OUTSIDE)], CAR)
    (visit,) = visits(facts)
    assert (visit.activity, visit.incident_category) == ("proactive", None)
    assert {d.incident_category for d in doses(facts)} == {None}


def test_a_mostly_proactive_visit_carries_the_category_of_the_incident_it_attended() -> None:
    fixes = stay(0, 900, 30, IN_A)
    attending = replace(
        CAR, assigned_areas=frozenset({"A"}), incident_categories=(("A", "burglary"),)
    )
    contexts = [CAR] * 21 + [attending] * (len(fixes) - 21)  # the last 5 of 15 minutes
    _, facts = feed([*fixes, *stay(930, 1020, 30, OUTSIDE)], [*contexts, *[CAR] * 4])
    (visit,) = visits(facts)
    assert (visit.activity, visit.incident_category) == ("proactive", "burglary")


def test_a_visit_attending_two_incidents_carries_the_one_attended_longest() -> None:
    fixes = stay(0, 900, 30, IN_A)
    first = replace(CAR, assigned_areas=frozenset({"A"}), incident_categories=(("A", "theft"),))
    second = replace(first, incident_categories=(("A", "assault"),))
    contexts = [first] * 10 + [second] * (len(fixes) - 10)
    _, facts = feed([*fixes, *stay(930, 1020, 30, OUTSIDE)], [*contexts, *[CAR] * 4])
    (visit,) = visits(facts)
    assert visit.incident_category == "assault"  # 300 s of theft, 600 s of assault


def test_the_incident_category_comes_from_the_cad_assignment() -> None:
    state = None
    for event in (
        IncidentEvent("INC-1", "opened", T0, category="burglary", lat=52.0, lon=-1.0),
        IncidentEvent("INC-1", "assigned", T0 + 60, callsigns=frozenset({"RV1"})),
    ):
        state, _ = apply_incident(state, event)
        state = attribute(state, ["A"])
    assert state is not None
    assignments = {"RV1": tuple(incident_assignments(state).values())}
    _, context = context_at(ROSTER, assignments, T0 + 120)
    assert context.assigned_areas == frozenset({"A"})
    assert context.incident_categories == (("A", "burglary"),)
    _, before = context_at(ROSTER, assignments, T0 + 30)
    assert (before.assigned_areas, before.incident_categories) == (frozenset(), ())


def test_an_assignment_before_the_opened_event_has_no_category_yet() -> None:
    state, _ = apply_incident(
        None, IncidentEvent("INC-1", "assigned", T0, callsigns=frozenset({"RV1"}))
    )
    (assignment,) = incident_assignments(state).values()
    assert assignment.category is None
    assert incident_categories_at([assignment], T0 + 1) == ()


def test_in_an_area_of_two_incidents_the_latest_commitment_gives_the_category() -> None:
    older = Assignment(frozenset({"A", "B"}), T0, None, category="theft")
    newer = Assignment(frozenset({"A"}), T0 + 60, None, category="assault")
    assert incident_categories_at([older, newer], T0 + 120) == (("A", "assault"), ("B", "theft"))
    assert incident_categories_at([newer, older], T0 + 120) == (("A", "assault"), ("B", "theft"))
    assert incident_categories_at([older, newer], T0 + 30) == (("A", "theft"), ("B", "theft"))


# ---- stop-searches -----------------------------------------------------------------------------


def joined(marks: list[StopSearchMark]) -> RadioJoin:
    return RadioJoin(ROSTER, {}, {"RV1": marks} if marks else {}, POLICY.max_gap_s)


def feed_joined(fixes: list[Any], join: RadioJoin) -> list[Any]:
    locations = INDEX.locate([f.lon for f in fixes], [f.lat for f in fixes])
    track, facts = new_track(ISSI), []
    for one_fix, location in zip(fixes, locations, strict=True):
        track, produced = advance(track, one_fix, location, join.context(one_fix.ts), POLICY)
        facts.extend(produced)
    return facts


VISIT_FIXES = [*stay(0, 600, 30, IN_A), *stay(630, 720, 30, OUTSIDE)]


def test_stop_search_by_callsign_during_visit_marks_it_stop_search() -> None:
    facts = feed_joined(VISIT_FIXES, joined([stop_search_at(185)]))
    (visit,) = visits(facts)
    assert visit.stop_search
    assert visit_value(b"key", visit)["stop_search"] is True
    marked = [d for d in doses(facts) if d.stop_search]
    # the dose of its minute: the segment between the fixes around it
    assert [(d.start - T0, d.end - T0) for d in marked] == [(180, 210)]


def test_a_stop_search_elsewhere_or_at_another_time_marks_nothing() -> None:
    for mark in (
        stop_search_at(185, frozenset({"B"})),  # by the callsign, in another area
        stop_search_at(-600),  # before the visit
        stop_search_at(1200),  # after it
    ):
        facts = feed_joined(VISIT_FIXES, joined([mark]))
        (visit,) = visits(facts)
        assert not visit.stop_search
        assert not any(d.stop_search for d in doses(facts))


def test_a_stop_search_by_another_callsign_marks_nothing() -> None:
    join = RadioJoin(ROSTER, {}, {"RV9": [stop_search_at(185)]}, POLICY.max_gap_s)
    (visit,) = visits(feed_joined(VISIT_FIXES, join))
    assert not visit.stop_search


def test_a_stop_search_marks_the_visit_when_it_is_committed() -> None:
    facts = feed_joined(VISIT_FIXES, joined([stop_search_at(185)]))
    published = [f.visit for f in facts if type(f).__name__ == "VisitRecorded"]
    assert [(v.status, v.stop_search) for v in published] == [
        ("open", False),
        ("open", True),  # a revision as soon as the stop-search dose counts
        ("open", True),  # qualifying
        ("closed", True),
    ]


def test_stop_search_arriving_after_the_visit_revises_it() -> None:
    """The pings are read first (the visit is published without it), the stop-search a minute
    later: classifying the recent fixes again publishes a revision marking it and moves the dose
    of its minute, the same in the end as when the stop-search was read first."""
    first_read = feed_joined(VISIT_FIXES, joined([stop_search_at(600)]))
    locations = INDEX.locate([f.lon for f in VISIT_FIXES], [f.lat for f in VISIT_FIXES])
    track, facts = new_track(ISSI), []
    without = joined([])
    for one_fix, location in zip(VISIT_FIXES, locations, strict=True):
        track, produced = advance(track, one_fix, location, without.context(one_fix.ts), POLICY)
        facts.extend(produced)
    (before,) = visits(facts)
    assert before.status == "closed"
    assert not before.stop_search
    track, revised = recontext(track, joined([stop_search_at(600)]).context, POLICY)
    (revision,) = [f.visit for f in revised if type(f).__name__ == "VisitRecorded"]
    assert revision.stop_search
    assert revision.revision > 0
    facts.extend(revised)
    assert visits(facts) == visits(first_read)
    assert dose_by_minute(facts) == dose_by_minute(first_read)
    marked = sum(f.seconds for f in facts if isinstance(f, DoseAccrued) and f.stop_search)
    assert marked == 30  # 10:00 to 10:30, the last segment inside (the visit ends at 10:30)


@pytest.mark.parametrize("search_s", [0, 15, 29.5, 185, 299, 300, 301, 599, 600, 629])
def test_stop_searches_read_only_up_to_each_fix_mark_what_all_read_first_marks(
    search_s: float,
) -> None:
    """On the event clock a fix is classified once the stop-searches up to its time have been
    read (the join wait), perhaps no further: the visit and its dose must be the same as with
    every stop-search read first."""
    marks = [stop_search_at(search_s)]
    known_first = feed_joined(VISIT_FIXES, joined(marks))
    locations = INDEX.locate([f.lon for f in VISIT_FIXES], [f.lat for f in VISIT_FIXES])
    track, facts = new_track(ISSI), []
    for one_fix, location in zip(VISIT_FIXES, locations, strict=True):
        read_so_far = joined([m for m in marks if m.ts <= one_fix.ts])
        context = read_so_far.context(one_fix.ts)
        track, produced = advance(track, one_fix, location, context, POLICY)
        facts.extend(produced)
    assert facts == known_first
    assert visits(facts)[0].stop_search == (0 <= search_s < 630)


def test_stop_searches_near_a_fix_are_those_the_segment_it_closes_may_contain() -> None:
    marks = [stop_search_at(at_s) for at_s in (-301, -300, -1, 0, 0.5)]
    # made in the longest segment the fix may close, up to the fix: never after it
    assert stop_searches_near(marks, T0, 300.0) == {(T0 - 300, "A"), (T0 - 1, "A"), (T0, "A")}


def test_stop_search_context_round_trips_through_the_stored_track() -> None:
    join = joined([stop_search_at(185)])
    locations = INDEX.locate([f.lon for f in VISIT_FIXES], [f.lat for f in VISIT_FIXES])
    track = new_track(ISSI)
    for one_fix, location in zip(VISIT_FIXES[:9], locations[:9], strict=True):
        track, _ = advance(track, one_fix, location, join.context(one_fix.ts), POLICY)
    restored = track_from_json(track_to_json(track), POLICY)
    assert restored == track
    assert any(entry.context.stop_searches for entry in restored.recent)


def test_a_radio_without_assignments_or_stop_searches_has_one_context() -> None:
    assert joined([]).fixed is not None
    assert joined([stop_search_at(0)]).fixed is None
    assert joined([]).context(T0) == FixContext("response", "vehicle", "RV1")


# ---- crimes linked to an incident --------------------------------------------------------------


def located_incident(areas: list[str]) -> IncidentState:
    state, _ = apply_incident(
        None, IncidentEvent("INC-7", "opened", T0, category="burglary", lat=52.0, lon=-1.0)
    )
    return attribute(state, areas)


def test_crime_linked_to_incident_counts_in_incident_area() -> None:
    crime = CrimeRecorded("CR-1", T0 + 600, 52.1, -1.1, "burglary", incident_id="INC-7")
    areas = crime_areas(["B"], located_incident(["A"]))  # recorded at a place in B
    assert areas == ("A",)
    changes = demand_changes([crime], areas, DEFAULT_HARM_WEIGHTS)
    assert {(c.area_id, c.measure) for c in changes} == {("A", "crimes"), ("A", "harm")}


def test_a_crime_of_an_incident_outside_every_area_counts_outside() -> None:
    assert crime_areas(["B"], located_incident([])) == ()
    crime = CrimeRecorded("CR-1", T0, 52.1, -1.1, "burglary", incident_id="INC-7")
    assert {c.area_id for c in demand_changes([crime], (), DEFAULT_HARM_WEIGHTS)} == {"outside"}


def test_a_crime_whose_incident_is_not_known_or_located_counts_at_its_own_place() -> None:
    assert crime_areas(["B"], None) == ("B",)
    orphan, _ = apply_incident(
        None, IncidentEvent("INC-7", "assigned", T0, callsigns=frozenset({"RV1"}))
    )
    assert crime_areas(["B"], orphan) == ("B",)  # no opened event yet: not counted anywhere
    unlocated, _ = apply_incident(
        None, IncidentEvent("INC-7", "opened", T0, category="burglary", lat=52.0, lon=-1.0)
    )
    assert crime_areas(["B"], unlocated) == ("B",)
