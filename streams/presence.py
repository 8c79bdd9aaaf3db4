"""The presence engine: feeds batches of fixes through the pure track state machine.

It runs in the worker's presence process (:mod:`streams.presence_process`), which the pings
agent hands each batch's raw messages (:class:`PingBatch`). It keeps, per assigned
``airwave.pings`` partition, the tracks of its radios and the offset watermark in memory (Redis
holds the durable copy, written in the same Lua call as every aggregate). A partition's cache is
loaded on first use and dropped on every rebalance; fixes at offsets at or below the watermark
were applied before and are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from streams import topics
from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.publication import pseudonym, visit_value
from streams.domain.records import record
from streams.domain.roster import UNKNOWN_OFFICER_ROLE
from streams.domain.timefmt import format_ts, local_day
from streams.domain.tracks import (
    Fact,
    FixContext,
    FixRejected,
    Policy,
    Track,
    VisitRecorded,
    advance,
    clock_settles,
    expire,
    forgettable,
    new_track,
    track_from_json,
    track_to_json,
)
from streams.domain.validation import Rejected, Rejection, decode_ping
from streams.metrics import PipelineMetrics
from streams.settings import Settings
from streams.stage import StageRuntime
from streams.state import Changes, PartitionCommit, State, above_watermarks

log = logging.getLogger(__name__)

IDLE_AFTER_S = 2.0
"""A partition without a batch for this long (and no backlog) settles on the clock."""
YIELD_EVERY_FIXES = 50
"""While a batch is prepared, the event loop gets a turn this often, so that the previous batch's
broker acknowledgements are taken and its Redis commit sent while this one is worked out."""
DIRECTORY_FRESH_S = 0.1
"""Versions of the areas, roster and assignments read this recently are used as they are (each
commit reads them again in its round trip); older ones are read again first."""


class PingBatch(msgspec.Struct, array_like=True, frozen=True):
    """The raw messages of one batch of ``airwave.pings``, column by column (the form in which
    they cross to the presence process: no object per message)."""

    partitions: list[int]
    offsets: list[int]
    keys: list[bytes | None]
    values: list[bytes | None]
    appended: list[float]
    """Each message's broker timestamp, seconds since the epoch."""

    def message(self, index: int) -> RawMessage:
        """The message at ``index``."""
        return RawMessage(
            self.keys[index], self.values[index], self.partitions[index], self.offsets[index]
        )

    def last_offsets(self) -> dict[int, int]:
        """The last offset of each partition in the batch."""
        last: dict[int, int] = {}
        for partition, offset in zip(self.partitions, self.offsets, strict=True):
            if offset > last.get(partition, -1):
                last[partition] = offset
        return last


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One input message of a :class:`PingBatch` (what a deadletter record keeps of it)."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int


def policy_from(settings: Settings) -> Policy:
    """The track policy from the settings."""
    return Policy(
        exit_buffer_m=settings.exit_buffer_m,
        max_gap_s=settings.max_gap_s,
        allowed_lateness_s=settings.allowed_lateness_s,
        qualifying_s=settings.qualifying_s,
        drive_through_s=settings.drive_through_s,
        credit_cap_s=settings.credit_cap_s,
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


@record
class _LastFix:
    """A radio's latest accepted fix in a batch and what was known with it."""

    fix: Fix
    context: FixContext
    entry: dict[str, Any] | None
    location: Location
    mode: str

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
        }


class Directory:
    """Who carries each radio, which areas each callsign is committed to, and the version of the
    area definitions: cached in the presence process, checked against version counters in
    Redis that every commit reads back (so a batch needs no round trip of its own), and read
    again when those change. A radio not on the roster is cached as such too."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.keys = state.directory_version_keys(topics.BY_NAME[topics.INCIDENTS].partitions)
        self.versions: list[bytes | None] | None = None
        self.read_at = -math.inf
        self._roster_version: bytes | None = None
        self._assigned_version: list[bytes | None] | None = None
        self.roster: dict[str, dict[str, Any] | None] = {}
        self.assigned: dict[str, frozenset[str]] = {}

    def observe(self, versions: list[bytes | None]) -> None:
        """The versions as a commit read them back."""
        self.versions, self.read_at = versions, time.monotonic()

    @property
    def area_version(self) -> int:
        """The version of the area definitions last read."""
        return int(self.versions[0] or 0) if self.versions else 0

    async def entries(
        self, issis: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, frozenset[str]]]:
        """The roster entry of each radio and the areas its callsign is assigned to."""
        if self.versions is None or time.monotonic() - self.read_at > DIRECTORY_FRESH_S:
            self.observe(await self.state.read_versions(self.keys))
        assert self.versions is not None
        if self.versions[1] != self._roster_version:
            self.roster.clear()
            self._roster_version = self.versions[1]
        if self.versions[2:] != self._assigned_version:
            self.assigned = await self.state.assigned_areas(len(self.keys) - 2)
            self._assigned_version = self.versions[2:]
        missing = [issi for issi in issis if issi not in self.roster]
        if missing:
            self.roster.update(await self.state.roster_entries(missing))
        roster = {issi: self.roster[issi] for issi in issis}
        assigned = {
            issi: self.assigned.get(entry["callsign"], frozenset())
            if entry is not None and entry["callsign"]
            else frozenset()
            for issi, entry in roster.items()
        }
        return roster, assigned


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

    def __init__(self, services: StageRuntime[PipelineMetrics]) -> None:
        self.services = services
        self.policy = policy_from(services.settings)
        self.zone = ZoneInfo(services.settings.timezone)
        self.key = services.settings.pseudonym_key.encode()
        self.tracks: dict[int, dict[str, Track]] = {}
        self.watermarks: dict[int, int] = {}
        self.progress: dict[int, float] = {}
        self.last_batch: dict[int, float] = {}
        self.directory = Directory(services.state)
        self.max_age_s = services.limits.max_age_s

    def forget(self) -> None:
        """Drop every cached partition (on rebalance, and whenever the cache may be ahead of
        Redis: it is then reloaded from the durable copy)."""
        self.tracks.clear()
        self.watermarks.clear()
        self.progress.clear()

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
            now = self.services.clock.now()
            await self._load_partitions(set(batch.partitions))
            unapplied = above_watermarks(
                zip(batch.partitions, batch.offsets, strict=True), self.watermarks
            )
            fresh, rejections = self._decode_all(batch, unapplied)
            work, outcomes = await self._advance(batch, fresh)
            for partition_work in work.values():
                rejections.extend(partition_work.rejected)
            commits = []
            for partition, offset in batch.last_offsets().items():
                if offset > self.watermarks.get(partition, -1):
                    await asyncio.sleep(0)  # see YIELD_EVERY_FIXES
                    into = work.get(partition, _PartitionWork())
                    commits.append(self._partition_commit(partition, offset, into, now))
        except BaseException:
            self.forget()
            raise
        lags = None if now is None else now - np.fromiter((fix.ts for _, fix in fresh), float)
        outcomes["replayed"] = len(batch.offsets) - len(unapplied)
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
    ) -> tuple[list[tuple[int, Fix]], list[tuple[int, Rejection]]]:
        """Validate the fixes at ``indices`` (those not applied before: a replayed fix is not
        judged again against a clock that has moved on) against the clock, which an accepted fix
        moves on an event clock (a fast replay's batch can span hours of event time)."""
        clock = self.services.clock
        limits = self.services.limits
        keys, values, partitions = batch.keys, batch.values, batch.partitions
        decoded: list[tuple[int, Fix]] = []
        rejections: list[tuple[int, Rejection]] = []
        for index in indices:
            try:
                fix = decode_ping(keys[index], values[index], clock.now(), limits)
            except Rejected as error:
                rejections.append((index, error.rejection))
                continue
            clock.observe(fix.ts)
            partition = partitions[index]
            self.progress[partition] = max(self.progress.get(partition, fix.ts), fix.ts)
            decoded.append((index, fix))
        return decoded, rejections

    async def _load_partitions(self, partitions: set[int]) -> None:
        for partition in sorted(partitions - self.tracks.keys()):
            watermark, stored = await self.services.state.load_tracks(partition)
            self.watermarks[partition] = watermark
            self.tracks[partition] = {
                issi: track_from_json(blob, self.policy) for issi, blob in stored.items()
            }

    async def _advance(
        self, batch: PingBatch, fresh: Sequence[tuple[int, Fix]]
    ) -> tuple[dict[int, _PartitionWork], Counter[str]]:
        """Each fresh fix through its radio's track; the work per partition and how many fixes
        had each outcome."""
        work: dict[int, _PartitionWork] = defaultdict(_PartitionWork)
        outcomes: Counter[str] = Counter()
        if not fresh:
            return work, outcomes
        issis = sorted({fix.issi for _, fix in fresh})
        roster, assigned = await self.directory.entries(issis)
        await self.services.refresh_fences(self.directory.area_version)
        locations = self.services.fences.locate(
            np.fromiter((fix.lon for _, fix in fresh), float, len(fresh)),
            np.fromiter((fix.lat for _, fix in fresh), float, len(fresh)),
        )
        contexts = {issi: _context(roster[issi], assigned.get(issi, frozenset())) for issi in issis}
        policy = self.policy
        accepted = 0
        for position, ((index, fix), location) in enumerate(zip(fresh, locations, strict=True)):
            if position % YIELD_EVERY_FIXES == YIELD_EVERY_FIXES - 1:
                await asyncio.sleep(0)  # the batch before this one goes on committing meanwhile
            issi = fix.issi
            partition = batch.partitions[index]
            into, cache, context = work[partition], self.tracks[partition], contexts[issi]
            track, facts = advance(
                cache.get(issi) or new_track(issi), fix, location, context, policy
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
                into.last_fixes[issi] = _LastFix(
                    fix, context, roster[issi], location, track.state.mode
                )
            into.facts.extend(facts)
        outcomes["accepted"] = accepted
        outcomes["unknown_radio"] = sum(1 for _, fix in fresh if roster[fix.issi] is None)
        finished = time.monotonic()
        for partition in work:
            self.last_batch[partition] = finished
        return work, outcomes

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
        )
        return PartitionCommit(topics.PINGS, partition, last_offset, changes)

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
        directory = self.directory
        applied, versions = await self.services.state.commit_and_read(commits, directory.keys)
        directory.observe(versions)
        for commit, done in zip(commits, applied, strict=True):
            if not done:
                log.warning("partition %d was applied elsewhere; reloading it", commit.partition)
                self.tracks.pop(commit.partition, None)
            elif commit.last_offset is not None:
                self.watermarks[commit.partition] = commit.last_offset
        return all(applied)

    def _visit_values(self, facts: Sequence[Fact]) -> list[tuple[str, str, dict[str, object]]]:
        """(visit_id, local day, published value) of each visit fact."""
        values = []
        for fact in facts:
            if isinstance(fact, VisitRecorded):
                visit = fact.visit
                officer = pseudonym(self.key, visit.issi)
                values.append(
                    (visit.visit_id, local_day(visit.start, self.zone), visit_value(visit, officer))
                )
        return values

    def _settle_time(
        self, partition: int, clock_settle: float, highwater: int | None
    ) -> float | None:
        """How far a partition may be settled.

        While fixes flow (a backlog on the broker: its ``highwater`` mark is past the applied
        offset; or a batch within the last :data:`IDLE_AFTER_S`), no further than the
        partition's own data: a fast replay's clock ticks run ahead of its pings, and settling
        to them would make every fix still to come ``too_late``. Once the partition is idle, the
        clock's settle time, so that silent radios' visits close and windows move when traffic
        is thin or stops.
        """
        progress = self.progress.get(partition)
        backlogged = highwater is not None and highwater - 1 > self.watermarks.get(partition, -1)
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
            work: dict[int, _PartitionWork] = {}
            commits: list[PartitionCommit] = []
            for partition, cache in self.tracks.items():
                settle = self._settle_time(partition, clock_settle, highwaters.get(partition))
                if settle is None:
                    continue
                into = work[partition] = _PartitionWork()
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
                    self.directory.roster.pop(issi, None)
                commits.append(commit)
            await self._apply(commits, work)
        except BaseException:
            self.forget()
            raise


def _context(entry: dict[str, Any] | None, assigned: frozenset[str]) -> FixContext:
    if entry is None:
        return FixContext(role=UNKNOWN_OFFICER_ROLE, device="handheld")
    return FixContext(
        role=entry["role"],
        device=entry["device"],
        callsign=entry["callsign"],
        assigned_areas=assigned,
    )


def _rejection(fact: FixRejected) -> Rejection:
    if fact.reason == "too_late":
        return Rejection(
            "too_late", f"fix at {format_ts(fact.fix.ts)} is beyond the allowed lateness"
        )
    return Rejection("implausible_speed", "fix implies an impossible speed from the last fix")
