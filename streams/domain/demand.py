"""Demand per area: incidents, crimes, stop-searches and harm in minute buckets and windows.

Facts (from :func:`~streams.domain.incidents.apply_incident`, and decoded crimes and
stop-searches) become signed changes, so a later fact can take back what an earlier one added:

- :func:`demand_changes`: windowed buckets keyed ``(area_id, minute, measure, label)`` where
  ``minute`` is ``int(ts // 60)``, the UTC minute since the epoch. Measures: ``incidents_opened``
  (label: grade label, at the incident's opened minute), ``crimes`` (label: category),
  ``stop_searches`` (label: object of search) and ``harm`` in days (label: source ``incident``,
  ``crime`` or ``stop_search``; zero harm adds no change).
- :func:`open_incident_keys`: the "open incidents by grade" gauge, which is not windowed and not
  summed from facts: each incident state says which (area, grade) counts it is in now.
- :func:`response_sample_changes`: response-time samples (first arrival time, seconds).

Area attribution is done by the caller: it passes the ids of the areas the fact's place falls
in (for incidents, the areas their state was attributed to; for a crime linked to an incident,
that incident's areas: :func:`crime_areas`); none means the :data:`OUTSIDE` bucket. A place in
several areas counts in each.

Window rule (minute granularity): a bucket of minute ``m`` is inside the window of length ``W``
at ``now`` iff ``now - W < m * 60 <= now``. So a minute counts from its first second for exactly
``W`` seconds: with ``W = 3600`` an event at 10:00:59 counts from 10:00:00 until 10:59:59.999
and not at 11:00:00; a minute that has not begun yet (an event up to the allowed clock skew
ahead of ``now``) does not count until it begins. Response-time samples follow the same rule by
their arrival minute.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from streams.domain.harm import (
    HarmWeights,
    harm_of_crime,
    harm_of_incident,
    harm_of_stop_search,
)
from streams.domain.incidents import (
    UNGRADED,
    CrimeRecorded,
    FirstArrival,
    FirstArrivalRetracted,
    GradeLabel,
    IncidentFact,
    IncidentOpened,
    IncidentRegraded,
    IncidentState,
    StopSearchRecorded,
)
from streams.domain.windows import in_window, minute_of

OUTSIDE: Final = "outside"
"""The area id of demand outside every area."""
HOUR_S: Final = 3600
DAY_S: Final = 86400
DEMAND_WINDOWS: Final[tuple[int, ...]] = (HOUR_S, DAY_S)
"""The rolling windows reported per area, in seconds."""

Measure: TypeAlias = Literal["incidents_opened", "crimes", "stop_searches", "harm"]
DemandFact: TypeAlias = IncidentFact | CrimeRecorded | StopSearchRecorded
DemandKey: TypeAlias = tuple[str, int, Measure, str]
"""(area_id, minute, measure, label)."""


@dataclass(frozen=True, slots=True)
class BucketChange:
    """Add ``amount`` (a count, or harm in days; negative to take back) to one bucket."""

    area_id: str
    minute: int
    measure: Measure
    label: str
    amount: float

    @property
    def key(self) -> DemandKey:
        """The bucket this change applies to."""
        return (self.area_id, self.minute, self.measure, self.label)


@dataclass(frozen=True, slots=True)
class ResponseSampleChange:
    """Add (``delta`` +1) or remove (-1) the response sample (``ts``, ``response_seconds``)."""

    area_id: str
    incident_id: str
    ts: float
    response_seconds: float
    delta: int


@dataclass(frozen=True, slots=True)
class ResponseTimeStats:
    """Opened-to-first-arrival times in a window: median and p90 (None without samples)."""

    median_seconds: float | None
    p90_seconds: float | None
    count: int


def attributed_areas(area_ids: Sequence[str]) -> tuple[str, ...]:
    """The areas demand at a place counts in: its areas, or :data:`OUTSIDE` when none."""
    return tuple(area_ids) if area_ids else (OUTSIDE,)


def crime_areas(own_areas: Sequence[str], incident: IncidentState | None) -> tuple[str, ...]:
    """The areas a crime counts in: those of the incident it is linked to (its ``incident_id``)
    when that incident is known, counted and located (:attr:`IncidentState.areas`, the areas of
    the incident's opened place, possibly none: ``outside``); otherwise those of the crime's own
    place (``own_areas``). A crime recorded at a station or an address away from the incident
    thus counts where the incident happened.

    The incident is the one known when the crime is counted: a crime counted before its
    incident's ``opened`` event was read stays at its own place (the engine's limit, see
    :mod:`streams.engines.demand`)."""
    if incident is not None and incident.counted and incident.areas is not None:
        return tuple(incident.areas)
    return tuple(own_areas)


def demand_changes(
    facts: Iterable[DemandFact], area_ids: Sequence[str], weights: HarmWeights
) -> list[BucketChange]:
    """The windowed bucket changes ``facts`` (all at one place, in ``area_ids``) cause."""
    changes: list[BucketChange] = []
    for fact in facts:
        for measure, label, minute, amount in _bucket_amounts(fact, weights):
            if amount != 0:
                changes.extend(
                    BucketChange(area_id, minute, measure, label, amount)
                    for area_id in attributed_areas(area_ids)
                )
    return changes


def _bucket_amounts(
    fact: DemandFact, weights: HarmWeights
) -> list[tuple[Measure, str, int, float]]:
    """(measure, label, minute, amount) per bucket one fact touches, for one area."""
    if isinstance(fact, IncidentOpened):
        minute = minute_of(fact.ts)
        return [
            ("incidents_opened", fact.grade, minute, 1.0),
            ("harm", "incident", minute, harm_of_incident(weights, fact.category, fact.grade)),
        ]
    if isinstance(fact, IncidentRegraded):
        minute = minute_of(fact.opened_ts)
        harm_before = harm_of_incident(weights, fact.category, fact.old_grade)
        harm_after = harm_of_incident(weights, fact.category, fact.new_grade)
        return [
            ("incidents_opened", fact.old_grade, minute, -1.0),
            ("incidents_opened", fact.new_grade, minute, 1.0),
            ("harm", "incident", minute, harm_after - harm_before),
        ]
    if isinstance(fact, CrimeRecorded):
        minute = minute_of(fact.ts)
        return [
            ("crimes", fact.category, minute, 1.0),
            ("harm", "crime", minute, harm_of_crime(weights, fact.category)),
        ]
    if isinstance(fact, StopSearchRecorded):
        minute = minute_of(fact.ts)
        return [
            ("stop_searches", fact.object_of_search, minute, 1.0),
            ("harm", "stop_search", minute, harm_of_stop_search(weights, fact)),
        ]
    return []


def open_incident_keys(state: IncidentState) -> tuple[tuple[str, GradeLabel], ...]:
    """The (area_id, grade) open-incident counts ``state`` is in now: one per area it was
    attributed to, under its current grade label, while it is counted and not closed; none
    otherwise (nor before it is located).

    Open counts are these summed over the incidents' current states, so they are a function of
    the states (which any order or repetition of the same events leaves equal) and never below
    zero; a store keeps them by applying the difference of one incident's keys before and after
    a change.
    """
    if state.areas is None or not state.counted or state.closed_ts is not None:
        return ()
    return tuple((area_id, state.grade_label) for area_id in attributed_areas(state.areas))


def open_incident_keys_at(state: IncidentState, at: float) -> tuple[tuple[str, GradeLabel], ...]:
    """The (area_id, grade) open-incident counts ``state`` was in at event time ``at``: open
    (opened at or before ``at``, not closed by then) under its grade as of ``at`` (the latest
    grade observed at or before it); none before it is counted and located. What the current
    keys (:func:`open_incident_keys`) were when the incidents' events up to ``at`` had been
    read, whatever was read after."""
    if state.areas is None or state.opened_ts is None or state.opened_ts > at:
        return ()
    if state.closed_ts is not None and state.closed_ts <= at:
        return ()
    grades = [grade for ts, grade in state.grades if ts <= at]
    label: GradeLabel = grades[-1] if grades else UNGRADED
    return tuple((area_id, label) for area_id in attributed_areas(state.areas))


def open_counts_at(states: Iterable[IncidentState], at: float) -> dict[str, dict[str, int]]:
    """Open incidents by area and grade at event time ``at`` (:func:`open_incident_keys_at`),
    only the counts above zero."""
    counts: dict[str, dict[str, int]] = {}
    for state in states:
        for area_id, grade in open_incident_keys_at(state, at):
            by_grade = counts.setdefault(area_id, {})
            by_grade[grade] = by_grade.get(grade, 0) + 1
    return counts


def response_sample_changes(
    facts: Iterable[DemandFact], area_ids: Sequence[str]
) -> list[ResponseSampleChange]:
    """Response-time samples added (first arrivals) or removed (retractions) by ``facts``."""
    changes: list[ResponseSampleChange] = []
    for fact in facts:
        if isinstance(fact, FirstArrival | FirstArrivalRetracted):
            delta = 1 if isinstance(fact, FirstArrival) else -1
            changes.extend(
                ResponseSampleChange(
                    area_id, fact.incident_id, fact.ts, fact.response_seconds, delta
                )
                for area_id in attributed_areas(area_ids)
            )
    return changes


def response_time_stats(
    samples: Sequence[tuple[float, float]], now: float, window_s: float = DAY_S
) -> ResponseTimeStats:
    """Median and p90 of the ``(arrival ts, response seconds)`` samples in the window at ``now``.

    Samples are in the window by the minute of their arrival (module rule). The median is the
    middle sample, or the mean of the two middle ones; the p90 is the nearest-rank percentile,
    the sample at rank ``ceil(0.9 * n)`` in ascending order (so always an observed value).
    """
    inside = sorted(seconds for ts, seconds in samples if in_window(minute_of(ts), now, window_s))
    if not inside:
        return ResponseTimeStats(None, None, 0)
    p90 = inside[math.ceil(0.9 * len(inside)) - 1]
    return ResponseTimeStats(statistics.median(inside), p90, len(inside))
