"""Presence in Redis, one slice per ``airwave.pings`` partition: tracks, who is present, dose
windows, the day's visits and their summary, visit times for coverage, latest fixes, progress."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams import topics
from streams.domain.dayvisits import DayVisits, add_summary_field, visit_part
from streams.domain.dose import RollingWindows, dose_split, minute_buckets
from streams.domain.fixes import Fix
from streams.domain.judging import VisitHistory
from streams.domain.patrol import MinuteKey, Steps, add_steps, presence_steps
from streams.domain.tracks import DoseAccrued, Fact, MembershipChanged, Visit, VisitRecorded
from streams.state import keys as layout
from streams.state.changes import Changes, window_sums
from streams.state.store import Store

VISIT_DAYS_KEPT = 3
PATROL_KEPT_S = 2 * 86400
"""How long a minute's patrol steps are kept (longer than the 24 h window and a local day)."""
QUALIFYING_ENDS_KEPT_S = 2 * 86400.0
"""How far before an area's latest qualifying visit end the earlier ends are kept (for coverage
judged at a watermark behind the latest)."""
DOSE_WINDOWS = tuple(int(window) for window in RollingWindows)
REPORTING_KEPT_S = 3600
"""How long (wall time, EXPIRE on every write) a minute's set of reporting radios is kept: the
hold after which coverage judges the instants it serves (``judging_hold_s``, 7 min by default)
and a margin for a leader that catches up after an outage or a partition that stalled; longer
costs memory (a set member per radio and minute: about 0.5 MB a minute for 10,000 radios)."""


class PresenceState(Store):
    """Presence, dose and visits of every ``airwave.pings`` partition."""

    def pings_slice(self, partition: int) -> str:
        """Key prefix of everything derived from one ``airwave.pings`` partition (one slot)."""
        return self.keys.partition_slot(topics.PINGS, partition)

    async def pings_progress(
        self, partitions: int
    ) -> tuple[list[float | None], list[float | None]]:
        """Each ``airwave.pings`` partition's event-time progress and the time of its first
        record (None: no data yet)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.get(layout.PINGS_PROGRESS.of(self.pings_slice(partition)))
                pipe.hget(layout.PINGS_EVENTS.of(self.pings_slice(partition)), "first")
            found = await pipe.execute()
        self.metrics.round_trip("pings_progress")
        values = [None if value is None else float(value) for value in found]
        return values[0::2], values[1::2]

    async def reporting(self, partitions: int, minutes: Sequence[int]) -> dict[int, set[str]]:
        """minute -> the radios with an accepted fix in it, over every ``airwave.pings``
        partition (one round trip)."""
        if not minutes:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                for partition in range(partitions):
                    pipe.smembers(layout.REPORTING.of(self.pings_slice(partition), minute))
            found = await pipe.execute()
        self.metrics.round_trip("reporting")
        result: dict[int, set[str]] = {}
        for index, minute in enumerate(minutes):
            radios = result[minute] = set()
            for members in found[index * partitions : (index + 1) * partitions]:
                radios.update(member.decode() for member in members)
        return result

    async def load_tracks(self, partition: int) -> tuple[int, float | None, dict[str, bytes]]:
        """One partition's offset watermark, event-time progress (None: no data yet) and stored
        tracks (issi -> JSON)."""
        slot = self.pings_slice(partition)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.watermark_key(topics.PINGS, partition))
            pipe.get(layout.PINGS_PROGRESS.of(slot))
            pipe.hgetall(layout.TRACKS.of(slot))
            watermark, progress, tracks = await pipe.execute()
        self.metrics.round_trip("load_tracks")
        return (
            -1 if watermark is None else int(watermark),
            None if progress is None else float(progress),
            {k.decode(): v for k, v in tracks.items()},
        )

    def record_presence(
        self,
        changes: Changes,
        partition: int,
        facts: Iterable[Fact],
        visit_values: Mapping[str, tuple[str, dict[str, object]]],
        tracks: Mapping[str, bytes],
        last_fixes: Mapping[str, tuple[Fix, dict[str, object]]],
        now: float,
        progress: float | None = None,
        began: float | None = None,
        reported: Mapping[int, Iterable[str]] | None = None,
        trail: Mapping[int, Mapping[str, str]] | None = None,
        trail_kept_s: int = 0,
    ) -> None:
        """The Redis changes of one partition's presence facts.

        ``visit_values``: visit_id -> (local day, published value); ``tracks``: issi -> stored
        track (JSON); ``last_fixes``: issi -> (latest accepted fix, what to show about it);
        ``progress``: the partition's event-time progress after them (kept with the tracks, so
        that whoever takes the partition over settles it no further than this); ``began``: the
        event time of the partition's first record (kept once); ``reported``: minute -> the
        radios with an accepted fix in it (:func:`~streams.domain.feedhealth.reporting_minute`);
        ``trail``: minute -> radio -> its last accepted fix in the minute
        (:class:`~streams.domain.replay.TrailPoint`, encoded), kept ``trail_kept_s``.
        """
        slot = self.pings_slice(partition)
        dose = layout.DOSE.of(slot)
        changes.win_expire(dose, now, DOSE_WINDOWS)
        dose_buckets: dict[tuple[int, str], float] = {}
        patrol: dict[MinuteKey, Steps] = {}
        for fact in facts:
            if isinstance(fact, MembershipChanged):
                field_name = f"{fact.area_id}|{fact.issi}"
                if fact.present:
                    changes.hset(
                        layout.PRESENT.of(slot), field_name, f"{fact.role}|{fact.mode}|{fact.unit}"
                    )
                else:
                    changes.hdel(layout.PRESENT.of(slot), field_name)
            elif isinstance(fact, DoseAccrued):
                split = f"{fact.area_id}|" + dose_split(
                    fact.role, fact.mode, fact.activity, fact.unit, fact.inferred
                )
                for (_, minute, *_rest), seconds in minute_buckets(fact).items():
                    dose_buckets[(minute, split)] = dose_buckets.get((minute, split), 0.0) + seconds
                add_steps(patrol, presence_steps(fact))
            elif isinstance(fact, VisitRecorded):
                self._record_visit_times(changes, slot, fact.visit)
        changes.win_add(
            dose,
            ((minute, split, seconds) for (minute, split), seconds in dose_buckets.items()),
            DOSE_WINDOWS,
        )
        self._record_patrol(changes, slot, patrol)
        self._record_visits(changes, slot, visit_values)
        self._record_fixes(changes, slot, tracks, last_fixes)
        if progress is not None:
            changes.max(layout.PINGS_PROGRESS.of(slot), progress)
        if began is not None:
            changes.hsetnx(layout.PINGS_EVENTS.of(slot), "first", repr(began))
        for minute, radios in (reported or {}).items():
            key = layout.REPORTING.of(slot, minute)
            changes.sadd_all(key, radios)
            changes.expire(key, REPORTING_KEPT_S)
        for minute, points in (trail or {}).items():
            key = layout.TRAIL.of(slot, minute)
            changes.hset_blobs(key, {radio: point.encode() for radio, point in points.items()})
            changes.expire(key, trail_kept_s)

    @staticmethod
    def _record_patrol(changes: Changes, slot: str, patrol: Mapping[MinuteKey, Steps]) -> None:
        """The patrol steps of the batch, added to their minutes' hashes, and each minute
        touched counted (for the leader to read it again)."""
        minutes: set[int] = set()
        for (area_id, minute), steps in patrol.items():
            key = layout.PATROL_STEPS.of(slot, minute)
            for offset, delta in steps.items():
                changes.hincrby(key, f"{area_id}|{offset}", delta)
            minutes.add(minute)
        for minute in sorted(minutes):
            changes.expire(layout.PATROL_STEPS.of(slot, minute), PATROL_KEPT_S)
            changes.hincrby(layout.PATROL_TOUCHED.of(slot), str(minute), 1)

    @staticmethod
    def _record_visits(
        changes: Changes, slot: str, visit_values: Mapping[str, tuple[str, dict[str, object]]]
    ) -> None:
        """The published visits, each in its local day's hash, and their parts in the day's
        summary; the three keys of a day are kept :data:`VISIT_DAYS_KEPT` days."""
        visits_by_day: dict[str, dict[str, Mapping[str, object]]] = {}
        for visit_id, (day, value) in visit_values.items():
            visits_by_day.setdefault(day, {})[visit_id] = value
        for day, visits in visits_by_day.items():
            keys = (
                layout.VISITS.of(slot, day),
                layout.VISIT_PARTS.of(slot, day),
                layout.VISIT_DAY.of(slot, day),
            )
            changes.visits(*keys, {visit_id: visit_part(v) for visit_id, v in visits.items()})
            changes.hset_blobs(keys[0], {i: orjson.dumps(v) for i, v in visits.items()})
            for key in keys:
                changes.expire(key, VISIT_DAYS_KEPT * 86400)

    @staticmethod
    def _record_fixes(
        changes: Changes,
        slot: str,
        tracks: Mapping[str, bytes],
        last_fixes: Mapping[str, tuple[Fix, dict[str, object]]],
    ) -> None:
        """The radios' tracks, positions and latest fixes, and the feed's latest fix time."""
        changes.hset_blobs(layout.TRACKS.of(slot), tracks)
        changes.geoadd(
            layout.GEO.of(slot),
            ((fix.lon, fix.lat, issi) for issi, (fix, _) in last_fixes.items()),
        )
        changes.hset_blobs(
            layout.LAST_FIX.of(slot),
            {issi: orjson.dumps(shown) for issi, (_, shown) in last_fixes.items()},
        )
        if last_fixes:
            changes.max(layout.FEED.of(slot), max(fix.ts for fix, _ in last_fixes.values()))

    @staticmethod
    def _record_visit_times(changes: Changes, slot: str, visit: Visit) -> None:
        """Where a visit's start and end are kept for coverage: the qualifying ends (``qends``,
        and ``lastq``, the latest) and, of every visit, its end (+inf while it is open: an open
        visit is not published again as its fixes come in) and start (``vends``, ``vstarts``)
        with the latest end of a closed visit per area (``vlast``), each for
        :data:`QUALIFYING_ENDS_KEPT_S` before the area's latest; a retracted visit is taken
        out. An inferred visit is none of these: coverage is judged from observed presence."""
        if visit.inferred:
            return
        area_id, visit_id = visit.area_id, visit.visit_id
        ends, times = (
            layout.QUALIFYING_ENDS.of(slot, area_id),
            (layout.VISIT_ENDS.of(slot, area_id), layout.VISIT_STARTS.of(slot, area_id)),
        )
        end = visit.start + visit.seconds
        if visit.status == "retracted":
            changes.zrem(ends, visit_id)
            for key in times:
                changes.zrem(key, visit_id)
            return
        if visit.qualifying:
            changes.hmax(layout.LAST_QUALIFYING.of(slot), area_id, end)
            changes.zadd(ends, end, visit_id)
            changes.zremrangebyscore(ends, end - QUALIFYING_ENDS_KEPT_S)
        elif visit.revision > 0:
            changes.zrem(ends, visit_id)
        changes.zadd(times[0], math.inf if visit.status == "open" else end, visit_id)
        changes.zadd(times[1], visit.start, visit_id)
        changes.zmax(layout.VISIT_LAST.of(slot), end, area_id)
        for key in times:
            changes.zremrangebyscore(key, end - QUALIFYING_ENDS_KEPT_S)

    async def visit_history(
        self, partitions: int, since: float, horizon_s: float, also: Iterable[str] = ()
    ) -> dict[str, VisitHistory]:
        """The visits around instants judged from ``since`` on of every area with a visit that
        ended after ``since - horizon_s`` and of the areas ``also`` (those with an officer
        present: an open visit), merged over every ``airwave.pings`` partition: the start and
        end of the latest qualifying visit ended at or before ``since``, and of every visit
        (qualifying or not) that ended at or after ``since`` or is open (its end +inf). A start
        no longer kept, of a visit begun more than :data:`QUALIFYING_ENDS_KEPT_S` before the
        area's latest end, reads as -inf. Three round trips."""
        slots = [self.pings_slice(partition) for partition in range(partitions)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.zrangebyscore(layout.VISIT_LAST.of(slot), f"({since - horizon_s!r}", "+inf")
            recent = await pipe.execute()
        self.metrics.round_trip("visit_history")
        area_ids = sorted({member.decode() for reply in recent for member in reply} | {*also})
        if not area_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                for area_id in area_ids:
                    qends = layout.QUALIFYING_ENDS.of(slot, area_id)
                    vends = layout.VISIT_ENDS.of(slot, area_id)
                    pipe.zrevrangebyscore(qends, since, "-inf", start=0, num=1, withscores=True)
                    pipe.zrangebyscore(vends, since, "+inf", withscores=True)
            replies = await pipe.execute()
        self.metrics.round_trip("visit_history")
        found: list[tuple[str, str, list[tuple[bytes, float]]]] = []
        kinds: list[tuple[str, bool]] = []
        for index, (slot, area_id) in enumerate(itertools.product(slots, area_ids)):
            for reply, before in ((replies[2 * index], True), (replies[2 * index + 1], False)):
                if reply:
                    found.append((slot, area_id, reply))
                    kinds.append((area_id, before))
        ended: dict[str, tuple[float, float]] = {}
        visits: dict[str, list[tuple[float, float]]] = {}
        for (area_id, before), spans in zip(kinds, await self._visit_spans(found), strict=True):
            if not before:
                visits.setdefault(area_id, []).extend(spans)
            elif area_id not in ended or _later_or_longer(spans[0], ended[area_id]):
                ended[area_id] = spans[0]
        return {
            area_id: VisitHistory(ended.get(area_id), tuple(sorted(visits.get(area_id, ()))))
            for area_id in area_ids
        }

    async def _visit_spans(
        self, found: Sequence[tuple[str, str, list[tuple[bytes, float]]]]
    ) -> list[list[tuple[float, float]]]:
        """The (start, end) of each group of visits ``found`` ((slot, area_id, (visit id, end)
        pairs)), in order; a start no longer kept reads as -inf. One round trip, if any."""
        if not found:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot, area_id, pairs in found:
                pipe.zmscore(
                    layout.VISIT_STARTS.of(slot, area_id), [member.decode() for member, _ in pairs]
                )
            starts = await pipe.execute()
        self.metrics.round_trip("visit_history")
        return [
            [
                (-math.inf if start is None else float(start), float(end))
                for (_, end), start in zip(pairs, group, strict=True)
            ]
            for (_, _, pairs), group in zip(found, starts, strict=True)
        ]

    async def patrol_touched(self, partitions: int) -> list[dict[int, int]]:
        """Each ``airwave.pings`` partition's minutes with patrol steps and how many writes each
        had (a minute whose count changed has new steps). One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hgetall(layout.PATROL_TOUCHED.of(self.pings_slice(partition)))
            replies = await pipe.execute()
        self.metrics.round_trip("patrol_touched")
        return [{int(minute): int(count) for minute, count in reply.items()} for reply in replies]

    async def patrol_steps(
        self, partitions: int, minutes: Sequence[int]
    ) -> dict[MinuteKey, dict[int, int]]:
        """The patrol steps of ``minutes``, summed over every ``airwave.pings`` partition, by
        (area, minute). One round trip, if any."""
        steps: dict[MinuteKey, Steps] = {}
        if not minutes:
            return steps
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                slot = self.pings_slice(partition)
                for minute in minutes:
                    pipe.hgetall(layout.PATROL_STEPS.of(slot, minute))
            replies = await pipe.execute()
        self.metrics.round_trip("patrol_steps")
        for index, reply in enumerate(replies):
            minute = minutes[index % len(minutes)]
            for name, delta in reply.items():
                area_id, _, offset = name.decode().rpartition("|")
                add_steps(steps, {(area_id, minute): {int(offset): int(delta)}})
        return steps

    async def forget_patrol_minutes(self, partitions: int, before: int) -> None:
        """Take the minutes before ``before`` out of every partition's touched counts (their
        steps expire on their own)."""
        touched = await self.patrol_touched(partitions)
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition, counts in enumerate(touched):
                old = [str(minute) for minute in counts if minute < before]
                if old:
                    pipe.hdel(layout.PATROL_TOUCHED.of(self.pings_slice(partition)), *old)
            await pipe.execute()
        self.metrics.round_trip("patrol_touched")

    def forget_radios(self, changes: Changes, partition: int, issis: Iterable[str]) -> None:
        """Drop radios from one partition's presence state: their tracks and latest fixes (the
        radios' presence and visits were withdrawn and closed before)."""
        slot = self.pings_slice(partition)
        for issi in issis:
            changes.hdel(layout.TRACKS.of(slot), issi)
            changes.hdel(layout.LAST_FIX.of(slot), issi)
            changes.zrem(layout.GEO.of(slot), issi)

    async def presence_view(
        self, partitions: int, days: Sequence[str], *, figures: bool = True
    ) -> PresenceView:
        """Presence, dose windows, last qualifying visits and the given days' visits, merged
        over every ``airwave.pings`` partition. One round trip. Without ``figures``, only who is
        present, the last qualifying visits and the feed (the dose and visits stay empty)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                slot = self.pings_slice(partition)
                pipe.hgetall(layout.PRESENT.of(slot))
                pipe.hgetall(layout.LAST_QUALIFYING.of(slot))
                pipe.get(layout.FEED.of(slot))
                if figures:
                    pipe.hgetall(layout.DOSE.out.of(slot))
                    pipe.hgetall(layout.DOSE.total.of(slot))
                    for day in days:
                        pipe.hgetall(layout.VISIT_DAY.of(slot, day))
            replies = await pipe.execute()
        self.metrics.round_trip("presence_view")
        view = PresenceView()
        per_partition = 3 + (2 + len(days) if figures else 0)
        for partition in range(partitions):
            present, lastq, feed, *rest = replies[
                partition * per_partition : (partition + 1) * per_partition
            ]
            outs, totals, *summaries = rest if figures else ({}, {})
            view.add(present, outs, lastq, feed, totals, summaries)
        return view

    async def visits_of_area(self, partitions: int, day: str, area_id: str) -> list[dict[str, Any]]:
        """The published values of an area's visits of a local day, as stored (latest
        revisions). Reads every visit of the day: for a supervisor's look at one area, not for
        the evaluator (which reads the day's summary)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hvals(layout.VISITS.of(self.pings_slice(partition), day))
            replies = await pipe.execute()
        self.metrics.round_trip("visits_of_area")
        marker = b'"area_id":' + orjson.dumps(area_id)
        return [
            visit
            for reply in replies
            for blob in reply
            if marker in blob and (visit := orjson.loads(blob))["area_id"] == area_id
        ]


@dataclass
class PresenceView:
    """Presence state merged over partitions, as raw numbers for the domain to shape."""

    present: dict[str, dict[str, str]] = field(default_factory=dict)
    """area_id -> issi -> "role|mode|unit" ("role|mode" as stored before units were kept)."""
    dose_windows: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    """window seconds -> area_id -> "role|mode|activity|unit[|inferred]" -> officer-seconds (a
    split stored before units were kept has no unit: :func:`~streams.domain.dose.parse_split`)."""
    last_qualifying_end: dict[str, float] = field(default_factory=dict)
    feed_last_fix: float | None = None
    dose_total: dict[str, dict[str, float]] = field(default_factory=dict)
    """area_id -> "role|mode|activity|unit[|inferred]" -> officer-seconds since the service
    began."""
    visits: dict[str, DayVisits] = field(default_factory=dict)
    """area_id -> the visits of the days read, summarised."""
    patrol_windows: dict[str, dict[int, float]] = field(default_factory=dict)
    """area_id -> window seconds -> patrol seconds (filled by the coverage leader's reader)."""
    patrol_today: dict[str, float] = field(default_factory=dict)
    """area_id -> patrol seconds of the local day read."""

    def add(
        self,
        present: Mapping[bytes, bytes],
        outs: Mapping[bytes, bytes],
        lastq: Mapping[bytes, bytes],
        feed: bytes | None,
        totals: Mapping[bytes, bytes],
        visit_summaries: Iterable[Mapping[bytes, bytes]],
    ) -> None:
        """Merge one partition's replies (its dose totals and what left each window, and the
        summaries of its visits of the days read)."""
        for field_name, value in totals.items():
            area_id, split = field_name.decode().split("|", 1)
            by_split = self.dose_total.setdefault(area_id, {})
            by_split[split] = by_split.get(split, 0.0) + float(value)
        for field_name, value in present.items():
            area_id, issi = field_name.decode().split("|", 1)
            self.present.setdefault(area_id, {})[issi] = value.decode()
        for window, summed, seconds in window_sums(totals, outs, DOSE_WINDOWS):
            area_id, split = summed.split("|", 1)
            by_area = self.dose_windows.setdefault(window, {}).setdefault(area_id, {})
            by_area[split] = by_area.get(split, 0.0) + seconds
        for area_key, end in lastq.items():
            area = area_key.decode()
            self.last_qualifying_end[area] = max(
                self.last_qualifying_end.get(area, 0.0), float(end)
            )
        if feed is not None:
            self.feed_last_fix = max(self.feed_last_fix or 0.0, float(feed))
        for summary in visit_summaries:
            for field_name, value in summary.items():
                add_summary_field(self.visits, field_name.decode(), value.decode())

    def areas(self) -> set[str]:
        """The areas with any presence state (every other area's is empty)."""
        touched = {*self.present, *self.dose_total, *self.last_qualifying_end, *self.visits}
        for by_area in self.dose_windows.values():
            touched.update(by_area)
        return touched


def _later_or_longer(span: tuple[float, float], than: tuple[float, float]) -> bool:
    """Whether the visit ``span`` (start, end) ended after ``than``, or with it and began
    before it (of two partitions' latest qualifying visits, the one judged with)."""
    return (span[1], -span[0]) > (than[1], -than[0])
