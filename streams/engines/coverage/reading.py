"""What the coverage evaluator reads: every area's presence, demand and stored coverage, in a few
round trips, and each area's share of it (its facts, their fingerprint, its visits as of each
instant judged)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import orjson

from streams import topics
from streams.domain.areas import AreaDefinition
from streams.domain.coverage import GRADES, CoverageInputs, CoverageStatus, status_from_dict
from streams.domain.dayvisits import DayVisits
from streams.domain.demand import open_counts_at
from streams.domain.incidents import IncidentState
from streams.domain.judging import (
    QualifyingVisit,
    VisitHistory,
    last_qualifying_end_at,
    last_qualifying_visit_at,
    present_at,
    present_since,
)
from streams.domain.ledger import day_bounds
from streams.domain.scheduling import UNTOUCHED_FINGERPRINT, facts_fingerprint
from streams.domain.snapshots import AreaFacts, present_value
from streams.domain.timefmt import local_day
from streams.domain.tracks import UNKNOWN_UNIT
from streams.engines.coverage.patrol import PatrolMinutes
from streams.engines.runtime import Runtime
from streams.state import DOSE_WINDOWS, DemandView, PresenceView

DEMAND_SOURCES = {
    topics.INCIDENTS: topics.BY_NAME[topics.INCIDENTS].partitions,
    topics.CRIMES: topics.BY_NAME[topics.CRIMES].partitions,
    topics.STOPSEARCH: topics.BY_NAME[topics.STOPSEARCH].partitions,
}


@dataclass(frozen=True, slots=True)
class Figures:
    """The slow part of a read: dose windows and totals, the day's visits, demand windows and
    response samples (what the snapshots' figures are made of, not the coverage states)."""

    presence: PresenceView
    demand: DemandView
    day: str
    read_at: float
    """Wall time (monotonic) of the read."""


@dataclass(frozen=True, slots=True)
class AreasRead:
    """Everything stored about the areas at one moment, read in a few round trips."""

    day: str
    presence: PresenceView
    demand: DemandView
    stored: dict[str, bytes]
    since: dict[str, float]
    on_duty: int
    touched: set[str]
    """The areas with any presence or demand state."""
    figures: Figures
    """The figures this read used (read with it, or earlier)."""

    def status(self, area_id: str) -> CoverageStatus | None:
        """The stored coverage status of an area, if it was evaluated before."""
        blob = self.stored.get(area_id)
        return None if blob is None else status_from_dict(orjson.loads(blob))


async def read_areas(
    runtime: Runtime,
    now: float,
    figures: Figures | None = None,
    wall_now: float = 0.0,
    patrol: PatrolMinutes | None = None,
) -> AreasRead:
    """Read presence, demand and coverage of every area (and refresh the fences); with
    ``figures`` of today, read only who is present, the last qualifying visits, the feed and the
    open incidents, and take the rest from ``figures`` (fresh figures are stamped
    ``wall_now``). Fresh figures bring ``patrol`` (the leader's patrol minutes; none: read every
    minute) up to date and take the patrol windows and today's patrol from it."""
    state = runtime.state
    await runtime.refresh_fences(await state.area_version())
    day = local_day(now, ZoneInfo(runtime.settings.timezone))
    fresh = figures is None or figures.day != day
    presence = await state.presence_view(
        topics.BY_NAME[topics.PINGS].partitions, [day], figures=fresh
    )
    demand = await state.demand_view(DEMAND_SOURCES, now - 86400.0, figures=fresh)
    if figures is None or fresh:
        patrol = PatrolMinutes() if patrol is None else patrol
        partitions = topics.BY_NAME[topics.PINGS].partitions
        await patrol.refresh(state, partitions, now)
        zone = runtime.settings.timezone
        presence.patrol_windows, presence.patrol_today = patrol.figures(
            now, DOSE_WINDOWS, day_bounds(day, zone)
        )
        figures = Figures(presence, demand, day, wall_now)
    else:
        presence = replace(
            figures.presence,
            present=presence.present,
            last_qualifying_end=presence.last_qualifying_end,
            feed_last_fix=presence.feed_last_fix,
        )
        demand = replace(figures.demand, open_incidents=demand.open_incidents)
    store = await state.coverage_store()
    return AreasRead(
        day,
        presence,
        demand,
        store.statuses,
        store.since,
        store.on_duty,
        presence.areas() | demand.areas(),
        figures,
    )


def area_facts(area: AreaDefinition, presence: PresenceView, demand: DemandView) -> AreaFacts:
    """One area's share of the merged presence and demand views."""
    area_id = area.area_id
    present = presence.present.get(area_id, {})
    return AreaFacts(
        area=area,
        present={
            issi: (role, mode)
            for issi, value in present.items()
            for role, mode, _ in (present_value(value),)
        },
        dose_windows={w: by_area.get(area_id, {}) for w, by_area in presence.dose_windows.items()},
        dose_total=presence.dose_total.get(area_id, {}),
        last_qualifying_end=presence.last_qualifying_end.get(area_id),
        visits_today=presence.visits.get(area_id) or DayVisits(),
        patrol_windows=presence.patrol_windows.get(area_id, {}),
        patrol_today=presence.patrol_today.get(area_id, 0.0),
        demand_windows={w: by_area.get(area_id, {}) for w, by_area in demand.windows.items()},
        open_incidents=demand.open_incidents.get(area_id, {}),
        response_samples=demand.response_samples.get(area_id, []),
        units={
            issi: unit
            for issi, value in present.items()
            for _, _, unit in (present_value(value),)
            if unit != UNKNOWN_UNIT
        },
    )


KnownFingerprint = tuple[Figures, tuple[object, ...], tuple[object, ...]]
"""An area's fingerprint on the last evaluation, with the figures and the inputs read on every
evaluation (presence, last qualifying visit, open incidents) it was made from."""


def area_fingerprint(
    read: AreasRead, area: AreaDefinition, known: KnownFingerprint | None
) -> tuple[AreaFacts | None, KnownFingerprint]:
    """An area's :func:`~streams.domain.scheduling.facts_fingerprint` (with the facts, when they
    had to be built for it). Between two reads of the figures only what is read on every
    evaluation can change, so an area whose presence, last qualifying visit and open incidents
    are as when ``known`` was made from the same figures keeps that fingerprint, and no facts are
    built for it."""
    area_id = area.area_id
    light = (
        area_id in read.touched,
        read.presence.present.get(area_id),
        read.presence.last_qualifying_end.get(area_id),
        read.demand.open_incidents.get(area_id),
    )
    if known is not None and known[0] is read.figures and known[1] == light:
        return None, known
    facts = area_facts(area, read.presence, read.demand) if light[0] else None
    fingerprint = UNTOUCHED_FINGERPRINT if facts is None else facts_fingerprint(facts)
    return facts, (read.figures, light, fingerprint)


@dataclass(frozen=True, slots=True)
class VisitsAt:
    """An area's visits as they stood at a judged instant (:meth:`History.visits_at`): how many
    officers were present and since when, and the latest qualifying visit."""

    present: int
    present_since: float | None
    last_qualifying: QualifyingVisit | None


def coverage_inputs(
    facts: AreaFacts,
    feed_last_fix: float | None,
    on_duty: int,
    since: float,
    visits: VisitsAt,
    qualifying_s: float,
    radios_reporting: int | None = None,
) -> CoverageInputs:
    """What the coverage rules need to know about one area (``visits``: as they stood at the
    time judged; ``on_duty`` and ``radios_reporting``: the radios on duty then and how many of
    them reported). The latest qualifying visit's start is given only with its end."""
    last = visits.last_qualifying
    last_end = facts.last_qualifying_end
    known = last is not None and last.end == last_end
    return CoverageInputs(
        last_qualifying_visit_end=last_end,
        officers_present=visits.present,
        open_incidents={grade: facts.open_incidents.get(grade, 0) for grade in GRADES},
        feed_last_fix_ts=feed_last_fix,
        officers_on_duty=on_duty,
        since=since,
        radios_reporting=radios_reporting,
        last_qualifying_visit_start=last.start if known and last is not None else None,
        last_qualifying_visit_ongoing=known and last is not None and last.ongoing,
        present_since=visits.present_since,
        qualifying_s=qualifying_s,
    )


@dataclass(frozen=True, slots=True)
class History:
    """What instants are judged with (:meth:`CoverageEngine._history`): the areas' visits and
    the incidents open at some time since the first instant."""

    visits: Mapping[str, VisitHistory]
    incidents: Sequence[IncidentState]

    def apply(self, read: AreasRead, instant: float, qualifying_s: float) -> None:
        """Set ``read``'s last qualifying visit ends and open incidents to those of
        ``instant`` (:func:`last_qualifying_end_at`, :func:`open_counts_at`)."""
        ends = read.presence.last_qualifying_end
        for area_id, visits in self.visits.items():
            end = last_qualifying_end_at(visits, instant, qualifying_s)
            if end is None:
                ends.pop(area_id, None)
            else:
                ends[area_id] = end
        read.demand.open_incidents = open_counts_at(self.incidents, instant)

    def visits_at(self, area_id: str, instant: float, qualifying_s: float) -> VisitsAt:
        """The area's visits as they stood at ``instant`` (:func:`present_at`,
        :func:`present_since`, :func:`last_qualifying_visit_at`)."""
        history = self.visits.get(area_id)
        return VisitsAt(
            present_at(history, instant),
            present_since(history, instant),
            None if history is None else last_qualifying_visit_at(history, instant, qualifying_s),
        )
