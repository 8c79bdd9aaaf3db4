"""The presence engine: feeds batches of fixes through the pure track state machine.

It runs in the worker's presence process (:mod:`streams.engines.presence_process`), which the
pings reader (:mod:`streams.engines.pings`) hands each batch's raw messages (:class:`PingBatch`).
It keeps, per assigned ``airwave.pings`` partition, the tracks of its radios and the offset
watermark in memory (Redis holds the durable copy, written in the same Lua call as every
aggregate). A partition's cache is loaded on first use and dropped on every rebalance; fixes at
offsets at or below the watermark were applied before and are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from streams import topics
from streams.domain.feedhealth import reporting_minute
from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.joins import RadioJoin
from streams.domain.publication import visit_value
from streams.domain.records import record
from streams.domain.replay import trail_kept_s, trail_minute, trail_point
from streams.domain.ticks import decode_tick, is_heartbeat
from streams.domain.timefmt import format_ts, local_day
from streams.domain.tracks import (
    Fact,
    FixContext,
    FixRejected,
    Policy,
    Track,
    VisitRecorded,
    advance_at,
    clock_settles,
    expire,
    forgettable,
    new_track,
    recontext,
    track_from_json,
    track_to_json,
)
from streams.domain.validation import Rejected, Rejection, decode_ping
from streams.engines.join_cache import JoinCache
from streams.engines.ping_batch import PingBatch
from streams.engines.stage import StageServices
from streams.metrics import PipelineMetrics
from streams.settings import Settings
from streams.state import Changes, PartitionCommit, above_watermarks

log = logging.getLogger(__name__)

IDLE_AFTER_S = 2.0
"""A partition without a batch for this long (and no backlog) settles on the clock."""
YIELD_EVERY_FIXES = 50
"""While a batch is prepared, the event loop gets a turn this often, so that the previous batch's
broker acknowledgements are taken and its Redis commit sent while this one is worked out."""
JOIN_POLL_S = 0.02
"""How often a batch waiting for ``cad.incidents`` to catch up reads its progress again."""
BROKER_CHECK_S = 0.5
"""How often a batch waiting for ``cad.incidents`` asks whether the broker answers: the join wait
counts only the time it did (:meth:`PresenceEngine._await_cad`)."""

BrokerAnswers = Callable[[], Awaitable[bool]]
"""Whether the Kafka broker answers now (:class:`streams.kafka.liveness.BrokerLiveness`)."""


async def _not_known() -> bool:
    return True


class PartitionHandedOverError(Exception):
    """A partition of the batch was let go of (revoked) or taken over by another worker while
    the batch waited: it is not applied here; the partition's owner reads it again."""


def policy_from(settings: Settings) -> Policy:
    """The track policy from the settings."""
    return Policy(
        exit_buffer_m=settings.exit_buffer_m,
        max_gap_s=settings.max_gap_s,
        allowed_lateness_s=settings.allowed_lateness_s,
        qualifying_s=settings.qualifying_s,
        drive_through_s=settings.drive_through_s,
        credit_cap_s=settings.credit_cap_s,
        stuck_fixes=settings.stuck_fixes,
        stuck_s=settings.stuck_s,
    )


@dataclass
class _PartitionWork:
    """What one batch does to one partition."""

    facts: list[Fact] = field(default_factory=list)
    tracks: dict[str, Track] = field(default_factory=dict)
    last_fixes: dict[str, _LastFix] = field(default_factory=dict)
    """Each radio's latest accepted fix, with what was known with it."""
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    visits: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    reported: dict[int, set[str]] = field(default_factory=dict)
    """minute -> the radios on the roster with an accepted fix in it
    (:mod:`streams.domain.feedhealth`)."""
    trail: dict[int, dict[str, tuple[Fix, str, str]]] = field(default_factory=dict)
    """minute -> radio -> its last accepted fix in the minute, with its role and mode (encoded
    once per minute and radio at the commit, :mod:`streams.domain.replay`)."""


@record
class _Decoded:
    """A fix that passed validation: its index in the batch, and its partition's event-time
    progress before it (None: the partition had no data yet)."""

    index: int
    fix: Fix
    progress: float | None


@record
class _LastFix:
    """A radio's latest accepted fix in a batch and what was known with it."""

    fix: Fix
    context: FixContext
    entry: Mapping[str, Any] | None
    location: Location
    mode: str
    stuck: bool = False

    def shown(self) -> dict[str, object]:
        """What the live view and nearest-officer queries show of it."""
        return {
            "ts": self.fix.ts,
            "lat": self.fix.lat,
            "lon": self.fix.lon,
            "role": self.context.role,
            "mode": self.mode,
            "device": self.context.device,
            "callsign": self.context.callsign,
            "on_duty": bool(self.entry and self.entry.get("on_duty")),
            "committed": bool(self.context.assigned_areas),
            "areas": sorted(self.location.inside),
            "stuck": self.stuck,
            "unit": self.context.unit,
        }


@dataclass
class PreparedBatch:
    """A batch of pings worked out (tracks advanced in the cache, Redis changes built) but not
    yet delivered or committed (:meth:`PresenceEngine.finish`)."""

    batch: PingBatch
    commits: list[PartitionCommit]
    work: dict[int, _PartitionWork]
    rejections: list[tuple[int, Rejection]]
    outcomes: Counter[str]
    """How many fixes had each outcome (counted once the batch is committed)."""
    lags: npt.NDArray[np.float64] | None


class PresenceEngine:
    """Tracks, fences and caches of one worker. The caller applies one request at a time; a
    batch may be prepared while the one before it finishes (:meth:`cached` says when)."""

    def __init__(
        self,
        services: StageServices[PipelineMetrics],
        broker_answers: BrokerAnswers = _not_known,
    ) -> None:
        self.services = services
        self.broker_answers = broker_answers
        """Whether the broker answers now (the default, for tools and tests without a broker:
        always); the join wait counts only the time it did."""
        self.policy = policy_from(services.settings)
        self.zone = ZoneInfo(services.settings.timezone)
        self.key = services.settings.pseudonym_key.encode()
        replay_hours = services.settings.replay_hours
        self.trail_kept_s = trail_kept_s(replay_hours) if replay_hours else 0
        """How long the time control's trail is kept (0: the time control is off, none kept)."""
        self.tracks: dict[int, dict[str, Track]] = {}
        self.owners: dict[int, int] = {}
        """partition -> the owner the worker holds it under: every commit of the partition is
        fenced by it (none: not fenced, as in ``coverwatch rebuild`` and tests)."""
        self.with_records: dict[str, list[int]] | None = None
        """The partitions of ``cad.incidents`` and ``stopsearch.events`` that held records when
        the worker last looked (None: not known): the join wait waits for those not read yet."""
        self.watermarks: dict[int, int] = {}
        self.progress: dict[int, float] = {}
        self.last_batch: dict[int, float] = {}
        self.heartbeats = 0
        """In-band heartbeats in the batch being prepared."""
        self.began: dict[int, float] = {}
        """The time of a partition's first record, until it is committed."""
        self.join_cache = JoinCache(services.state)
        self.max_age_s = services.limits.max_age_s
        self.join_gave_up: float | None = None
        """The time a batch last stopped waiting for ``cad.incidents`` at (:meth:`_await_cad`);
        None once CAD has caught up with it."""

    def forget(self) -> None:
        """Drop every cached partition (on rebalance, and whenever the cache may be ahead of
        Redis: it is then reloaded from the durable copy)."""
        self.tracks.clear()
        self.watermarks.clear()
        self.progress.clear()
        self.began.clear()

    def cached(self, batch: PingBatch) -> bool:
        """Whether every partition of ``batch`` is in the cache (preparing it reads no track from
        Redis, so it may run while an earlier batch's commit is still on its way)."""
        return self.tracks.keys() >= set(batch.partitions)

    async def process(self, batch: PingBatch) -> None:
        """One batch of ``airwave.pings``: validate, advance tracks, commit, emit, count."""
        await self.finish(await self.prepare(batch))

    async def prepare(self, batch: PingBatch) -> PreparedBatch:
        """Validate the batch, advance the tracks in the cache and build the Redis changes."""
        try:
            self.join_cache.check_store()
            now = self.services.clock.now()
            await self._load_partitions(set(batch.partitions))
            unapplied = above_watermarks(
                zip(batch.partitions, batch.offsets, strict=True), self.watermarks
            )
            self.heartbeats = 0
            fresh, rejections = self._decode_all(batch, unapplied)
            cad_behind = await self._await_cad(batch)
            work, outcomes = await self._advance(batch, fresh)
            if cad_behind is not None:
                outcomes["cad_behind"] = sum(1 for d in fresh if d.fix.ts > cad_behind)
            for partition_work in work.values():
                rejections.extend(partition_work.rejected)
            commits = []
            last_offsets = batch.last_offsets()
            for partition, offset in last_offsets.items():
                if offset > self.watermarks.get(partition, -1):
                    await asyncio.sleep(0)  # see YIELD_EVERY_FIXES
                    into = work.get(partition, _PartitionWork())
                    commits.append(self._partition_commit(partition, offset, into, now))
            for partition in sorted(work.keys() - last_offsets.keys()):  # revised, no new fix
                commits.append(self._partition_commit(partition, None, work[partition], now))
        except BaseException:
            self.forget()
            raise
        lags = None if now is None else now - np.fromiter((d.fix.ts for d in fresh), float)
        outcomes["replayed"] = len(batch.offsets) - len(unapplied)
        outcomes["heartbeat"] = self.heartbeats
        return PreparedBatch(batch, commits, work, rejections, outcomes, lags)

    async def finish(self, prepared: PreparedBatch) -> bool:
        """Deadletter the rejected fixes, emit the visits, commit every partition of the batch
        (watermark = its last offset) and count. Returns whether the cache is still the one the
        batch was prepared on (False: a partition was applied elsewhere and is reloaded)."""
        batch = prepared.batch
        try:
            await self.services.deadletter(
                topics.PINGS,
                [(batch.message(index), rejection) for index, rejection in prepared.rejections],
            )
            intact = await self._apply(prepared.commits, prepared.work)
        except BaseException:
            self.forget()
            raise
        metrics = self.services.metrics
        metrics.consumed(topics.PINGS, len(batch.offsets))
        for outcome, count in prepared.outcomes.items():
            metrics.fixes(outcome, count)
        if prepared.lags is not None:
            metrics.lags(topics.PINGS, prepared.lags)
        metrics.latencies(topics.PINGS, time.time() - np.asarray(batch.appended, dtype=float))
        return intact

    def _decode_all(
        self, batch: PingBatch, indices: Sequence[int]
    ) -> tuple[list[_Decoded], list[tuple[int, Rejection]]]:
        """Validate the fixes at ``indices`` (those not applied before: a replayed fix is not
        judged again against a clock that has moved on), each with its partition's event-time
        progress before it. On the event clock a fix is judged against that progress (its own
        partition's data, not how far other topics happen to have been read); on the wall clock
        against the wall clock. In-band heartbeats move the progress and are not fixes."""
        clock = self.services.clock
        on_event_clock = self.services.settings.clock == "event"
        limits = self.services.limits
        keys, values, partitions = batch.keys, batch.values, batch.partitions
        progress = self.progress
        decoded: list[_Decoded] = []
        rejections: list[tuple[int, Rejection]] = []
        for index in indices:
            partition = partitions[index]
            before = progress.get(partition)
            now = before if on_event_clock else clock.now()
            try:
                fix = decode_ping(keys[index], values[index], now, limits)
            except Rejected as error:
                try:
                    ts = self._heartbeat(keys[index], values[index], now)
                except Rejected as refused:
                    rejections.append((index, refused.rejection))
                    continue
                if ts is None:
                    rejections.append((index, error.rejection))
                    continue
                self.heartbeats += 1
                if before is None:
                    self.began[partition] = ts
                progress[partition] = ts if before is None or ts > before else before
                continue
            clock.observe(fix.ts)
            if before is None:
                self.began[partition] = fix.ts
            progress[partition] = fix.ts if before is None or fix.ts > before else before
            decoded.append(_Decoded(index, fix, before))
        return decoded, rejections

    async def _await_cad(self, batch: PingBatch) -> float | None:
        """On the event clock, wait until ``cad.incidents`` and ``stopsearch.events`` have been
        read up to the event time of this batch's partitions, so that every fix is classified
        with the assignments and stop-searches valid at its time, whichever topic the workers
        happened to read faster (``docs/time-model.md``, joins). Returns None when they have, or
        when there is nothing to wait for (the wall clock; a topic with a partition without any
        record yet is not waited for: a feed without CAD, stop-searches or in-band heartbeats).
        Otherwise how far they had been read when the wait gave up, after
        ``COVERWATCH_JOIN_WAIT_S`` of wall time during which the broker answered (a feed
        stopped, or lags for good; while the broker is down or paused no worker reads CAD
        either, and that time is not counted); after that no batch waits until they have caught
        up with the batch that gave up."""
        settings = self.services.settings
        needed = max((self.progress.get(p, -math.inf) for p in set(batch.partitions)), default=None)
        if settings.clock != "event" or needed is None or needed == -math.inf:
            return None
        join_cache = self.join_cache
        if join_cache.versions is None:  # the process's first batch: nothing read back yet
            join_cache.observe(await self.services.state.read_versions(join_cache.keys))
            join_cache.check_store()
        waited = 0.0  # wall time waited while the broker answered
        checked = time.monotonic()
        told = False  # the log said the broker does not answer
        while True:
            reached = join_cache.join_progress(self.with_records)
            if reached is None:
                return None
            if reached >= needed:
                self.join_gave_up = None
                return None
            gave_up = self.join_gave_up
            if gave_up is not None and reached < gave_up:
                return reached
            if waited >= settings.join_wait_s:
                log.warning(
                    "cad.incidents and stopsearch.events have been read to %s, the pings to %s: "
                    "classifying fixes without waiting for them until they catch up",
                    format_ts(reached),
                    format_ts(needed),
                )
                self.join_gave_up = needed
                return reached
            await asyncio.sleep(JOIN_POLL_S)
            await self._check_held(batch)
            if time.monotonic() - checked >= min(BROKER_CHECK_S, settings.join_wait_s):
                if await self.broker_answers():
                    waited += time.monotonic() - checked
                elif not told:
                    told = True
                    log.warning("the broker does not answer: the join wait waits until it does")
                checked = time.monotonic()
            join_cache.observe(await self.services.state.read_versions(join_cache.keys))
            join_cache.check_store()

    async def _check_held(self, batch: PingBatch) -> None:
        """:class:`PartitionHandedOverError` once a partition of ``batch`` is no longer held
        under its owner. The join wait checks this: during a rebalance no worker reads
        ``cad.incidents``, so a batch waiting for it would hold the revoke up, and could only
        be refused once done."""
        held = {p: self.owners[p] for p in set(batch.partitions) if p in self.owners}
        if not held:
            return
        owners = await self.services.state.owners(topics.PINGS, held)
        handed_over = sorted(p for p, owner in held.items() if owners.get(p) != owner)
        if handed_over:
            raise PartitionHandedOverError(
                f"partitions {handed_over} were handed over while the batch waited for CAD"
            )

    def _heartbeat(self, key: bytes | None, raw: bytes | None, now: float | None) -> float | None:
        """The time of an in-band heartbeat (None: the record is no heartbeat)."""
        if not is_heartbeat(raw):
            return None
        return decode_tick(key, raw, now, self.services.limits)

    async def _load_partitions(self, partitions: set[int]) -> None:
        """Read the tracks of partitions not in the cache; their recent fixes are stepped again
        with the current fence index (inferred visits are made from it, as by their first
        steps), so the index is brought up to date first."""
        loading = sorted(partitions - self.tracks.keys())
        if loading:
            await self.services.refresh_fences(await self.services.state.area_version())
        for partition in loading:
            watermark, progress, stored = await self.services.state.load_tracks(partition)
            self.watermarks[partition] = watermark
            if progress is not None:
                self.progress[partition] = progress
            fences = self.services.fences
            self.tracks[partition] = {
                issi: track_from_json(blob, self.policy, fences) for issi, blob in stored.items()
            }
            self.join_cache.changed_callsigns.update(  # classified by whoever had them before
                entry.context.callsign
                for track in self.tracks[partition].values()
                for entry in track.recent
                if entry.context.callsign
            )

    async def _advance(
        self, batch: PingBatch, fresh: Sequence[_Decoded]
    ) -> tuple[dict[int, _PartitionWork], Counter[str]]:
        """Each fresh fix through its radio's track; the work per partition and how many fixes
        had each outcome."""
        work: dict[int, _PartitionWork] = defaultdict(_PartitionWork)
        outcomes: Counter[str] = Counter()
        if not fresh:
            return work, outcomes
        issis = sorted({decoded.fix.issi for decoded in fresh})
        roster, assignments = await self.join_cache.entries(issis)
        await self._revise_assignments(work)
        await self.services.refresh_fences(self.join_cache.area_version)
        locations = self.services.fences.locate(
            np.fromiter((decoded.fix.lon for decoded in fresh), float, len(fresh)),
            np.fromiter((decoded.fix.lat for decoded in fresh), float, len(fresh)),
        )
        searched, horizon_s = self.join_cache.stop_searches, self.policy.max_gap_s
        joins = {issi: RadioJoin(roster[issi], assignments, searched, horizon_s) for issi in issis}
        policy = self.policy
        accepted = 0
        for position, (decoded, location) in enumerate(zip(fresh, locations, strict=True)):
            if position % YIELD_EVERY_FIXES == YIELD_EVERY_FIXES - 1:
                await asyncio.sleep(0)  # the batch before this one goes on committing meanwhile
            index, fix = decoded.index, decoded.fix
            issi = fix.issi
            partition = batch.partitions[index]
            into, cache = work[partition], self.tracks[partition]
            entry, context = joins[issi].at(fix.ts)
            track, facts = advance_at(
                cache.get(issi) or new_track(issi),
                fix,
                location,
                context,
                policy,
                decoded.progress,
                self.services.fences,
            )
            cache[issi] = into.tracks[issi] = track
            rejected = [fact for fact in facts if type(fact) is FixRejected] if facts else None
            if rejected:
                for fact in rejected:
                    outcomes[fact.reason] += 1
                    if fact.reason != "duplicate":
                        into.rejected.append((index, _rejection(fact)))
            else:
                accepted += 1
                state = track.state
                into.last_fixes[issi] = _LastFix(
                    fix, context, entry, location, state.mode, stuck=state.stuck
                )
                if self.trail_kept_s:
                    step = into.trail.setdefault(trail_minute(fix.ts), {})
                    step[issi] = (fix, context.role, state.mode)
                if entry is not None and not state.stuck:
                    into.reported.setdefault(reporting_minute(fix.ts), set()).add(issi)
            into.facts.extend(facts)
        outcomes["accepted"] = accepted
        outcomes["unknown_radio"] = sum(1 for decoded in fresh if not roster[decoded.fix.issi])
        finished = time.monotonic()
        for partition in work:
            self.last_batch[partition] = finished
        return work, outcomes

    async def _revise_assignments(self, work: dict[int, _PartitionWork]) -> None:
        """Classify again the recent fixes of radios whose callsign's assignments or
        stop-searches changed since they were classified (CAD or a stop-search read after the
        pings it concerns), into ``work``: the same result as if it had been read first, for
        every fix still within the lateness."""
        changed = self.join_cache.take_changed()
        if not changed:
            return
        affected = {
            (partition, issi): track
            for partition, cache in self.tracks.items()
            for issi, track in cache.items()
            if any(entry.context.callsign in changed for entry in track.recent)
        }
        if not affected:
            return
        roster, assignments = await self.join_cache.entries(sorted({i for _, i in affected}))
        searched, horizon_s = self.join_cache.stop_searches, self.policy.max_gap_s
        for (partition, issi), track in affected.items():
            join = RadioJoin(roster[issi], assignments, searched, horizon_s)
            revised, facts = recontext(track, join.context, self.policy, self.services.fences)
            if facts:
                into = work[partition]
                self.tracks[partition][issi] = into.tracks[issi] = revised
                into.facts.extend(facts)

    def _partition_commit(
        self, partition: int, last_offset: int | None, work: _PartitionWork, now: float | None
    ) -> PartitionCommit:
        changes = Changes()
        work.visits = self._visit_values(work.facts)
        self.services.state.record_presence(
            changes,
            partition,
            work.facts,
            {visit_id: (day, value) for visit_id, day, value in work.visits},
            {issi: track_to_json(track) for issi, track in work.tracks.items()},
            {issi: (last.fix, last.shown()) for issi, last in work.last_fixes.items()},
            now if now is not None else 0.0,
            self.progress.get(partition),
            self.began.pop(partition, None),
            reported=work.reported,
            trail={
                minute: {
                    issi: trail_point(fix.ts, fix.lat, fix.lon, role, mode).encoded()
                    for issi, (fix, role, mode) in step.items()
                }
                for minute, step in work.trail.items()
            },
            trail_kept_s=self.trail_kept_s,
        )
        return PartitionCommit(
            topics.PINGS, partition, last_offset, changes, self.owners.get(partition)
        )

    async def _apply(self, commits: list[PartitionCommit], work: dict[int, _PartitionWork]) -> bool:
        """Emit the visits, then commit. Visits are delivered before the commit that makes a
        replay skip their fixes: a crash in between repeats them (same id and revision), never
        loses them. Returns False when a partition was applied elsewhere (and is reloaded)."""
        outgoing = [
            (str(value["area_id"]).encode(), value)
            for commit in commits
            for _, _, value in work.get(commit.partition, _PartitionWork()).visits
        ]
        await self.services.emit(topics.VISITS, outgoing)
        self.services.metrics.visits(value["status"] for _, value in outgoing)
        join_cache = self.join_cache
        applied, versions = await self.services.state.commit_and_read(commits, join_cache.keys)
        join_cache.observe(versions)
        for commit, done in zip(commits, applied, strict=True):
            if not done:
                log.warning("partition %d was applied elsewhere; reloading it", commit.partition)
                self.tracks.pop(commit.partition, None)
            elif commit.last_offset is not None:
                self.watermarks[commit.partition] = commit.last_offset
        return all(applied)

    def _visit_values(self, facts: Sequence[Fact]) -> list[tuple[str, str, dict[str, object]]]:
        """(internal visit id, local day, published value) of each visit fact. The internal id
        (the field of the day's visits in Redis) never leaves the service; the published value
        carries the keyed one (:func:`~streams.domain.publication.published_visit_id`)."""
        values = []
        for fact in facts:
            if isinstance(fact, VisitRecorded):
                visit = fact.visit
                day = local_day(visit.start, self.zone)
                values.append((visit.visit_id, day, visit_value(self.key, visit)))
        return values

    def _settle_time(
        self, partition: int, clock_settle: float, highwater: int | None
    ) -> float | None:
        """How far a partition may be settled: never past its own data while that data may still
        be coming.

        On the event clock, exactly the partition's own event-time progress (its fixes and in-band
        heartbeats): a function of the partition's records alone, however fast it and the other
        topics are read. On the wall clock, the same while fixes flow (a backlog on the broker:
        its ``highwater`` mark is past the applied offset; a partition just assigned, whose
        high-water mark is not known yet; or a batch within the last :data:`IDLE_AFTER_S`), and
        the clock's settle time once the partition is idle, so that silent radios' visits close
        and windows move when traffic is thin or stops.
        """
        progress = self.progress.get(partition)
        if self.services.settings.clock == "event":
            return progress
        backlogged = highwater is None or highwater - 1 > self.watermarks.get(partition, -1)
        flowing = backlogged or (
            time.monotonic() - self.last_batch.get(partition, -IDLE_AFTER_S) < IDLE_AFTER_S
        )
        if not flowing:
            return clock_settle
        return None if progress is None else min(progress, clock_settle)

    async def tick(self, highwaters: Mapping[int, int | None]) -> None:
        """Clock-driven: settle tracks, close visits of silent radios, expire dose windows, and
        forget radios silent for good (:func:`~streams.domain.tracks.forgettable`: their
        tracks, latest fixes and cached roster entries).

        ``highwaters``: each ``airwave.pings`` partition's high-water mark as of the worker's
        last fetch (None before one). A failure drops the cache: the expired tracks may be
        ahead of Redis."""
        clock_settle = self.services.clock.settle_time()
        if clock_settle is None:
            return
        try:
            work: dict[int, _PartitionWork] = defaultdict(_PartitionWork)
            commits: list[PartitionCommit] = []
            await self.join_cache.entries([])
            await self._revise_assignments(work)  # before settling puts fixes out of reach
            for partition, cache in self.tracks.items():
                settle = self._settle_time(partition, clock_settle, highwaters.get(partition))
                if settle is None:
                    if partition in work:
                        commits.append(
                            self._partition_commit(partition, None, work[partition], clock_settle)
                        )
                    continue
                into = work[partition]
                silent: list[str] = []
                for issi, track in cache.items():
                    if not clock_settles(track, settle, self.policy):
                        if forgettable(track, settle, self.policy, self.max_age_s):
                            silent.append(issi)
                        continue
                    expired, facts = expire(track, settle, self.policy)
                    if facts or expired.recent != track.recent:
                        cache[issi] = expired
                        into.tracks[issi] = expired
                        into.facts.extend(facts)
                commit = self._partition_commit(partition, None, into, settle)
                self.services.state.forget_radios(commit.changes, partition, silent)
                for issi in silent:
                    del cache[issi]
                    self.join_cache.roster.pop(issi, None)
                commits.append(commit)
            await self._apply(commits, work)
        except BaseException:
            self.forget()
            raise


def _rejection(fact: FixRejected) -> Rejection:
    if fact.reason == "too_late":
        return Rejection(
            "too_late", f"fix at {format_ts(fact.fix.ts)} is beyond the allowed lateness"
        )
    return Rejection("implausible_speed", "fix implies an impossible speed from the last fix")
