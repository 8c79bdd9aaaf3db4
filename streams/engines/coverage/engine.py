"""The coverage evaluator: on the clock, one worker (the leader) judges the areas.

Every :data:`EVALUATE_EVERY_S` the worker that holds the leader lock in Redis reads presence,
demand and the stored coverage statuses, judges the areas that can have changed
(:class:`~streams.domain.area_watch.AreaWatch`: the others keep their last evaluation) with the
pure rules of ``streams.domain.coverage``, publishes alert events to ``coverage.alerts`` and
changed snapshots to ``area.snapshots``, stores the statuses and the published snapshots (only
while it still holds the lock; the API serves those snapshots) and exports the area metrics. The
other workers export no area series. Alerts are published before the statuses are stored: a
crash in between re-raises the same ``alert_id`` (at least once). When to judge, view and publish
an area again is decided by ``streams.domain.scheduling``. On the same tick the leader runs the
daily refresh of the evaluation reports (:mod:`streams.engines.coverage.reports`)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

import orjson

from streams import topics
from streams.domain.area_watch import AreaWatch, WatchedInputs
from streams.domain.areas import AreaDefinition
from streams.domain.coverage import (
    DEFAULT_FEED,
    CoveragePolicy,
    CoverageStatus,
    FeedPolicy,
    evaluate,
    limit_at,
    policy_for,
    status_from_dict,
    status_to_dict,
)
from streams.domain.feedhealth import (
    DutyRoster,
    FeedHealth,
    feed_health_at,
    ingest_lag_s,
    ingest_lagging,
    reporting_minutes,
)
from streams.domain.incidents import incident_from_dict
from streams.domain.judging import coverage_watermark, judging_instants, monitoring_start
from streams.domain.progress import read_progress
from streams.domain.scheduling import (
    VIEW_REFRESH_S,
    due_again,
    rest_until,
    spread_start,
    view_due,
)
from streams.domain.snapshots import AreaFacts
from streams.engines.coverage.instant import Evaluated, Instant, feed_live, feed_state
from streams.engines.coverage.patrol import PatrolMinutes
from streams.engines.coverage.reading import (
    DEMAND_SOURCES,
    AreasRead,
    Figures,
    History,
    KnownFingerprint,
    area_facts,
    area_fingerprint,
    coverage_inputs,
    read_areas,
)
from streams.engines.coverage.reports import DailyReports
from streams.engines.coverage.views import (
    YIELD_EVERY_AREAS,
    AreaView,
    Judgement,
    SnapshotLog,
    SnapshotsDue,
    active_alerts,
    area_numbers,
    area_view,
    live_events,
)
from streams.engines.runtime import Runtime
from streams.settings import Settings, parse_units
from streams.state import Changes, PartitionCommit

log = logging.getLogger(__name__)

EVALUATE_EVERY_S = 2.0
LEADER_TTL_MS = 10_000
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


def judging_hold_s(settings: Settings) -> float:
    """How far every input must be past an instant before it is judged on the event clock: the
    allowed lateness (no fix up to the instant can still arrive) plus the longest gap between
    two fixes that is still attributed to a visit (no later fix can still extend, across the
    instant, a visit whose latest fix was before it)."""
    return settings.allowed_lateness_s + settings.max_gap_s


class CoverageEngine:
    """Coverage, snapshots and area metrics; active only on the leader."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker_id = uuid.uuid4().hex
        self.zone_name = runtime.settings.timezone
        self.zone = ZoneInfo(self.zone_name)
        self._metric_units = parse_units(runtime.settings.metric_units)
        self.leading = False
        self.views: dict[str, AreaView] = {}
        self._snapshots = SnapshotLog()
        self._statuses: dict[str, tuple[bytes, CoverageStatus]] = {}
        self._policies: dict[str, CoveragePolicy] = {}
        self._evaluated: dict[str, Evaluated] = {}
        self._policy_version = -1
        self._rest_until = 0.0
        self._monitoring_began: float | None = None
        """On the event clock: when monitoring began (:func:`monitoring_start`)."""
        self._figures: Figures | None = None
        self._patrol = PatrolMinutes()
        self._fingerprints: dict[str, KnownFingerprint] = {}
        self._watch = AreaWatch()
        """Which areas can have changed since they were last judged."""
        self._viewed_at = 0.0
        """Wall time (monotonic) the views were last built."""
        self._judged_stored: float | None = None
        """On the event clock: the last instant this worker stored as judged."""
        self._duty: tuple[bytes | None, DutyRoster] | None = None
        """Who was on duty when (the roster version it was read at, and the roster)."""
        self._reported: dict[int, frozenset[str]] = {}
        """On the event clock: minute -> the radios that reported in it, for minutes before the
        instants judged (final: every pings partition has passed them by the hold)."""
        self._progress: list[float | None] = []
        """Each pings partition's event-time progress, as of the last look."""
        self._feed = FeedPolicy(DEFAULT_FEED.stale_after_s, runtime.settings.feed_degraded_share)
        self.reports = DailyReports(runtime)
        """The daily refresh of the evaluation reports (the leader's)."""
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

    # -- the clock and the lock ---------------------------------------------------------------

    async def tick(self) -> None:
        """One evaluation, if this worker leads."""
        runtime = self.runtime
        self._follow_lead(await runtime.state.lead(self.worker_id, LEADER_TTL_MS))
        if runtime.clock.now() is None:
            stored = await runtime.state.event_clock()
            if stored is not None:
                runtime.clock.observe(stored)  # a restarted event clock resumes where it was
        if not self.leading or time.monotonic() < self._rest_until:
            return
        instants = await self._instants(runtime.clock.now())
        await self._export_ingest_lag(runtime.clock.now())
        await self.reports.check(self._watermark)
        if not instants:
            return
        started = time.monotonic()
        await self._evaluate(instants)
        finished = time.monotonic()
        runtime.metrics.coverage_evaluation.observe(finished - started)
        self._rest_until = rest_until(started, finished)

    def _follow_lead(self, leading: bool) -> None:
        """Note whether this worker leads; one that stopped leading forgets what it evaluated
        and stops exporting area series."""
        if leading == self.leading:
            return
        log.info("coverage leader: %s", "this worker" if leading else "another worker")
        self.leading = leading
        if not leading:
            self.runtime.metrics.stop_exporting_areas()
            self.runtime.metrics.ingest_lag(None, lagging=False)
            self._forget()

    def _forget(self) -> None:
        """Forget what this worker evaluated, stored and published: the next evaluation builds,
        stores and publishes every area again."""
        self._snapshots.clear()
        self._evaluated.clear()
        self._statuses.clear()
        self._figures = None
        self._patrol = PatrolMinutes()
        self._fingerprints.clear()
        self._watch.forget()
        self._judged_stored = None
        self._reported.clear()
        self._duty = None

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
        read_at = time.time()
        progress, began = await state.pings_progress(topics.BY_NAME[topics.PINGS].partitions)
        self._progress = progress
        self._monitoring_began = monitoring_start(began)
        cad = await state.cad_progress(topics.BY_NAME[topics.INCIDENTS].partitions)
        watermark = coverage_watermark(
            clock_now,
            [
                *await self._read_progress(topics.PINGS, progress, read_at),
                *await self._read_progress(topics.INCIDENTS, cad, read_at),
            ],
        )
        if self._monitoring_began is None or watermark is None:
            return []
        self._watermark = watermark
        judged = await state.judged_through()
        if self._judged_stored is not None and (judged is None or judged < self._judged_stored):
            log.warning("coverage: the store lost instants this worker judged; storing all again")
            self._forget()  # e.g. Redis came back from its AOF without its last writes
        instants = judging_instants(
            judged,
            self._monitoring_began,
            watermark,
            judging_hold_s(self.runtime.settings),
        )
        if not instants and judged is not None and self._views_stale():
            return [judged]  # judged again as it was: nothing changes, the views are shown
        return instants

    async def _read_progress(
        self, topic: str, progress: list[float | None], read_at: float
    ) -> list[float | None]:
        """``progress`` (read at ``read_at``, wall time) with a partition that holds records
        none of which has been applied read up to nothing
        (:func:`~streams.domain.progress.read_progress`: after a rebuild, coverage is not judged
        on the partitions read first alone)."""
        if all(value is not None for value in progress):
            return progress
        with_records = await self.runtime.records_seen.current(after=read_at)
        if with_records is None:
            return progress
        waited = with_records.get(topic, [])
        if not any(progress[p] is None for p in waited):
            return progress
        marks = await self.runtime.state.watermarks(topic, range(len(progress)))
        applied = [marks[p] >= 0 for p in range(len(progress))]
        return read_progress(progress, applied, waited)

    async def _export_ingest_lag(self, clock_now: float | None) -> None:
        """Export how far the slowest pings partition is behind the clock, and whether that is
        more than ``COVERWATCH_INGEST_LAG_BOUND_S`` (on the wall clock, the progress is read
        here; on the event clock :meth:`_instants` read it)."""
        runtime = self.runtime
        if runtime.settings.clock != "event":
            partitions = topics.BY_NAME[topics.PINGS].partitions
            self._progress, _ = await runtime.state.pings_progress(partitions)
        lag = ingest_lag_s(clock_now, self._progress)
        runtime.metrics.ingest_lag(
            lag, lagging=ingest_lagging(lag, runtime.settings.ingest_lag_bound_s)
        )

    def _views_stale(self) -> bool:
        """Whether this worker leads without views yet (it has just taken over), or built them
        :data:`VIEW_REFRESH_S` or more ago (the event clock has stalled): the last instant is
        then judged again, which changes nothing (:func:`evaluate` is idempotent), so that the
        live views, snapshots and metrics are there and refreshed."""
        return not self.views or time.monotonic() - self._viewed_at >= VIEW_REFRESH_S

    # -- one evaluation -----------------------------------------------------------------------

    async def _evaluate(self, instants: Sequence[float]) -> None:
        """Judge every area at each instant in turn, then show, store and publish the result
        (views, snapshots and metrics as of the last instant)."""
        runtime = self.runtime
        wall_now, now = time.monotonic(), instants[-1]
        read, history = await self._read(instants, wall_now)
        judged, views = await self._judge_instants(read, history, instants, wall_now)
        await self._emit_alerts(judged.alerts)
        snapshots = await self._snapshots.due(views, wall_now)
        await self._store(judged, snapshots, now)
        self.views, self._viewed_at = views, wall_now
        await runtime.emit_encoded(topics.SNAPSHOTS, snapshots.messages())
        self._snapshots.published(snapshots)
        await runtime.state.publish_events(live_events(judged.alerts, snapshots.changed))
        runtime.metrics.export_areas(
            lambda: (
                (area_numbers(view, now, self._metric_units) for view in views.values()),
                active_alerts(views),
            )
        )

    async def _read(self, instants: Sequence[float], wall_now: float) -> tuple[AreasRead, History]:
        """Move the demand windows on, then read every area (the figures again only every
        :data:`FIGURES_REFRESH_S`) and what the instants are judged with."""
        now = instants[-1]
        await self._expire_demand(max(now, self._watermark or now))
        figures = self._figures
        if figures is not None and wall_now - figures.read_at >= FIGURES_REFRESH_S:
            figures = None
        read = await read_areas(self.runtime, now, figures, wall_now, self._patrol)
        self._figures = read.figures
        return read, await self._history(read, instants[0])

    async def _feed_health(self, instants: Sequence[float]) -> dict[float, FeedHealth]:
        """The radios on duty at each instant and how many of them reported in the max gap
        before it (:func:`~streams.domain.feedhealth.feed_health_at`). The roster is read again
        when it changed; on the event clock each minute's reports once (they are final by the
        time an instant after them is judged). While some pings partition has no progress at all
        (not read yet, as after a rebuild: the coverage watermark leaves it out), its radios'
        reports cannot be counted: the reporting is then not measured (None), and the feed is
        judged as before by its latest fix; so it is, on the event clock, for an instant whose
        window begins before monitoring did (:func:`~streams.domain.feedhealth.feed_health_at`),
        whatever had been read when it was judged."""
        state, settings = self.runtime.state, self.runtime.settings
        counter = await state.roster_counter()
        if self._duty is None or self._duty[0] != counter:
            version, versions = await state.duty_versions()
            self._duty = (version, DutyRoster(versions))
        duty = self._duty[1]
        if not self._progress or any(value is None for value in self._progress):
            return {at: FeedHealth(len(duty.on_duty_at(at)), None) for at in instants}
        window_s = settings.max_gap_s
        needed = sorted({m for at in instants for m in reporting_minutes(at, window_s)})
        event = settings.clock == "event"
        missing = [minute for minute in needed if not event or minute not in self._reported]
        fresh = await state.reporting(topics.BY_NAME[topics.PINGS].partitions, missing)
        reported = {minute: frozenset(fresh.get(minute, ())) for minute in missing}
        if event:
            self._reported.update(reported)
            first = needed[0] if needed else None
            for minute in [m for m in self._reported if first is None or m < first]:
                del self._reported[minute]
            reported = self._reported
        began = self._monitoring_began if event else None
        return {at: feed_health_at(duty, reported, at, window_s, began) for at in instants}

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

    async def _emit_alerts(self, alerts: Sequence[dict[str, object]]) -> None:
        """Publish the alert events to ``coverage.alerts`` and count them."""
        runtime = self.runtime
        await runtime.emit(topics.ALERTS, [(str(a["area_id"]).encode(), a) for a in alerts])
        for alert in alerts:
            runtime.metrics.alert_events.labels(str(alert["event"])).inc()

    async def _store(self, judged: Judgement, snapshots: SnapshotsDue, now: float) -> None:
        """Store the statuses, monitoring starts, alerts, state changes, the last instant judged
        (event clock) and the snapshots about to be published, in one call that applies only
        while this worker still holds the leader lock."""
        state = self.runtime.state
        changes = Changes()
        statuses = {area_id: status_to_dict(status) for area_id, status in judged.statuses.items()}
        state.record_coverage(
            changes,
            self.worker_id,
            statuses,
            judged.new_since,
            judged.alerts,
            judged.changes_today,
            now if self.runtime.settings.clock == "event" else None,
        )
        state.record_area_views(changes, snapshots.outgoing)
        await state.commit([PartitionCommit("coverage", 0, None, changes)])
        self._watch.stored({area_id: orjson.dumps(value) for area_id, value in statuses.items()})
        if self.runtime.settings.clock == "event":
            self._judged_stored = now

    # -- judging ------------------------------------------------------------------------------

    async def _judge_instants(
        self, read: AreasRead, history: History, instants: Sequence[float], wall_now: float
    ) -> tuple[Judgement, dict[str, AreaView]]:
        """Judge every area at each instant in turn; what was judged, and the views of the
        last instant."""
        judged = Judgement()
        views: dict[str, AreaView] = {}
        healths = await self._feed_health(instants)
        for now in instants:
            history.apply(read, now, self.runtime.settings.qualifying_s)
            health = healths[now]
            live = feed_live(read, now, health.on_duty)
            feed = feed_state(read.presence.feed_last_fix, health, now, self._feed)
            instant = Instant(
                read,
                now,
                wall_now,
                history,
                live,
                final=now == instants[-1],
                health=health,
                feed=feed,
            )
            views = await self._judge(instant, judged)
        return judged, views

    async def _judge(self, instant: Instant, judged: Judgement) -> dict[str, AreaView]:
        """Judge at ``instant`` every area whose last evaluation can have changed
        (:class:`~streams.domain.area_watch.AreaWatch`) from the status it was last judged with,
        adding to ``judged``; at the final instant, also every area's view (the others keep
        theirs)."""
        areas = self.runtime.fences.areas
        limits: dict[CoveragePolicy, float] = {}

        def limit_in_force(policy: CoveragePolicy) -> float:
            if policy not in limits:
                limits[policy] = limit_at(policy, instant.now)
            return limits[policy]

        due = self._watch.to_judge(
            areas, self._watched(instant), instant.now, instant.wall_now, limit_in_force
        )
        views: dict[str, AreaView] = {}
        for count, area_id in enumerate(sorted(due), start=1):
            if count % YIELD_EVERY_AREAS == 0:
                await asyncio.sleep(0)  # let the agents run between slices of a large pack
            view = self._judge_area(areas[area_id], instant, judged)
            if view is not None:
                views[area_id] = view
        if not instant.final:
            return {}
        return {
            area_id: views[area_id] if area_id in due else self._evaluated[area_id].view
            for area_id in sorted(areas)
        }

    def _watched(self, at: Instant) -> WatchedInputs:
        """What decides, at ``at``, which areas can have changed."""
        read = at.read
        return WatchedInputs(
            touched=read.touched,
            present=read.presence.present,
            last_qualifying_end=read.presence.last_qualifying_end,
            open_incidents=read.demand.open_incidents,
            stored=read.stored,
            history=at.history.visits,
            figures=read.figures,
            feed=at.feed,
            policy_version=self.runtime.fence_version,
        )

    def _judge_area(self, area: AreaDefinition, at: Instant, judged: Judgement) -> AreaView | None:
        """Judge one area at ``at`` (officers present, the latest qualifying visit and open
        incidents as of then: ``at.history``), unless its last evaluation still stands; its
        view (None: not the final instant, and not skipped). An area whose last evaluation is
        made from what it was judged with here, and whose view shows its status, settles."""
        area_id = area.area_id
        facts, known = area_fingerprint(at.read, area, self._fingerprints.get(area_id))
        self._fingerprints[area_id] = known
        previous = judged.statuses.get(area_id) or self._stored_status(at.read, area_id)
        qualifying_s = self.runtime.settings.qualifying_s
        visits = at.history.visits_at(area_id, at.now, qualifying_s)
        fingerprint = (at.feed, visits, *known[2])
        cached = self._evaluated.get(area_id)
        if cached is not None and self._still_stands(area, previous, cached, fingerprint, at):
            self._settle(area, previous, fingerprint)
            return cached.view if at.final else None
        if facts is None:
            facts = area_facts(area, at.read.presence, at.read.demand)
        started = self._monitored_since(area_id, at, judged)
        inputs = coverage_inputs(
            facts,
            at.read.presence.feed_last_fix,
            at.health.on_duty,
            started,
            visits,
            qualifying_s,
            radios_reporting=at.health.reporting,
        )
        status, events = evaluate(area_id, self._policy(area), inputs, previous, at.now, self._feed)
        judged.add(previous, status, events, at.now, self.zone)
        view = None
        if at.final:
            view = self._view(area, facts, status, started, fingerprint, at)
        elif cached is not None:  # its view is made at the last instant
            self._evaluated[area_id] = replace(cached, fingerprint=fingerprint, evaluated_at=at.now)
        self._settle(area, status, fingerprint)
        return view

    def _settle(
        self, area: AreaDefinition, status: CoverageStatus | None, fingerprint: tuple[object, ...]
    ) -> None:
        """Tell the watch that an area's last evaluation stands, if it does: it was made from
        ``fingerprint`` and its view shows ``status``."""
        cached = self._evaluated.get(area.area_id)
        if (
            status is not None
            and cached is not None
            and cached.fingerprint == fingerprint
            and cached.view.status == status
        ):
            self._watch.settle(
                area.area_id,
                self._policy(area),
                status,
                cached.evaluated_at,
                cached.evaluated_wall,
            )

    def _still_stands(
        self,
        area: AreaDefinition,
        previous: CoverageStatus | None,
        cached: Evaluated,
        fingerprint: tuple[object, ...],
        at: Instant,
    ) -> bool:
        """Whether an area's last evaluation stands at ``at``: its facts look the same, its view
        shows the status it was last judged with (at the final instant), and it is not due again
        (:func:`~streams.domain.scheduling.due_again`)."""
        return (
            previous is not None
            and cached.fingerprint == fingerprint
            and (not at.final or cached.view.status == previous)
            and not due_again(
                self._policy(area),
                previous,
                cached.evaluated_at,
                at.now,
                at.wall_now - cached.evaluated_wall,
            )
        )

    def _view(
        self,
        area: AreaDefinition,
        facts: AreaFacts,
        status: CoverageStatus,
        started: float,
        fingerprint: tuple[object, ...],
        at: Instant,
    ) -> AreaView:
        """The view of an area judged at the final instant: a new one when it is due
        (:func:`~streams.domain.scheduling.view_due`), else the one it has (its fingerprint
        still differs, so it is due again soon)."""
        area_id = area.area_id
        cached = self._evaluated.get(area_id)
        if cached is not None and not view_due(
            cached.view.status, status, at.wall_now - cached.evaluated_wall
        ):
            return cached.view
        view = area_view(facts, status, at.read.day, self._policy(area), at.now, started)
        built = (
            at.wall_now
            if cached is not None
            else spread_start(area_id, at.wall_now, VIEW_REFRESH_S)
        )
        self._evaluated[area_id] = Evaluated(fingerprint, at.now, built, view)
        return view

    def _monitored_since(self, area_id: str, at: Instant, judged: Judgement) -> float:
        """When monitoring of an area began: stored, set earlier in this evaluation, or now
        (:meth:`_monitoring_start`, noted in ``judged``)."""
        started = at.read.since.get(area_id, judged.new_since.get(area_id))
        if started is None:
            started = judged.new_since[area_id] = self._monitoring_start(at.read, at.now)
        return started

    def _monitoring_start(self, read: AreasRead, now: float) -> float:
        """When monitoring of an area first evaluated now began. On the wall clock, now. On the
        event clock, for the areas of the service's first evaluations, when the first pings
        record was (:func:`monitoring_start`; nothing is evaluated before one is committed); an
        area defined later begins at the watermark of its first evaluation."""
        if self.runtime.settings.clock != "event" or read.since:
            return now
        began = self._monitoring_began
        return now if began is None else min(began, now)

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
