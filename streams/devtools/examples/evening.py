"""A scripted evening in two areas, run through the service's own domain code.

Fixed times (Saturday 2026-11-21, 17:30-18:45 UTC, which is London time in November), a fixed
pseudonym key and no wall clock, so every run gives the same records. What happens:

- ``WM-IA-017`` (an Impact Area) has had no qualifying visit since monitoring began at 14:30:
  its alert is raised ``at_risk`` at 17:42 and escalated when the 2 h evening band begins at
  18:00 with an immediate incident open (17:50) and nobody there.
- B21 (neighbourhood, on foot) patrols it 18:00-18:15: a visit that opens, becomes qualifying
  and closes; the qualifying visit clears the alert. B21 records a stop-search there at 18:10:
  the visit is a ``stop_search`` one from then on.
- B42 (response, on foot) is assigned to the incident (a robbery) and arrives at 18:06: a
  reactive visit carrying the incident's category, still open at the end. B40 (response, in a
  vehicle) drives through at 18:20.
- An unrostered radio seems to enter at 18:30, until a late fix shows it never did: its visit
  is retracted.
- A crime (18:25) is recorded in the area; the incident closes at 18:40. ``WM-CMP-004`` (a
  comparison area) stays empty.
- B47 (response, in a vehicle) crosses the Impact Area at 18:43:30 between two fixes 30 s
  apart, one south of it and one north: an inferred visit of the part of the line inside.
- Four malformed inputs are rejected to the dead-letter topic.

Only the aggregation Redis does between the facts and a snapshot (summing minute buckets into
windows, counting who is present) is redone here, in the plainest way; every published value is
made by the functions the service publishes with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import orjson

from streams.domain.areas import AreaDefinition, parse_area_feature
from streams.domain.coverage import (
    GRADES,
    CoverageInputs,
    CoverageStatus,
    alert_value,
    evaluate,
    policy_for,
)
from streams.domain.dayvisits import DayVisits
from streams.domain.deadletter import Source, deadletter_record
from streams.domain.demand import (
    DEMAND_WINDOWS,
    DemandFact,
    demand_changes,
    open_incident_keys,
    response_sample_changes,
)
from streams.domain.dose import RollingWindows, dose_split, minute_buckets, visit_split
from streams.domain.fences import FenceIndex
from streams.domain.fixes import Fix
from streams.domain.harm import DEFAULT_HARM_WEIGHTS
from streams.domain.incidents import (
    CrimeRecorded,
    IncidentEvent,
    IncidentState,
    StopSearchRecorded,
    apply_incident,
    attribute,
)
from streams.domain.joins import StopSearchMark, stop_searches_near
from streams.domain.ledger import daily_ledger, day_bounds, local_day
from streams.domain.patrol import (
    MinuteKey,
    Steps,
    add_steps,
    patrol_by_minute,
    patrol_figures,
    presence_steps,
)
from streams.domain.publication import visit_value
from streams.domain.roster import decode_roster
from streams.domain.snapshots import (
    AreaFacts,
    dose_today,
    drive_throughs_today,
    inferred_today,
    qualifying_visits,
    snapshot_value,
)
from streams.domain.timefmt import format_ts
from streams.domain.tracks import (
    DoseAccrued,
    FixContext,
    MembershipChanged,
    Policy,
    Track,
    Visit,
    VisitRecorded,
    advance,
    new_track,
)
from streams.domain.validation import Rejected, TimeLimits, decode_ping
from streams.domain.windows import in_window

Records = dict[str, dict[str, object]]
"""File stem -> published value, for one topic."""

PSEUDONYM_KEY: Final = b"coverwatch-examples-key"
"""The pseudonym key of the examples (not a real deployment's)."""
TIMEZONE: Final = "Europe/London"
MONITORED_SINCE: Final = datetime(2026, 11, 21, 14, 30, tzinfo=UTC).timestamp()
"""When the service began monitoring both areas (their coverage gap starts here)."""
IMPACT: Final = "WM-IA-017"
COMPARISON: Final = "WM-CMP-004"
INCIDENT: Final = "INC-20261121-0412"
INSIDE: Final = (52.4765, -1.8850)
"""The middle of the Impact Area."""
SOUTH: Final = (52.4720, -1.8850)
NORTH: Final = (52.4810, -1.8850)
WEST_EDGE_INSIDE: Final = (52.4765, -1.8898)
WEST_OUTSIDE: Final = (52.4765, -1.8908)
"""Just inside the Impact Area's west edge, and 54 m outside it (beyond the 25 m exit buffer)."""
ELSEWHERE: Final = (52.5200, -1.9500)
"""Where the rest of the city's radios are: outside both areas, keeping the feed live."""
ON_DUTY: Final = 5
"""Officers on duty in the roster (the feed can tell coverage: it is not ``unknown``)."""


def at(hour: int, minute: int, second: int = 0) -> float:
    """A moment of the scripted evening as epoch seconds."""
    return datetime(2026, 11, 21, hour, minute, second, tzinfo=UTC).timestamp()


def _square(area_id: str, name: str, kind: str, west: float, south: float) -> AreaDefinition:
    """An area 0.01 deg of longitude by 0.005 deg of latitude with its south-west corner given."""
    east, north = west + 0.01, south + 0.005
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    feature = {
        "type": "Feature",
        "id": area_id,
        "properties": {"name": name, "kind": kind},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return parse_area_feature(feature)


AREAS: Final = (
    _square(IMPACT, "Digbeth High Street", "impact", -1.8900, 52.4740),
    _square(COMPARISON, "Jewellery Quarter comparison", "comparison", -1.9120, 52.4860),
)

STOP_SEARCH_TS: Final = at(18, 10, 5)
"""When B21 stop-searches someone in the Impact Area."""
EAST_NPT: Final = "Birmingham East NPT"
EAST_RESPONSE: Final = "Birmingham East Response"
B21: Final = FixContext("neighbourhood", "handheld", "B21", unit=EAST_NPT)
B40: Final = FixContext("response", "vehicle", "B40", unit=EAST_RESPONSE)
B47: Final = FixContext("response", "vehicle", "B47", unit=EAST_RESPONSE)
B42_ASSIGNED: Final = FixContext(
    "response",
    "handheld",
    "B42",
    frozenset({IMPACT}),
    incident_categories=((IMPACT, "Robbery"),),
    unit=EAST_RESPONSE,
)
B42_FREE: Final = FixContext("response", "handheld", "B42", unit=EAST_RESPONSE)
UNROSTERED: Final = FixContext("unknown", "handheld")
CITY: Final = FixContext("roads", "vehicle", "R7", unit="Roads Policing")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One input as it reaches the service: at ``delivered`` (event time), in script order."""

    delivered: float
    item: Fix | IncidentEvent | CrimeRecorded | StopSearchRecorded
    context: FixContext | None = None


def _walk(
    issi: str, context: FixContext, start: float, places: list[tuple[float, float]]
) -> list[Delivery]:
    """Fixes every 30 s from ``start``, one per place, each delivered when it is taken, with the
    metre or two of wander of a receiver standing still (a position repeated exactly for ten
    minutes is a stuck radio, which covers nothing)."""
    return [
        Delivery(
            start + 30 * index,
            Fix(issi, start + 30 * index, lat + _WANDER[index % 4][0], lon + _WANDER[index % 4][1]),
            context,
        )
        for index, (lat, lon) in enumerate(places)
    ]


_WANDER: Final = ((0.0, 0.0), (0.00001, -0.00002), (-0.00001, 0.00001), (0.00002, 0.00001))
"""Offsets in degrees (about 1-2 m) that :func:`_walk` cycles through."""


def _fixes() -> list[Delivery]:
    """Every radio's fixes (module docstring), with the late one delivered 35 s late, and a
    roads car elsewhere in the city all evening (the feed is live)."""
    b21 = _walk("2350017", B21, at(17, 58), [SOUTH] * 4 + [INSIDE] * 30 + [SOUTH] * 6)
    searched = [StopSearchMark(STOP_SEARCH_TS, frozenset({IMPACT}))]
    b21 = [  # joined with B21's stop-search as the presence engine does
        replace(d, context=replace(B21, stop_searches=stop_searches_near(searched, d.item.ts, 300)))
        for d in b21
    ]
    b40 = _walk("2350044", B40, at(18, 20), [SOUTH, INSIDE, INSIDE, NORTH, NORTH, NORTH, NORTH])
    b42 = _walk("2350061", B42_ASSIGNED, at(18, 4), [SOUTH] * 2 + [INSIDE] * 70)
    b42 = [
        Delivery(d.delivered, d.item, B42_FREE if d.delivered >= at(18, 40) else d.context)
        for d in b42
    ]
    city = _walk("2350201", CITY, at(17, 30), [ELSEWHERE] * 151)
    unrostered = _walk("2350090", UNROSTERED, at(18, 30), [WEST_EDGE_INSIDE] * 2)
    late_lat, late_lon = WEST_OUTSIDE
    late = Fix("2350090", at(18, 30, 15), late_lat, late_lon)
    b47 = _walk("2350047", B47, at(18, 43, 30), [SOUTH, NORTH])
    return [
        *city,
        *b21,
        *b40,
        *b42,
        *unrostered,
        Delivery(at(18, 30, 50), late, UNROSTERED),
        *b47,
    ]


def _demand() -> list[Delivery]:
    """The incident's lifecycle, a crime and a stop-search, all in the Impact Area."""
    lat, lon = INSIDE
    incident = [
        IncidentEvent(INCIDENT, "opened", at(17, 50), "immediate", "Robbery", lat, lon),
        IncidentEvent(INCIDENT, "assigned", at(17, 52), callsigns=frozenset({"B42"})),
        IncidentEvent(INCIDENT, "arrived", at(18, 6), callsigns=frozenset({"B42"})),
        IncidentEvent(INCIDENT, "closed", at(18, 40)),
    ]
    crime = CrimeRecorded("20WM0451234", at(18, 25), lat, lon, "Burglary - residential", INCIDENT)
    search = StopSearchRecorded(
        "SS-20261121-0088", STOP_SEARCH_TS, lat, lon, "Controlled drugs", "Arrest", "B21"
    )
    return [
        *(Delivery(event.ts, event) for event in incident),
        Delivery(crime.ts, crime),
        Delivery(search.ts, search),
    ]


@dataclass(slots=True)
class Evening:
    """What the service would hold and have published as the evening is played: the tracks and
    incidents, the sums Redis keeps (minute buckets keyed ``(area, minute, "what|split")``), and
    the published visit and alert values."""

    fences: FenceIndex = field(default_factory=lambda: FenceIndex(AREAS))
    policy: Policy = field(default_factory=Policy)
    tracks: dict[str, Track] = field(default_factory=dict)
    present: defaultdict[str, dict[str, tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    units: dict[str, str] = field(default_factory=dict)
    patrol_steps: dict[MinuteKey, Steps] = field(default_factory=dict)
    dose_buckets: defaultdict[tuple[str, int, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    demand_buckets: defaultdict[tuple[str, int, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    response_samples: defaultdict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    feed_last_fix: float | None = None
    visits: dict[str, Visit] = field(default_factory=dict)
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    statuses: dict[str, CoverageStatus] = field(default_factory=dict)
    visit_records: list[dict[str, object]] = field(default_factory=list)
    alert_records: list[dict[str, object]] = field(default_factory=list)

    def deliver(self, delivery: Delivery) -> None:
        """Apply one input as the presence or demand engine would."""
        item = delivery.item
        if isinstance(item, Fix) and delivery.context is not None:
            self._fix(item, delivery.context)
        elif isinstance(item, IncidentEvent):
            self._incident(item)
        elif isinstance(item, CrimeRecorded | StopSearchRecorded):
            self._demand([item], sorted(self._areas_at(item.lat, item.lon)))

    def _areas_at(self, lat: float, lon: float) -> frozenset[str]:
        (location,) = self.fences.locate([lon], [lat])
        return location.inside

    def _fix(self, fix: Fix, context: FixContext) -> None:
        (location,) = self.fences.locate([fix.lon], [fix.lat])
        track = self.tracks.get(fix.issi) or new_track(fix.issi)
        self.tracks[fix.issi], facts = advance(
            track, fix, location, context, self.policy, self.fences
        )
        self.feed_last_fix = max(self.feed_last_fix or fix.ts, fix.ts)
        for fact in facts:
            if isinstance(fact, VisitRecorded):
                self.visits[fact.visit.visit_id] = fact.visit
                self.visit_records.append(visit_value(PSEUDONYM_KEY, fact.visit))
            elif isinstance(fact, DoseAccrued):
                for (area_id, minute, *_), seconds in minute_buckets(fact).items():
                    split = dose_split(
                        fact.role, fact.mode, fact.activity, fact.unit, fact.inferred
                    )
                    self.dose_buckets[(area_id, minute, split)] += seconds
                add_steps(self.patrol_steps, presence_steps(fact))
            elif isinstance(fact, MembershipChanged) and fact.present:
                self.present[fact.area_id][fact.issi] = (fact.role, fact.mode)
                self.units[fact.issi] = fact.unit
            elif isinstance(fact, MembershipChanged):
                self.present[fact.area_id].pop(fact.issi, None)

    def _incident(self, event: IncidentEvent) -> None:
        after, facts = apply_incident(self.incidents.get(event.incident_id), event)
        if after.awaiting_areas and after.lat is not None and after.lon is not None:
            after = attribute(after, self._areas_at(after.lat, after.lon))
        self.incidents[event.incident_id] = after
        self._demand(facts, list(after.areas or ()))

    def _demand(self, facts: Sequence[DemandFact], area_ids: list[str]) -> None:
        for change in demand_changes(facts, area_ids, DEFAULT_HARM_WEIGHTS):
            bucket = (change.area_id, change.minute, f"{change.measure}|{change.label}")
            self.demand_buckets[bucket] += change.amount
        for sample in response_sample_changes(facts, area_ids):
            samples = self.response_samples[sample.area_id]
            if sample.delta > 0:
                samples.append((sample.ts, sample.response_seconds))
            else:
                samples.remove((sample.ts, sample.response_seconds))

    def open_incidents(self, area_id: str) -> dict[str, int]:
        """Open incidents in an area by grade label, as the open-count keys say."""
        counts: dict[str, int] = {}
        for state in self.incidents.values():
            for counted_in, label in open_incident_keys(state):
                if counted_in == area_id:
                    counts[label] = counts.get(label, 0) + 1
        return counts

    def area_facts(self, area: AreaDefinition, now: float) -> AreaFacts:
        """Everything held about ``area`` at ``now``, as ``streams.state`` would read it."""
        area_id = area.area_id
        by_minute: dict[int, dict[str, float]] = {}
        for (patrolled, minute), seconds in patrol_by_minute(self.patrol_steps).items():
            by_minute.setdefault(minute, {})[patrolled] = seconds
        windows, today = patrol_figures(
            by_minute, now, RollingWindows, day_bounds(local_day(now, TIMEZONE), TIMEZONE)
        )
        standing = [
            visit
            for visit in self.visits.values()
            if visit.area_id == area_id and visit.status != "retracted"
        ]
        return AreaFacts(
            area=area,
            present=dict(self.present[area_id]),
            dose_windows={
                window: _window_sums(self.dose_buckets, area_id, now, window)
                for window in RollingWindows
            },
            dose_total=_window_sums(self.dose_buckets, area_id, now, None),
            last_qualifying_end=max(
                (_latest_time(visit) for visit in standing if visit.qualifying), default=None
            ),
            visits_today=_day_visits(
                [visit for visit in self.visits.values() if visit.area_id == area_id]
            ),
            demand_windows={
                window: _window_sums(self.demand_buckets, area_id, now, window)
                for window in DEMAND_WINDOWS
            },
            open_incidents=self.open_incidents(area_id),
            response_samples=list(self.response_samples[area_id]),
            units={issi: self.units[issi] for issi in self.present[area_id]},
            patrol_windows=windows.get(area_id, {}),
            patrol_today=today.get(area_id, 0.0),
        )

    def judge(self, now: float) -> None:
        """Evaluate every area's coverage at ``now`` and keep the alert events it publishes."""
        for area in AREAS:
            facts = self.area_facts(area, now)
            open_incidents = self.open_incidents(area.area_id)
            standing = [
                visit
                for visit in self.visits.values()
                if visit.area_id == area.area_id and visit.status != "retracted"
            ]
            latest = max(
                (visit for visit in standing if visit.qualifying),
                key=lambda visit: (_latest_time(visit), -visit.start),
                default=None,
            )
            inputs = CoverageInputs(
                last_qualifying_visit_end=facts.last_qualifying_end,
                officers_present=len(facts.present),
                open_incidents={grade: open_incidents.get(grade, 0) for grade in GRADES},
                feed_last_fix_ts=self.feed_last_fix,
                officers_on_duty=ON_DUTY,
                since=MONITORED_SINCE,
                last_qualifying_visit_start=None if latest is None else latest.start,
                last_qualifying_visit_ongoing=latest is not None and latest.status == "open",
                present_since=min(
                    (visit.start for visit in standing if visit.status == "open"), default=None
                ),
            )
            previous = self.statuses.get(area.area_id)
            policy = policy_for(area, TIMEZONE)
            status, events = evaluate(area.area_id, policy, inputs, previous, now)
            self.statuses[area.area_id] = status
            self.alert_records.extend(alert_value(event) for event in events)

    def snapshot(self, area: AreaDefinition, now: float) -> dict[str, object]:
        """The ``area.snapshots`` value of ``area`` at ``now``, with its ledger of the day."""
        facts = self.area_facts(area, now)
        status = self.statuses.get(area.area_id)
        ledger = daily_ledger(
            area.area_id,
            local_day(now, TIMEZONE),
            policy_for(area, TIMEZONE),
            qualifying_visits(facts, now),
            drive_throughs_today(facts),
            dose_today(facts),
            now,
            MONITORED_SINCE,
            inferred_seconds=inferred_today(facts),
            patrol_seconds=facts.patrol_today,
            uncovered=status is not None and status.state == "uncovered",
        )
        return snapshot_value(facts, status, ledger, now)


def _window_sums(
    buckets: Mapping[tuple[str, int, str], float], area_id: str, now: float, window: int | None
) -> dict[str, float]:
    """An area's buckets summed by what they count, over the window at ``now`` (None: ever)."""
    sums: dict[str, float] = {}
    for (bucket_area, minute, what), amount in buckets.items():
        if bucket_area == area_id and (window is None or in_window(minute, now, window)):
            sums[what] = sums.get(what, 0.0) + amount
    return sums


def _latest_time(visit: Visit) -> float:
    """When a visit ended, or for one still open its latest fix."""
    return visit.start + visit.seconds if visit.end is None else visit.end


def _day_visits(visits: Sequence[Visit]) -> DayVisits:
    """The day summary of an area's visits (latest revision of each), as the store keeps it."""
    summary = DayVisits(visits=len(visits))
    for visit in visits:
        if visit.status == "retracted":
            continue
        split = visit_split(visit.role, visit.mode, visit.activity, visit.inferred)
        summary.dose_seconds[split] = summary.dose_seconds.get(split, 0.0) + visit.seconds
        summary.drive_throughs += 1 if visit.drive_through else 0
        if visit.qualifying:
            end = None if visit.end is None else format_ts(visit.end)
            summary.qualifying[visit.visit_id] = (format_ts(visit.start), end)
    return summary


def _rejected(
    topic: str, offset: int, key: bytes, raw: bytes, now: float
) -> tuple[str, dict[str, object]]:
    """The dead-letter value of an input the decoders reject, named after its reason."""
    try:
        if topic == "resources.roster":
            decode_roster(key, raw, TimeLimits())
        else:
            decode_ping(key, raw, now, TimeLimits())
    except Rejected as error:
        source = Source(topic, 0 if topic == "resources.roster" else 3, offset)
        value = deadletter_record(source, key, raw, error.rejection, now)
        name = f"{error.rejection.reason}-{topic.split('.')[-1]}"
        return name.replace("_", "-"), value
    raise RuntimeError(f"the example input at offset {offset} of {topic} was accepted")


def _deadletters() -> Records:
    """Four malformed inputs of the evening and what the service dead-letters for them."""
    ping = {"issi": "2350017", "ts": "2026-11-21T18:04:05.250Z", "lat": 52.4765, "lon": -1.885}
    roster = {
        "schema": "resources.roster/2",
        "issi": "2350017",
        "officer_id": "4471",
        "callsign": "B21",
        "unit": "Birmingham East NPT",
        "role": "neighbourhood",
        "device": "handheld",
        "on_duty": True,
    }
    now = at(18, 4, 5) + 0.912
    inputs = [
        ("airwave.pings", 120455, orjson.dumps(ping)[:40]),
        ("airwave.pings", 120456, orjson.dumps({**ping, "lat": 123})),
        ("airwave.pings", 120457, orjson.dumps({**ping, "ts": "2026-11-21T19:04:05.250Z"})),
        ("resources.roster", 88, orjson.dumps(roster)),
    ]
    return dict(_rejected(topic, offset, b"2350017", raw, now) for topic, offset, raw in inputs)


def _numbered(values: Sequence[dict[str, object]], *fields: str) -> Records:
    """Values named in publication order by the fields that tell them apart (a flag field by
    its name when it is true)."""
    return {
        "-".join(
            [f"{index:02d}", *(_label(name, value[name]) for name in fields if value[name])]
        ).replace("_", "-"): value
        for index, value in enumerate(values, start=1)
    }


def _label(name: str, value: object) -> str:
    """How a field shows in a file name: a true flag by its name, anything else by its value."""
    return name if value is True else str(value)


SNAPSHOT_TIMES: Final = {
    "impact-area-uncovered-with-alert": (IMPACT, at(18, 1)),
    "impact-area-covered-busy": (IMPACT, at(18, 45)),
    "comparison-area-quiet": (COMPARISON, at(18, 45)),
}
"""The snapshots kept as examples: which area, at which evaluation."""


def play() -> dict[str, Records]:
    """Play the evening; every output topic's example values by file stem."""
    evening = Evening()
    before = {"comparison-area-before-first-evaluation": evening.snapshot(AREAS[1], at(17, 30))}
    deliveries = sorted([*_fixes(), *_demand()], key=lambda delivery: delivery.delivered)
    snapshots: Records = {}
    minute = at(17, 31)
    for delivery in deliveries:
        while minute < delivery.delivered:
            _evaluate(evening, minute, snapshots)
            minute += 60
        evening.deliver(delivery)
    while minute <= at(18, 45):
        _evaluate(evening, minute, snapshots)
        minute += 60
    return {
        "presence.visits": _numbered(
            evening.visit_records,
            "status",
            "role",
            "mode",
            "qualifying",
            "drive_through",
            "inferred",
        ),
        "area.snapshots": {**before, **snapshots},
        "coverage.alerts": _numbered(evening.alert_records, "event", "state", "severity"),
        "deadletter": _deadletters(),
    }


def _evaluate(evening: Evening, now: float, snapshots: Records) -> None:
    """Judge the areas at ``now``, keeping the snapshots :data:`SNAPSHOT_TIMES` asks for."""
    evening.judge(now)
    for name, (area_id, instant) in SNAPSHOT_TIMES.items():
        if instant == now:
            snapshots[name] = evening.snapshot(evening.fences.areas[area_id], now)
