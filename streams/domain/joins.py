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
from typing import Any, Final

from streams.domain.incidents import IncidentState
from streams.domain.records import record
from streams.domain.roster import UNKNOWN_OFFICER_ROLE
from streams.domain.tracks import UNKNOWN_UNIT, FixContext

ROSTER_VERSIONS_KEPT: Final = 8
"""Roster versions kept per radio (the latest by ``ts``)."""

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
        callsign: Assignment(areas, since, state.closed_ts) for callsign, since in state.committed
    }


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
) -> tuple[Mapping[str, Any] | None, FixContext]:
    """The roster entry valid at ``ts`` (None: not on the roster) and the context of a fix at
    ``ts``: who carries the radio then and the areas their callsign is assigned to then."""
    version = version_at(versions, ts)
    if version is None:
        return None, FixContext(role=UNKNOWN_OFFICER_ROLE, device="handheld")
    entry = version.entry
    callsign = entry["callsign"]
    return entry, FixContext(
        role=entry["role"],
        device=entry["device"],
        callsign=callsign,
        assigned_areas=areas_at(assignments.get(callsign, ()), ts) if callsign else frozenset(),
        unit=entry.get("unit") or UNKNOWN_UNIT,
    )


class RadioJoin:
    """:func:`context_at` for the fixes of one radio in a batch: a radio with one roster version
    and no assignment of its callsign has one context for all of them, built once."""

    __slots__ = ("assignments", "fixed", "versions")

    def __init__(
        self, versions: Sequence[RosterVersion], assignments: Mapping[str, Sequence[Assignment]]
    ) -> None:
        self.versions = versions
        self.assignments = assignments
        joined = len(versions) > 1 or any(
            assignments.get(version.entry["callsign"]) for version in versions
        )
        self.fixed = None if joined else context_at(versions, assignments, 0.0)

    def context(self, ts: float) -> FixContext:
        """The context of a fix at ``ts``."""
        return self.at(ts)[1]

    def at(self, ts: float) -> tuple[Mapping[str, Any] | None, FixContext]:
        """The roster entry and context of a fix at ``ts``."""
        if self.fixed is not None:
            return self.fixed
        return context_at(self.versions, self.assignments, ts)
