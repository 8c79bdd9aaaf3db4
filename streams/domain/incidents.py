"""The CAD incident lifecycle: what an incident's events add up to, and how it is stored.

The messages and their decoders (``cad.incidents``, and the ``crimes.recorded`` and
``stopsearch.events`` messages counted with incidents as demand) are
:mod:`streams.domain.demand_feeds`; they are re-exported here.

The lifecycle is :func:`apply_incident` ``(state, event) -> (state, facts)``. An
:class:`IncidentState` is a *commutative merge* of the events accepted so far: the opened event
(time, category, location), every grade observation, every callsign assigned or arriving, the
earliest arrival and the closing time. So any arrival order of the same events gives the same
state, and the facts (the change in what the incident contributes to demand counts) sum to the
same totals.

Rules, in event time (``ts``):

- **Identity**: an event is ``(incident_id, event, ts)``; one already seen is a duplicate and
  changes nothing, whatever else it carries.
- **Location and category** come from the ``opened`` event only (the schema requires them there;
  on other events lat/lon may be a unit's position). Until ``opened`` is known, an incident is
  an orphan: its record is kept and its assignments count, but it is in no area count at all
  (not even ``outside``); it is counted from the moment its ``opened`` event arrives.
- **Areas**: when an incident is first counted, the caller locates its place and
  :func:`attribute` records the areas it falls in (none: ``outside``). They are part of its
  state from then on: every count it is in, and every change of one, is in those areas, so an
  area drawn, redrawn or removed meanwhile (or not yet loaded when it was counted) never takes
  a count out of an area that it was not added to.
- **Grade** is the latest grade observation by ``ts``; every event carrying ``grade`` is one
  (CAD feeds repeat the current grade on later events). Two observations at the same ``ts``
  resolve to the more urgent grade. No observation yet: the label ``"ungraded"``.
- **Assignments**: callsigns of ``assigned`` and ``arrived`` events accumulate (the feed has no
  unassign event; a unit arriving is committed even if its assignment was missed) and are all
  released when the incident is closed. Each callsign is committed from the earliest
  ``assigned``/``arrived`` event naming it (``committed``) until the ``closed`` time: the
  interval by which fixes are joined (:mod:`streams.domain.joins`).
- **First arrival** is the earliest ``arrived`` event; response time is first arrival minus
  opened time, known once both are.

Impossible combinations, rejected with ``impossible_event`` (each compares the new event with
one accepted event, so whichever of the two arrives second is the one rejected):

- ``graded`` without a ``grade``;
- a second ``opened`` or a second ``closed`` at a different time;
- any event before the incident's ``opened`` time;
- ``assigned`` or ``arrived`` after the ``closed`` time (only a grade correction may follow a
  close);
- any event more than :data:`CLOSED_GRACE_S` (24 h) after the ``closed`` time.

Facts describe what changed, in order. A consumer that adds ``+1`` to the "opened" bucket of the
opened minute on :class:`IncidentOpened`, moves it on :class:`IncidentRegraded`, and adds or
removes response-time samples on :class:`FirstArrival` / :class:`FirstArrivalRetracted`, in the
incident's areas, stays exact under any arrival order: e.g. ``closed`` before ``opened`` gives
nothing at first, then ``IncidentOpened`` followed by ``IncidentClosed`` when ``opened``
arrives. Open counts are not summed from facts but derived from the state itself
(:func:`~streams.domain.demand.open_incident_keys`): a consumer that stores what each incident
contributes and applies the difference when its state changes cannot drift, whatever it is
given twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypeAlias

from streams.domain.demand_feeds import (
    GRADES,
    INCIDENT_EVENT_KINDS,
    CrimeRecorded,
    Grade,
    IncidentEvent,
    IncidentEventKind,
    StopSearchRecorded,
    decode_crime,
    decode_incident,
    decode_stop_search,
)
from streams.domain.timefmt import format_ts
from streams.domain.validation import Rejected

__all__ = [
    "CLOSED_GRACE_S",
    "GRADES",
    "GRADE_LABELS",
    "INCIDENT_EVENT_KINDS",
    "UNGRADED",
    "CrimeRecorded",
    "FirstArrival",
    "FirstArrivalRetracted",
    "Grade",
    "GradeLabel",
    "IncidentAssigned",
    "IncidentClosed",
    "IncidentEvent",
    "IncidentEventKind",
    "IncidentFact",
    "IncidentOpened",
    "IncidentRegraded",
    "IncidentState",
    "IncidentUnassigned",
    "StopSearchRecorded",
    "apply_incident",
    "assignments",
    "attribute",
    "decode_crime",
    "decode_incident",
    "decode_stop_search",
    "incident_from_dict",
    "incident_to_dict",
]

GradeLabel: TypeAlias = Literal["immediate", "priority", "scheduled", "resolution", "ungraded"]

UNGRADED: Final = "ungraded"
"""The grade label of an incident with no grade observation yet."""
GRADE_LABELS: Final[tuple[GradeLabel, ...]] = (*GRADES, UNGRADED)

CLOSED_GRACE_S: Final = 86400.0
"""How long after its close an incident may still receive an event (a grade correction)."""

_URGENCY: Final[dict[Grade, int]] = {grade: -rank for rank, grade in enumerate(GRADES)}


# ---- lifecycle state -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentState:
    """What is known of one incident: the merge of its accepted events (module docstring).

    ``grades`` is the grade history, ``(ts, grade)`` observations sorted by time (and, at equal
    times, from least to most urgent); ``callsigns`` every callsign ever assigned or arriving;
    ``committed`` each callsign with the time of the earliest assigned or arrived event naming it
    (sorted by callsign); ``seen`` the ``(event, ts)`` identities accepted, for duplicate
    detection; ``areas`` the
    sorted ids of the areas it counts in (empty: outside every area), None until it is counted
    and located (:func:`attribute`).
    """

    incident_id: str
    opened_ts: float | None = None
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    grades: tuple[tuple[float, Grade], ...] = ()
    callsigns: frozenset[str] = frozenset()
    first_arrival_ts: float | None = None
    closed_ts: float | None = None
    seen: frozenset[tuple[IncidentEventKind, float]] = frozenset()
    areas: tuple[str, ...] | None = None
    committed: tuple[tuple[str, float], ...] = ()

    @property
    def grade(self) -> Grade | None:
        """The current grade: the latest observation, or None when never graded."""
        return self.grades[-1][1] if self.grades else None

    @property
    def grade_label(self) -> GradeLabel:
        """The current grade, or ``"ungraded"``: the label demand is counted under."""
        return self.grade or UNGRADED

    @property
    def status(self) -> IncidentEventKind:
        """The furthest lifecycle stage any accepted event has reached (states always have one)."""
        stages = {event for event, _ in self.seen}
        return max(stages, key=INCIDENT_EVENT_KINDS.index)

    @property
    def counted(self) -> bool:
        """Whether the incident is in area counts: its ``opened`` event (and location) is known."""
        return self.opened_ts is not None

    @property
    def awaiting_areas(self) -> bool:
        """Whether the incident is counted but its place not yet located in areas."""
        return self.counted and self.areas is None


def attribute(state: IncidentState, area_ids: Iterable[str]) -> IncidentState:
    """``state`` placed in ``area_ids``, the areas its place falls in now, if it is awaiting its
    areas; any other state as it is (an incident is located once, when first counted)."""
    if not state.awaiting_areas:
        return state
    return replace(state, areas=tuple(sorted(set(area_ids))))


def assignments(state: IncidentState) -> frozenset[str]:
    """The callsigns committed to the incident now: assigned or arrived, until it is closed."""
    return frozenset() if state.closed_ts is not None else state.callsigns


# ---- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentOpened:
    """The incident now counts: ``+1`` open and ``+1`` opened at minute of ``ts``, by grade."""

    incident_id: str
    grade: GradeLabel
    category: str
    ts: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class IncidentRegraded:
    """A counted incident's grade label changed (grading at ``ts``).

    Its opened bucket (minute of ``opened_ts``) moves from ``old_grade`` to ``new_grade``; its
    open count moves too when ``open`` (it was not closed).
    """

    incident_id: str
    old_grade: GradeLabel
    new_grade: GradeLabel
    ts: float
    opened_ts: float
    category: str
    lat: float
    lon: float
    open: bool


@dataclass(frozen=True, slots=True)
class IncidentClosed:
    """A counted, open incident closed at ``ts``: ``-1`` open under its current ``grade``."""

    incident_id: str
    grade: GradeLabel
    ts: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class IncidentAssigned:
    """Callsigns became committed to the incident (an event at ``ts``)."""

    incident_id: str
    callsigns: frozenset[str]
    ts: float


@dataclass(frozen=True, slots=True)
class IncidentUnassigned:
    """Callsigns were released from the incident because it closed (an event at ``ts``)."""

    incident_id: str
    callsigns: frozenset[str]
    ts: float


@dataclass(frozen=True, slots=True)
class FirstArrival:
    """A counted incident's first arrival at ``ts``, ``response_seconds`` after it opened."""

    incident_id: str
    response_seconds: float
    ts: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class FirstArrivalRetracted:
    """A :class:`FirstArrival` no longer holds (an earlier arrival came in late); undo it."""

    incident_id: str
    response_seconds: float
    ts: float
    lat: float
    lon: float


IncidentFact: TypeAlias = (
    IncidentOpened
    | IncidentRegraded
    | IncidentClosed
    | IncidentAssigned
    | IncidentUnassigned
    | FirstArrival
    | FirstArrivalRetracted
)


# ---- the step function -----------------------------------------------------------------------


def apply_incident(
    state: IncidentState | None, event: IncidentEvent
) -> tuple[IncidentState, list[IncidentFact]]:
    """Merge ``event`` into the incident's ``state`` (None: first event); return facts.

    Raises :class:`Rejected` ``impossible_event`` for the combinations the module docstring
    lists, and ``ValueError`` when ``state`` belongs to another incident (a caller's mistake).
    """
    before = state if state is not None else IncidentState(event.incident_id)
    if before.incident_id != event.incident_id:
        raise ValueError(
            f"event of incident {event.incident_id!r} applied to {before.incident_id!r}"
        )
    if event.event == "graded" and event.grade is None:
        raise Rejected("impossible_event", "a graded event must carry a grade")
    if (event.event, event.ts) in before.seen:
        return before, []
    _check_possible(before, event)
    after = _merge(before, event)
    return after, _facts(before, after, event)


def _check_possible(state: IncidentState, event: IncidentEvent) -> None:
    """Reject ``event`` when it contradicts an event already accepted (module docstring)."""
    earliest = min((ts for _, ts in state.seen), default=None)
    latest = max((ts for _, ts in state.seen), default=None)
    latest_commitment = max(
        (ts for kind, ts in state.seen if kind in ("assigned", "arrived")), default=None
    )
    where = f"{event.event} at {format_ts(event.ts)}"
    if event.event == "opened" and state.opened_ts is not None:
        raise _impossible(f"{where}: the incident was opened at {format_ts(state.opened_ts)}")
    if event.event == "closed" and state.closed_ts is not None:
        raise _impossible(f"{where}: the incident was closed at {format_ts(state.closed_ts)}")
    if state.opened_ts is not None and event.ts < state.opened_ts:
        raise _impossible(f"{where} is before the opening at {format_ts(state.opened_ts)}")
    if event.event == "opened" and earliest is not None and earliest < event.ts:
        raise _impossible(f"{where} is after an event of the incident at {format_ts(earliest)}")
    if state.closed_ts is not None:
        if event.event in ("assigned", "arrived") and event.ts > state.closed_ts:
            raise _impossible(f"{where} is after the close at {format_ts(state.closed_ts)}")
        if event.ts > state.closed_ts + CLOSED_GRACE_S:
            raise _impossible(
                f"{where} is over 24 h after the close at {format_ts(state.closed_ts)}"
            )
    if event.event == "closed":
        if latest_commitment is not None and latest_commitment > event.ts:
            raise _impossible(
                f"{where} is before an assignment or arrival at {format_ts(latest_commitment)}"
            )
        if latest is not None and latest > event.ts + CLOSED_GRACE_S:
            raise _impossible(f"{where} is over 24 h before an event at {format_ts(latest)}")


def _impossible(detail: str) -> Rejected:
    return Rejected("impossible_event", detail)


def _merge(state: IncidentState, event: IncidentEvent) -> IncidentState:
    """``state`` with ``event`` merged in; every part of the merge is order-independent."""
    merged = replace(state, seen=state.seen | {(event.event, event.ts)})
    if event.event == "opened":
        merged = replace(
            merged, opened_ts=event.ts, category=event.category, lat=event.lat, lon=event.lon
        )
    if event.grade is not None:
        observations = {*state.grades, (event.ts, event.grade)}
        merged = replace(
            merged,
            grades=tuple(sorted(observations, key=lambda seen: (seen[0], _URGENCY[seen[1]]))),
        )
    if event.event in ("assigned", "arrived"):
        since = dict(state.committed)
        for callsign in event.callsigns:
            if callsign not in since or event.ts < since[callsign]:
                since[callsign] = event.ts
        merged = replace(
            merged,
            callsigns=state.callsigns | event.callsigns,
            committed=tuple(sorted(since.items())),
        )
    if event.event == "arrived" and (
        state.first_arrival_ts is None or event.ts < state.first_arrival_ts
    ):
        merged = replace(merged, first_arrival_ts=event.ts)
    if event.event == "closed":
        merged = replace(merged, closed_ts=event.ts)
    return merged


def _facts(before: IncidentState, after: IncidentState, event: IncidentEvent) -> list[IncidentFact]:
    """What changed between ``before`` and ``after`` for assignments and demand counts."""
    facts: list[IncidentFact] = []
    committed_before, committed_after = assignments(before), assignments(after)
    if committed_after - committed_before:
        facts.append(
            IncidentAssigned(after.incident_id, committed_after - committed_before, event.ts)
        )
    if committed_before - committed_after:
        facts.append(
            IncidentUnassigned(after.incident_id, committed_before - committed_after, event.ts)
        )
    facts.extend(_count_facts(before, after))
    facts.extend(_response_facts(before, after))
    return facts


def _count_facts(before: IncidentState, after: IncidentState) -> list[IncidentFact]:
    """Open-by-grade and opened-bucket changes; none until the incident is counted."""
    if after.opened_ts is None or after.category is None or after.lat is None or after.lon is None:
        return []
    incident_id, lat, lon = after.incident_id, after.lat, after.lon
    facts: list[IncidentFact] = []
    if not before.counted:
        facts.append(
            IncidentOpened(
                incident_id, after.grade_label, after.category, after.opened_ts, lat, lon
            )
        )
    elif before.grade_label != after.grade_label:
        facts.append(
            IncidentRegraded(
                incident_id,
                before.grade_label,
                after.grade_label,
                after.grades[-1][0],
                after.opened_ts,
                after.category,
                lat,
                lon,
                open=before.closed_ts is None,
            )
        )
    if after.closed_ts is not None and (not before.counted or before.closed_ts is None):
        facts.append(IncidentClosed(incident_id, after.grade_label, after.closed_ts, lat, lon))
    return facts


def _response_facts(before: IncidentState, after: IncidentState) -> list[IncidentFact]:
    """A first-arrival sample appearing, or moving to an earlier arrival."""
    sample_before, sample_after = _response_sample(before), _response_sample(after)
    if sample_before == sample_after:
        return []
    facts: list[IncidentFact] = []
    if sample_before is not None:
        facts.append(FirstArrivalRetracted(*sample_before))
    if sample_after is not None:
        facts.append(FirstArrival(*sample_after))
    return facts


def _response_sample(state: IncidentState) -> tuple[str, float, float, float, float] | None:
    """(incident_id, response_seconds, arrival ts, lat, lon) once opened and arrival are known."""
    if (
        state.opened_ts is None
        or state.first_arrival_ts is None
        or state.lat is None
        or state.lon is None
    ):
        return None
    return (
        state.incident_id,
        state.first_arrival_ts - state.opened_ts,
        state.first_arrival_ts,
        state.lat,
        state.lon,
    )


# ---- storage ---------------------------------------------------------------------------------


def incident_to_dict(state: IncidentState) -> dict[str, object]:
    """A JSON-safe form of an incident's state (stored in Redis per incident)."""
    return {
        "id": state.incident_id,
        "opened": state.opened_ts,
        "category": state.category,
        "lat": state.lat,
        "lon": state.lon,
        "grades": [[ts, grade] for ts, grade in state.grades],
        "callsigns": sorted(state.callsigns),
        "arrived": state.first_arrival_ts,
        "closed": state.closed_ts,
        "seen": sorted([event, ts] for event, ts in state.seen),
        "areas": None if state.areas is None else list(state.areas),
        "committed": dict(state.committed),
    }


def incident_from_dict(stored: Mapping[str, Any]) -> IncidentState:
    """The state :func:`incident_to_dict` stored (one stored before incidents kept their areas
    has none: it is located again when next counted; one stored before they kept each
    callsign's commitment time has each callsign committed from its earliest assigned or
    arrived event)."""
    areas = stored.get("areas")
    seen = frozenset((event, float(ts)) for event, ts in stored["seen"])
    committed = stored.get("committed")
    if committed is None:
        earliest = min(
            (ts for event, ts in seen if event in ("assigned", "arrived")),
            default=stored["opened"] or 0.0,
        )
        committed = dict.fromkeys(stored["callsigns"], earliest)
    return IncidentState(
        incident_id=stored["id"],
        opened_ts=stored["opened"],
        category=stored["category"],
        lat=stored["lat"],
        lon=stored["lon"],
        grades=tuple((float(ts), grade) for ts, grade in stored["grades"]),
        callsigns=frozenset(stored["callsigns"]),
        first_arrival_ts=stored["arrived"],
        closed_ts=stored["closed"],
        seen=seen,
        areas=None if areas is None else tuple(areas),
        committed=tuple(sorted((callsign, float(ts)) for callsign, ts in committed.items())),
    )
