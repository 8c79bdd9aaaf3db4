"""The coverage evaluator: on the clock, one worker (the leader) judges every area.

Every :data:`EVALUATE_EVERY_S` the worker that holds the leader lock in Redis reads presence,
demand and the stored coverage statuses, evaluates every area with the pure rules of
``streams.domain.coverage``, publishes alert events to ``coverage.alerts`` and changed snapshots
to ``area.snapshots``, stores the statuses (only while it still holds the lock) and exports
the area metrics. The other workers export no area series. Alerts are published before the
statuses are stored: a crash in between re-raises the same ``alert_id`` (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import orjson

from streams import topics
from streams.domain.areas import AreaDefinition
from streams.domain.coverage import (
    DEFAULT_FEED,
    GRADES,
    AlertEvent,
    CoverageInputs,
    CoveragePolicy,
    CoverageStatus,
    alert_value,
    evaluate,
    limit_at,
    policy_for,
    status_from_dict,
    status_to_dict,
)
from streams.domain.dayvisits import DayVisits
from streams.domain.demand import open_counts_at
from streams.domain.encoding import kept_json
from streams.domain.incidents import IncidentState, incident_from_dict
from streams.domain.judging import (
    VisitHistory,
    coverage_watermark,
    judging_instants,
    last_qualifying_end_at,
    monitoring_start,
    present_at,
)
from streams.domain.ledger import DoseKey, daily_ledger
from streams.domain.snapshots import (
    WINDOW_NAMES,
    AreaFacts,
    dose_today,
    drive_throughs_today,
    qualifying_visits,
    snapshot_value,
)
from streams.domain.timefmt import format_ts, local_day
from streams.engines.runtime import Runtime
from streams.metrics import AreaNumbers
from streams.settings import Settings
from streams.state import Changes, DemandView, PartitionCommit, PresenceView

log = logging.getLogger(__name__)

EVALUATE_EVERY_S = 2.0
EVALUATION_SHARE = 0.5
"""At most this share of a worker's wall time goes to evaluating: after an evaluation that took
``d`` seconds, the next waits until ``d * (1 / share - 1)`` seconds have passed (under heavy load
the coverage picture refreshes less often instead of starving the agents, which would make
everything late)."""
LEADER_TTL_MS = 10_000
SNAPSHOT_REFRESH_S = 60.0
"""An unchanged snapshot is published again after this many seconds of wall time."""
YIELD_EVERY_AREAS = 100
"""The evaluator lets the agents run after this many areas (judged, or their snapshots
published): with thousands of areas an evaluation takes seconds."""
VIEW_REFRESH_S = 10.0
"""An area whose coverage state, severity and alert did not change gets a new view (snapshot,
metrics) at most this often (wall time); its first change after a quiet spell shows at once."""
FIGURES_REFRESH_S = VIEW_REFRESH_S
"""The figures (dose windows and totals, the day's visits, demand windows, response samples) are
read this often (wall time); who is present, the last qualifying visits, the feed, the open
incidents and the coverage store on every evaluation. With thousands of busy areas, reading and
merging every figure on every evaluation cost more than all the rest of it."""
HISTORY_HORIZON_S = 3600.0
"""The visits of areas with an officer present, or whose latest visit ended less than this
before the first instant judged, are read as they stood at each instant (a visit revised by
late data is revised within the allowed lateness); in the other areas nobody is present and the
latest qualifying visit end is taken as it is."""
REEVALUATE_AFTER_S = 30.0
"""An area whose facts did not change is evaluated again after this many seconds of wall time
(on the wall clock, not the event clock: a replay at 100x must not re-evaluate every area on
every cycle; what the event clock alone changes is caught by :func:`due_again`)."""
DEMAND_SOURCES = {
    topics.INCIDENTS: topics.BY_NAME[topics.INCIDENTS].partitions,
    topics.CRIMES: topics.BY_NAME[topics.CRIMES].partitions,
    topics.STOPSEARCH: topics.BY_NAME[topics.STOPSEARCH].partitions,
}


@dataclass(frozen=True, slots=True)
class AreaView:
    """One area's facts, coverage status and snapshot at one evaluation."""

    facts: AreaFacts
    status: CoverageStatus | None
    snapshot: dict[str, Any]


class CoverageEngine:
    """Coverage, snapshots and area metrics; active only on the leader."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker_id = uuid.uuid4().hex
        self.zone_name = runtime.settings.timezone
        self.zone = ZoneInfo(self.zone_name)
        self.leading = False
        self.views: dict[str, AreaView] = {}
        self._published: dict[str, tuple[bytes, float, AreaView]] = {}
        self._statuses: dict[str, tuple[bytes, CoverageStatus]] = {}
        self._policies: dict[str, CoveragePolicy] = {}
        self._evaluated: dict[str, _Evaluated] = {}
        self._policy_version = -1
        self._rest_until = 0.0
        self._monitoring_began: float | None = None
        """On the event clock: when monitoring began (:func:`monitoring_start`)."""
        self._figures: Figures | None = None
        self._fingerprints: dict[str, KnownFingerprint] = {}
        self._viewed_at = 0.0
        """Wall time (monotonic) the views were last built."""
        self._watermark: float | None = None
        """The time every input has passed (on the wall clock, now), as of the last look: the
        demand windows move on to it (their sums at the end of a replay are then those of its
        end, whatever the demand agents' clock was when they last wrote)."""

    def _policy(self, area: AreaDefinition) -> CoveragePolicy:
        """The area's coverage policy, parsed once per version of the area definitions."""
        version = self.runtime.fence_version
        if version != self._policy_version:
            self._policies.clear()
            self._policy_version = version
        policy = self._policies.get(area.area_id)
        if policy is None:
            policy = self._policies[area.area_id] = policy_for(area, self.zone_name)
        return policy

    async def tick(self) -> None:
        """One evaluation, if this worker leads."""
        runtime = self.runtime
        leading = await runtime.state.lead(self.worker_id, LEADER_TTL_MS)
        if leading != self.leading:
            log.info("coverage leader: %s", "this worker" if leading else "another worker")
            self.leading = leading
            if not leading:
                runtime.metrics.stop_exporting_areas()
                self._published.clear()
                self._evaluated.clear()
                self._statuses.clear()
                self._figures = None
                self._fingerprints.clear()
        if runtime.clock.now() is None:
            stored = await runtime.state.event_clock()
            if stored is not None:
                runtime.clock.observe(stored)  # a restarted event clock resumes where it was
        if not leading or time.monotonic() < self._rest_until:
            return
        instants = await self._instants(runtime.clock.now())
        if not instants:
            return
        started = time.monotonic()
        await self._evaluate(instants)
        finished = time.monotonic()
        runtime.metrics.coverage_evaluation.observe(finished - started)
        self._rest_until = rest_until(started, finished)

    async def _instants(self, clock_now: float | None) -> list[float]:
        """The times coverage is judged at now, oldest first. On the wall clock, now. On the
        event clock, the instants of :func:`judging_instants` that every pings partition has
        passed (:func:`coverage_watermark`) by :func:`judging_hold_s` and that were not judged
        yet (with every ``cad.incidents`` partition that has progress past them too: the open
        incidents are judged as of each instant): none before some pings partition has
        committed its first record (until then monitoring has not begun, and a status stored
        then would date its state from whenever that evaluation ran)."""
        if self.runtime.settings.clock != "event":
            self._watermark = clock_now
            return [] if clock_now is None else [clock_now]
        state = self.runtime.state
        progress, began = await state.pings_progress(topics.BY_NAME[topics.PINGS].partitions)
        self._monitoring_began = monitoring_start(began)
        watermark = coverage_watermark(
            clock_now,
            [*progress, *await state.cad_progress(topics.BY_NAME[topics.INCIDENTS].partitions)],
        )
        if self._monitoring_began is None or watermark is None:
            return []
        self._watermark = watermark
        judged = await state.judged_through()
        instants = judging_instants(
            judged,
            self._monitoring_began,
            watermark,
            judging_hold_s(self.runtime.settings),
        )
        if not instants and judged is not None and self._views_stale():
            return [judged]  # judged again as it was: nothing changes, the views are shown
        return instants

    def _views_stale(self) -> bool:
        """Whether this worker leads without views yet (it has just taken over), or built them
        :data:`VIEW_REFRESH_S` or more ago (the event clock has stalled): the last instant is
        then judged again, which changes nothing (:func:`evaluate` is idempotent), so that the
        live views, snapshots and metrics are there and refreshed."""
        return not self.views or time.monotonic() - self._viewed_at >= VIEW_REFRESH_S

    def _monitoring_start(self, read: AreasRead, now: float) -> float:
        """When monitoring of an area first evaluated now began. On the wall clock, now. On the
        event clock, for the areas of the service's first evaluations, when the first pings
        record was (:func:`monitoring_start`; nothing is evaluated before one is committed); an
        area defined later begins at the watermark of its first evaluation."""
        if self.runtime.settings.clock != "event" or read.since:
            return now
        began = self._monitoring_began
        return now if began is None else min(began, now)

    async def _evaluate(self, instants: Sequence[float]) -> None:
        """Judge every area at each instant in turn, then show, store and publish the result
        (views, snapshots and metrics as of the last instant)."""
        runtime = self.runtime
        wall_now = time.monotonic()
        now = instants[-1]
        await self._expire_demand(max(now, self._watermark or now))
        figures = self._figures
        if figures is not None and wall_now - figures.read_at >= FIGURES_REFRESH_S:
            figures = None
        read = await read_areas(runtime, now, figures, wall_now)
        self._figures = read.figures
        history = await self._history(read, instants[0])
        judged = _Judgement()
        views: dict[str, AreaView] = {}
        for instant in instants:
            history.apply(read, instant, runtime.settings.qualifying_s)
            views = await self._judge(
                read, instant, judged, wall_now, history, final=instant == now
            )
        alerts = judged.alerts
        await runtime.emit(topics.ALERTS, [(str(a["area_id"]).encode(), a) for a in alerts])
        for alert in alerts:
            runtime.metrics.alert_events.labels(str(alert["event"])).inc()
        changes = Changes()
        runtime.state.record_coverage(
            changes,
            self.worker_id,
            {area_id: status_to_dict(status) for area_id, status in judged.statuses.items()},
            judged.new_since,
            alerts,
            judged.changes_today,
            now if runtime.settings.clock == "event" else None,
        )
        await runtime.state.commit([PartitionCommit("coverage", 0, None, changes)])
        self.views, self._viewed_at = views, wall_now
        changed = await self._publish_snapshots(views, wall_now)
        await runtime.state.publish_events(
            [sse_message("alert", orjson.dumps(alert)) for alert in alerts]
            + [sse_message("area", snapshot) for snapshot in changed]
        )
        runtime.metrics.export_areas(
            lambda: ((area_numbers(view, now) for view in views.values()), active_alerts(views))
        )

    async def _history(self, read: AreasRead, since: float) -> History:
        """What the instants from ``since`` on are judged with: the visits of every area with an
        officer present or a visit that ended after ``since`` less :data:`HISTORY_HORIZON_S`,
        and every incident open at some time from ``since`` on."""
        state = self.runtime.state
        visits = await state.visit_history(
            topics.BY_NAME[topics.PINGS].partitions,
            since,
            HISTORY_HORIZON_S,
            read.presence.present,
        )
        blobs = await state.incidents_open_since(topics.BY_NAME[topics.INCIDENTS].partitions, since)
        return History(visits, [incident_from_dict(orjson.loads(blob)) for blob in blobs])

    async def _judge(
        self,
        read: AreasRead,
        now: float,
        judged: _Judgement,
        wall_now: float,
        history: History,
        *,
        final: bool,
    ) -> dict[str, AreaView]:
        """Judge every area at ``now`` from the status it was last judged with (officers present,
        the latest qualifying visit and open incidents as of ``now``: ``history``), adding to
        ``judged``; with ``final``, also every area's view (areas neither due nor changed keep
        theirs)."""
        runtime = self.runtime
        views: dict[str, AreaView] = {}
        feed_live = read.on_duty > 0 and (
            read.presence.feed_last_fix is not None
            and now - read.presence.feed_last_fix <= DEFAULT_FEED.stale_after_s
        )
        for count, (area_id, area) in enumerate(sorted(runtime.fences.areas.items()), start=1):
            if count % YIELD_EVERY_AREAS == 0:
                await asyncio.sleep(0)  # let the agents run between slices of a large pack
            facts, known = area_fingerprint(read, area, self._fingerprints.get(area_id))
            self._fingerprints[area_id] = known
            previous = judged.statuses.get(area_id) or self._stored_status(read, area_id)
            present = history.present(area_id, now)
            fingerprint = (feed_live, present, *known[2])
            cached = self._evaluated.get(area_id)
            if (
                previous is not None
                and cached is not None
                and cached.fingerprint == fingerprint
                and (not final or cached.view.status == previous)
                and not due_again(
                    self._policy(area),
                    previous,
                    cached.evaluated_at,
                    now,
                    wall_now - cached.evaluated_wall,
                )
            ):
                views[area_id] = cached.view
                continue
            if facts is None:
                facts = area_facts(area, read.presence, read.demand)
            started = read.since.get(area_id, judged.new_since.get(area_id))
            if started is None:
                started = judged.new_since[area_id] = self._monitoring_start(read, now)
            status, events = evaluate(
                area_id,
                self._policy(area),
                coverage_inputs(facts, read.presence.feed_last_fix, read.on_duty, started, present),
                previous,
                now,
            )
            judged.add(previous, status, events, now, self.zone)
            if not final:
                if cached is not None:  # its view is made at the last instant
                    self._evaluated[area_id] = replace(
                        cached, fingerprint=fingerprint, evaluated_at=now
                    )
                continue
            if cached is not None and not view_due(
                cached.view.status, status, wall_now - cached.evaluated_wall
            ):
                views[area_id] = cached.view  # its fingerprint still differs: due again soon
                continue
            views[area_id] = area_view(facts, status, read.day, self._policy(area), now, started)
            built = (
                wall_now if cached is not None else spread_start(area_id, wall_now, VIEW_REFRESH_S)
            )
            self._evaluated[area_id] = _Evaluated(fingerprint, now, built, views[area_id])
        return views

    def _stored_status(self, read: AreasRead, area_id: str) -> CoverageStatus | None:
        """An area's stored coverage status, parsed again only when it changed."""
        blob = read.stored.get(area_id)
        if blob is None:
            return None
        cached = self._statuses.get(area_id)
        if cached is not None and cached[0] == blob:
            return cached[1]
        status = status_from_dict(orjson.loads(blob))
        self._statuses[area_id] = (blob, status)
        return status

    async def _expire_demand(self, now: float) -> None:
        """Move every demand window on to ``now``, also when no demand arrives (idempotent and
        monotone: an older ``now`` applied later changes nothing)."""
        commits = []
        for source, partitions in DEMAND_SOURCES.items():
            for partition in range(partitions):
                changes = Changes()
                self.runtime.state.expire_demand(
                    changes, self.runtime.state.slot(source, partition), now
                )
                commits.append(PartitionCommit(source, partition, None, changes))
        await self.runtime.state.commit(commits)

    async def _publish_snapshots(self, views: dict[str, AreaView], wall_now: float) -> list[bytes]:
        """Publish snapshots of areas whose snapshot changed, and of every area once a minute
        of wall time; return the changed ones, encoded (live pages reload every area on their
        own, so only changes go to them)."""
        outgoing: list[tuple[bytes, bytes]] = []
        changed: list[bytes] = []
        for count, (area_id, view) in enumerate(views.items(), start=1):
            if count % YIELD_EVERY_AREAS == 0:
                await asyncio.sleep(0)  # let the agents run between slices of a large pack
            last = self._published.get(area_id)
            if last is not None and last[2] is view and wall_now - last[1] < SNAPSHOT_REFRESH_S:
                continue  # the same view as published: not evaluated again since
            ts, fingerprint = snapshot_fingerprint(view.snapshot)
            due = snapshot_due(None if last is None else last[:2], fingerprint, wall_now)
            if due is None:
                self._published[area_id] = (fingerprint, last[1] if last else wall_now, view)
                continue
            encoded = with_ts(ts, fingerprint)
            if due == "changed":
                changed.append(encoded)
            outgoing.append((area_id.encode(), encoded))
            published = (
                wall_now
                if last is not None
                else spread_start(area_id, wall_now, SNAPSHOT_REFRESH_S)
            )
            self._published[area_id] = (fingerprint, published, view)
        await self.runtime.emit_encoded(topics.SNAPSHOTS, outgoing)
        return changed


def snapshot_fingerprint(snapshot: Mapping[str, Any]) -> tuple[object, bytes]:
    """A snapshot's ``ts`` and its content fingerprint: the rest of it encoded with sorted keys.
    The fingerprint is kept per area until the area's next snapshot, so in a buffer of its own
    size (:func:`~streams.domain.encoding.kept_json`: with 10,000 areas, orjson's own 4 KB
    buffers held ~40 MB for ~12 MB of fingerprints)."""
    body = dict(snapshot)
    ts = body.pop("ts")
    return ts, kept_json(body, option=orjson.OPT_SORT_KEYS)


def with_ts(ts: object, body: bytes) -> bytes:
    """A snapshot encoded as its ``ts`` followed by the members of ``body`` (a JSON object
    without ``ts``): the snapshot's content fingerprint is encoded once and published as is."""
    stamp = b'{"ts":' + orjson.dumps(ts)
    return stamp + b"}" if body == b"{}" else stamp + b"," + body[1:]


@dataclass(slots=True)
class _Judgement:
    """What one evaluation judged, over all its instants: each area's latest status, the
    monitoring starts it set, the alert events and the day's state changes, in order."""

    statuses: dict[str, CoverageStatus] = field(default_factory=dict)
    new_since: dict[str, float] = field(default_factory=dict)
    alerts: list[dict[str, object]] = field(default_factory=list)
    changes_today: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def add(
        self,
        previous: CoverageStatus | None,
        status: CoverageStatus,
        events: Sequence[AlertEvent],
        now: float,
        zone: ZoneInfo,
    ) -> None:
        """An area judged at ``now``: its status, its alert events, and its state change."""
        self.statuses[status.area_id] = status
        self.alerts.extend(alert_value(event) for event in events)
        if previous is None or previous.state != status.state:
            change: dict[str, object] = {
                "area_id": status.area_id,
                "state": status.state,
                "ts": format_ts(now),
            }
            self.changes_today.append((local_day(now, zone), change))


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

    def present(self, area_id: str, instant: float) -> int:
        """How many officers were in the area at ``instant`` (:func:`present_at`)."""
        return present_at(self.visits.get(area_id), instant)


@dataclass(frozen=True, slots=True)
class _Evaluated:
    """The last full evaluation of an area: what its facts looked like, when, and the view."""

    fingerprint: tuple[object, ...]
    evaluated_at: float
    evaluated_wall: float
    view: AreaView


def judging_hold_s(settings: Settings) -> float:
    """How far every input must be past an instant before it is judged on the event clock: the
    allowed lateness (no fix up to the instant can still arrive) plus the longest gap between
    two fixes that is still attributed to a visit (no later fix can still extend, across the
    instant, a visit whose latest fix was before it)."""
    return settings.allowed_lateness_s + settings.max_gap_s


def view_due(shown: CoverageStatus | None, status: CoverageStatus, built_s_ago: float) -> bool:
    """Whether an area evaluated again gets a new view: its coverage state, severity or alert
    differs from the one its view shows, or that view was built :data:`VIEW_REFRESH_S` or more
    seconds (wall time) ago."""
    return (
        shown is None
        or (shown.state, shown.severity, shown.active_alert)
        != (status.state, status.severity, status.active_alert)
        or built_s_ago >= VIEW_REFRESH_S
    )


def spread_start(area_id: str, wall_now: float, interval_s: float) -> float:
    """The wall time an area's first view or snapshot counts as made at, for its refresh every
    ``interval_s``: earlier than ``wall_now`` by a fixed share of the interval per area, so that
    the areas of a pack first seen together (a worker's first evaluation of 10,000 areas) come
    due again spread over the interval rather than all in one evaluation."""
    return wall_now - interval_s * (zlib.crc32(area_id.encode()) / 2**32)


def rest_until(started: float, finished: float) -> float:
    """When the next evaluation may start, after one from ``started`` to ``finished`` (so that
    evaluating takes at most :data:`EVALUATION_SHARE` of the wall time)."""
    return finished + (finished - started) * (1.0 / EVALUATION_SHARE - 1.0)


def snapshot_due(
    last: tuple[bytes, float] | None, fingerprint: bytes, wall_now: float
) -> Literal["changed", "refresh"] | None:
    """Whether an area's snapshot is published now, given the last one published (its content
    fingerprint and wall time): ``changed`` content, a ``refresh`` of unchanged content once
    :data:`SNAPSHOT_REFRESH_S` has passed, or ``None``."""
    if last is None or last[0] != fingerprint:
        return "changed"
    return "refresh" if wall_now - last[1] >= SNAPSHOT_REFRESH_S else None


def facts_fingerprint(facts: AreaFacts) -> tuple[object, ...]:
    """What changes when an area's coverage or snapshot can change, other than the clock."""
    return (
        tuple(sorted(facts.present.items())),
        facts.last_qualifying_end,
        facts.visits_today.visits,
        tuple(sorted(facts.open_incidents.items())),
        round(sum(facts.dose_windows.get(900, {}).values()), 1),
        round(sum(sum(totals.values()) for totals in facts.demand_windows.values()), 3),
    )


UNTOUCHED_FINGERPRINT: tuple[object, ...] = ((), None, 0, (), 0.0, 0.0)
""":func:`facts_fingerprint` of an area with no presence or demand state at all (most of a
large pack, most of the time): the evaluator skips building such an area's facts unless it is
due again."""


KnownFingerprint = tuple["Figures", tuple[object, ...], tuple[object, ...]]
"""An area's fingerprint on the last evaluation, with the figures and the inputs read on every
evaluation (presence, last qualifying visit, open incidents) it was made from."""


def area_fingerprint(
    read: AreasRead, area: AreaDefinition, known: KnownFingerprint | None
) -> tuple[AreaFacts | None, KnownFingerprint]:
    """An area's :func:`facts_fingerprint` (with the facts, when they had to be built for it).
    Between two reads of the figures only what is read on every evaluation can change, so an
    area whose presence, last qualifying visit and open incidents are as when ``known`` was made
    from the same figures keeps that fingerprint, and no facts are built for it."""
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


def due_again(
    policy: CoveragePolicy,
    previous: CoverageStatus,
    evaluated_at: float,
    now: float,
    wall_elapsed_s: float,
) -> bool:
    """Whether an area whose facts did not change must still be evaluated at ``now``: its state
    can change with the event clock alone (a threshold or a band boundary is crossed), or its
    last evaluation is ``wall_elapsed_s`` >= :data:`REEVALUATE_AFTER_S` seconds of wall time ago
    (ages and windows in its snapshot)."""
    if wall_elapsed_s >= REEVALUATE_AFTER_S:
        return True
    limit = limit_at(policy, now)
    if limit != previous.limit_s:
        return True
    elapsed = previous.elapsed_s + (now - evaluated_at)
    if previous.state == "covered":
        return elapsed >= (1 - policy.at_risk_share) * limit
    return previous.state == "at_risk" and elapsed >= limit


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
    runtime: Runtime, now: float, figures: Figures | None = None, wall_now: float = 0.0
) -> AreasRead:
    """Read presence, demand and coverage of every area (and refresh the fences); with
    ``figures`` of today, read only who is present, the last qualifying visits, the feed and the
    open incidents, and take the rest from ``figures`` (fresh figures are stamped
    ``wall_now``)."""
    state = runtime.state
    await runtime.refresh_fences(await state.area_version())
    day = local_day(now, ZoneInfo(runtime.settings.timezone))
    fresh = figures is None or figures.day != day
    presence = await state.presence_view(
        topics.BY_NAME[topics.PINGS].partitions, [day], figures=fresh
    )
    demand = await state.demand_view(DEMAND_SOURCES, now - 86400.0, figures=fresh)
    if figures is None or fresh:
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


def area_view(
    facts: AreaFacts,
    status: CoverageStatus | None,
    day: str,
    policy: CoveragePolicy,
    now: float,
    monitored_since: float | None,
) -> AreaView:
    """One area's view: its facts, coverage status, today's ledger and snapshot value."""
    ledger = daily_ledger(
        facts.area.area_id,
        day,
        policy,
        qualifying_visits(facts, now),
        drive_throughs_today(facts),
        dose_today(facts),
        now,
        monitored_since,
    )
    return AreaView(facts, status, snapshot_value(facts, status, ledger, now))


async def current_views(runtime: Runtime, now: float) -> dict[str, AreaView]:
    """Every area's view from what is stored (the last evaluation's coverage statuses)."""
    read = await read_areas(runtime, now)
    return {
        area_id: area_view(
            area_facts(area, read.presence, read.demand),
            read.status(area_id),
            read.day,
            policy_for(area, runtime.settings.timezone),
            now,
            read.since.get(area_id),
        )
        for area_id, area in sorted(runtime.fences.areas.items())
    }


def sse_message(event: str, data: bytes) -> bytes:
    """One server-sent event carrying ``data`` (encoded JSON)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def area_facts(area: AreaDefinition, presence: PresenceView, demand: DemandView) -> AreaFacts:
    """One area's share of the merged presence and demand views."""
    area_id = area.area_id
    return AreaFacts(
        area=area,
        present={
            issi: (role, mode)
            for issi, value in presence.present.get(area_id, {}).items()
            for role, _, mode in (value.partition("|"),)
        },
        dose_windows={w: by_area.get(area_id, {}) for w, by_area in presence.dose_windows.items()},
        dose_total=presence.dose_total.get(area_id, {}),
        last_qualifying_end=presence.last_qualifying_end.get(area_id),
        visits_today=presence.visits.get(area_id) or DayVisits(),
        demand_windows={w: by_area.get(area_id, {}) for w, by_area in demand.windows.items()},
        open_incidents=demand.open_incidents.get(area_id, {}),
        response_samples=demand.response_samples.get(area_id, []),
    )


def coverage_inputs(
    facts: AreaFacts,
    feed_last_fix: float | None,
    on_duty: int,
    since: float,
    officers_present: int,
) -> CoverageInputs:
    """What the coverage rules need to know about one area (``officers_present``: how many at
    the time judged, :meth:`History.present`)."""
    return CoverageInputs(
        last_qualifying_visit_end=facts.last_qualifying_end,
        officers_present=officers_present,
        open_incidents={grade: facts.open_incidents.get(grade, 0) for grade in GRADES},
        feed_last_fix_ts=feed_last_fix,
        officers_on_duty=on_duty,
        since=since,
    )


def area_numbers(view: AreaView, now: float) -> AreaNumbers:
    """The gauges of one area."""
    facts, snapshot = view.facts, view.snapshot
    present: dict[tuple[str, str], int] = {}
    for role, mode in facts.present.values():
        present[(role, mode)] = present.get((role, mode), 0) + 1
    demand = snapshot["demand"]
    ledger = snapshot["coverage"].get("ledger", {})
    last = facts.last_qualifying_end
    return AreaNumbers(
        area_id=facts.area.area_id,
        kind=facts.area.kind,
        present=present,
        dose_today=dose_today(facts),
        dose_total={
            cast(DoseKey, tuple(split.split("|"))): seconds
            for split, seconds in facts.dose_total.items()
        },
        dose_windows={
            name: snapshot["dose"][name]["minutes"] * 60.0 for name in WINDOW_NAMES.values()
        },
        state=snapshot["coverage"]["state"],
        severity=snapshot["coverage"]["severity"],
        last_qualifying_age_s=None if last is None else max(now - last, 0.0),
        qualifying_today=snapshot["visits"]["qualifying_today"],
        drive_throughs_today=snapshot["visits"]["drive_throughs_today"],
        fidelity=ledger.get("fidelity", {}).get("share"),
        open_incidents=demand["open_incidents"],
        incidents_24h={k: v for k, v in demand["incidents_24h"].items() if k != "total"},
        crimes_24h=demand["crimes_24h"]["total"],
        stop_searches_24h=demand["stop_searches_24h"]["total"],
        harm_24h=demand["harm_24h"],
    )


def active_alerts(views: dict[str, AreaView]) -> dict[str, int]:
    """Active alerts by their (highest) severity."""
    counts: dict[str, int] = {}
    for view in views.values():
        alert = None if view.status is None else view.status.active_alert
        if alert is not None:
            counts[alert.severity] = counts.get(alert.severity, 0) + 1
    return counts
