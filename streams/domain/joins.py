"""Joins of fixes with the other topics by event time: CAD assignments and roster versions.

A fix at time ``t`` is classified with what was valid at ``t``, not with what happened to have
been read when its batch was processed:

- **Assignments** (``cad.incidents``): a callsign is committed to an incident over an
  :class:`Assignment` interval ``[since, until)``, from the earliest ``assigned``/``arrived``
  event naming it until the incident's ``closed`` time (open-ended while it is open). A fix's
  assigned areas are the union of the areas of the intervals that contain its time
  (:func:`areas_at`). An interval only ever grows backwards (an earlier event read later) or
  gets its end, so once every event at or before ``t`` has been read, the areas at ``t`` are
  final whatever else has been read.
- **Roster versions** (``resources.roster``): each radio keeps its latest versions by their
  ``ts`` (valid from then; an entry without ``ts`` is valid from the beginning), at most
  :data:`ROSTER_VERSIONS_KEPT`. A fix takes the latest version valid at its time
  (:func:`version_at`); a fix older than every version kept takes the earliest one: who carried
  the radio before the first version known is unknown, and the earliest version is the best
  guess (a radio is not unknown because its first roster record was sent after it went out).

:func:`context_at` puts both together into the :class:`~streams.domain.tracks.FixContext` a fix
is stepped with, the officer's role and unit included: a roster change of role or unit applies
to the fixes from its ``ts`` on, as any other field of the entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from streams.domain.incidents import IncidentState
from streams.domain.records import record
from streams.domain.roster import UNKNOWN_OFFICER_ROLE
from streams.domain.tracks import UNKNOWN_UNIT, FixContext

ROSTER_VERSIONS_KEPT: Final = 8
"""Roster versions kept per radio (the latest by ``ts``)."""

STOP_SEARCH_HORIZON_S: Final = 300.0
"""How far before a fix its context looks for stop-searches by default: the track policy's
``max_gap_s`` (the longest segment a fix closes)."""

BEGINNING: Final = -math.inf
"""The valid-from time of a roster entry without ``ts`` (and of an assignment stored before
assignments kept their times)."""


@record
class Assignment:
    """A callsign committed to an incident in ``areas`` over ``[since, until)`` (``until`` None:
    the incident is still open)."""

    areas: frozenset[str]
    since: float
    until: float | None
    category: str | None = None
    """The incident's category (None until its ``opened`` event is known)."""

    def contains(self, ts: float) -> bool:
        """Whether the callsign is committed at ``ts``."""
        return self.since <= ts and (self.until is None or ts < self.until)


@record
class RosterVersion:
    """One version of a radio's roster entry, valid from ``since`` (:data:`BEGINNING`: from the
    beginning) until the next version."""

    since: float
    entry: Mapping[str, Any]


def incident_assignments(state: IncidentState) -> dict[str, Assignment]:
    """Each callsign's assignment interval in an incident (its areas: none until it is
    located)."""
    areas = frozenset(state.areas or ())
    return {
        callsign: Assignment(areas, since, state.closed_ts, category=state.category)
        for callsign, since in state.committed
    }


@record
class StopSearchMark:
    """A stop-search by a callsign at ``ts``, in ``areas`` (those its place falls in)."""

    ts: float
    areas: frozenset[str]


_NO_MARKS: Final[Mapping[str, Sequence[StopSearchMark]]] = MappingProxyType({})


def incident_categories_at(
    assignments: Iterable[Assignment], ts: float
) -> tuple[tuple[str, str], ...]:
    """``(area_id, category)`` of the incident attended in each area at ``ts``: of the
    assignments that contain ``ts`` and have a category, in each of their areas the one
    committed latest (ties: the first category by name), sorted by area."""
    chosen: dict[str, tuple[float, str]] = {}
    for assignment in assignments:
        category = assignment.category
        if category is None or not assignment.contains(ts):
            continue
        for area_id in assignment.areas:
            held = chosen.get(area_id)
            if held is None or (assignment.since, held[1]) > (held[0], category):
                chosen[area_id] = (assignment.since, category)
    return tuple(sorted((area_id, category) for area_id, (_, category) in chosen.items()))


def stop_searches_near(
    marks: Iterable[StopSearchMark], ts: float, horizon_s: float
) -> frozenset[tuple[float, str]]:
    """``(ts, area_id)`` of the stop-searches made in ``[ts - horizon_s, ts]`` (the longest dose
    segment a fix at ``ts`` can close is ``max_gap_s``): what a fix's context carries so that
    the segment it closes can be marked ``stop_search``. Only stop-searches up to the fix's
    time: those the pings wait for on the event clock."""
    return frozenset(
        (mark.ts, area_id)
        for mark in marks
        if ts - horizon_s <= mark.ts <= ts
        for area_id in mark.areas
    )


def areas_at(assignments: Iterable[Assignment], ts: float) -> frozenset[str]:
    """The areas of every assignment that contains ``ts``."""
    found: frozenset[str] = frozenset()
    for assignment in assignments:
        if assignment.contains(ts):
            found = found | assignment.areas
    return found


def add_version(
    versions: Sequence[RosterVersion], version: RosterVersion, keep: int = ROSTER_VERSIONS_KEPT
) -> tuple[RosterVersion, ...]:
    """``versions`` (sorted by ``since``) with ``version`` in, replacing one valid from the same
    time, and only the latest ``keep`` kept. Versions at distinct times commute: the result is
    the latest ``keep`` of all versions added, in whatever order."""
    merged = [kept for kept in versions if kept.since != version.since]
    merged.append(version)
    merged.sort(key=lambda kept: kept.since)
    return tuple(merged[-keep:])


def version_at(versions: Sequence[RosterVersion], ts: float) -> RosterVersion | None:
    """The version valid at ``ts``: the latest valid from ``ts`` or before, else the earliest
    (module docstring); None when there is none."""
    if not versions:
        return None
    chosen = versions[0]
    for version in versions:
        if version.since > ts:
            break
        chosen = version
    return chosen


def context_at(
    versions: Sequence[RosterVersion],
    assignments: Mapping[str, Sequence[Assignment]],
    ts: float,
    stop_searches: Mapping[str, Sequence[StopSearchMark]] = _NO_MARKS,
    horizon_s: float = STOP_SEARCH_HORIZON_S,
) -> tuple[Mapping[str, Any] | None, FixContext]:
    """The roster entry valid at ``ts`` (None: not on the roster) and the context of a fix at
    ``ts``: who carries the radio then, the areas their callsign is assigned to then with the
    categories of those incidents, and the stop-searches by the callsign near ``ts``
    (:func:`stop_searches_near` within ``horizon_s``)."""
    version = version_at(versions, ts)
    if version is None:
        return None, FixContext(role=UNKNOWN_OFFICER_ROLE, device="handheld")
    entry = version.entry
    callsign = entry["callsign"]
    unit = entry.get("unit") or UNKNOWN_UNIT
    if not callsign:
        return entry, FixContext(
            role=entry["role"], device=entry["device"], callsign=callsign, unit=unit
        )
    assigned = assignments.get(callsign, ())
    marks = stop_searches.get(callsign, ())
    return entry, FixContext(
        role=entry["role"],
        device=entry["device"],
        callsign=callsign,
        assigned_areas=areas_at(assigned, ts),
        incident_categories=incident_categories_at(assigned, ts) if assigned else (),
        stop_searches=stop_searches_near(marks, ts, horizon_s) if marks else frozenset(),
        unit=unit,
    )


class RadioJoin:
    """:func:`context_at` for the fixes of one radio in a batch: a radio with one roster version
    and no assignment or stop-search of its callsign has one context for all of them, built
    once."""

    __slots__ = ("assignments", "fixed", "horizon_s", "stop_searches", "versions")

    def __init__(
        self,
        versions: Sequence[RosterVersion],
        assignments: Mapping[str, Sequence[Assignment]],
        stop_searches: Mapping[str, Sequence[StopSearchMark]] = _NO_MARKS,
        horizon_s: float = STOP_SEARCH_HORIZON_S,
    ) -> None:
        self.versions = versions
        self.assignments = assignments
        self.stop_searches = stop_searches
        self.horizon_s = horizon_s
        joined = len(versions) > 1 or any(
            assignments.get(version.entry["callsign"])
            or stop_searches.get(version.entry["callsign"])
            for version in versions
        )
        self.fixed = None if joined else context_at(versions, assignments, 0.0)

    def context(self, ts: float) -> FixContext:
        """The context of a fix at ``ts``."""
        return self.at(ts)[1]

    def at(self, ts: float) -> tuple[Mapping[str, Any] | None, FixContext]:
        """The roster entry and context of a fix at ``ts``."""
        if self.fixed is not None:
            return self.fixed
        return context_at(self.versions, self.assignments, ts, self.stop_searches, self.horizon_s)
