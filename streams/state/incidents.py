"""Demand and incidents in Redis, one slot per partition of ``cad.incidents``,
``crimes.recorded`` and ``stopsearch.events``: windowed demand counts, incident states, open
counts, response samples, callsign assignments and each incidents partition's progress."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from streams import topics
from streams.domain.demand import DEMAND_WINDOWS, BucketChange, ResponseSampleChange
from streams.domain.joins import BEGINNING, Assignment, StopSearchMark
from streams.state import keys as layout
from streams.state.changes import Changes, window_sums
from streams.state.store import Store


class DemandState(Store):
    """Demand, incidents and assignments of every demand source partition."""

    def assigned_version_key(self, partition: int) -> str:
        """Bumped on every change of one ``cad.incidents`` partition's callsign assignments."""
        return layout.ASSIGNED_VERSION.of(self.slot(topics.INCIDENTS, partition))

    def cad_progress_key(self, partition: int) -> str:
        """One ``cad.incidents`` partition's event-time progress (written in the same call as
        the assignments it covers)."""
        return layout.INCIDENTS_PROGRESS.of(self.slot(topics.INCIDENTS, partition))

    def stop_search_progress_key(self, partition: int) -> str:
        """One ``stopsearch.events`` partition's event-time progress (written in the same call
        as the stop-searches it covers)."""
        return layout.SEARCHED_PROGRESS.of(self.slot(topics.STOPSEARCH, partition))

    async def cad_progress(self, partitions: int) -> list[float | None]:
        """Each ``cad.incidents`` partition's event-time progress (None: no record yet)."""
        found = await self.read_versions([self.cad_progress_key(p) for p in range(partitions)])
        return [None if value is None else float(value) for value in found]

    async def incident_states(
        self, ids_by_partition: Mapping[int, Sequence[str]]
    ) -> tuple[dict[str, bytes], int, list[int]]:
        """Stored incident states (incident_id -> JSON), the area version, and the partitions
        among these whose open counts are not yet kept per incident (stored by a version before
        that: :meth:`rebuild_open_counts`). One round trip."""
        wanted = [(p, ids) for p, ids in ids_by_partition.items() if ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.key(layout.AREA_VERSION))
            for partition, ids in wanted:
                slot = self.slot(topics.INCIDENTS, partition)
                pipe.hmget(layout.INCIDENTS.of(slot), list(ids))
                pipe.exists(layout.OPEN_REBUILT.of(slot))
            version, *replies = await pipe.execute()
        self.metrics.round_trip("incident_states")
        found: dict[str, bytes] = {}
        unbuilt: list[int] = []
        for (partition, ids), values, rebuilt in zip(
            wanted, replies[::2], replies[1::2], strict=True
        ):
            found.update({i: v for i, v in zip(ids, values, strict=True) if v is not None})
            if not rebuilt:
                unbuilt.append(partition)
        return found, int(version or 0), unbuilt

    async def incidents_open_since(self, partitions: int, since: float) -> list[bytes]:
        """The stored states of every incident open now (with a known place) or closed after
        ``since``, of every ``cad.incidents`` partition: every incident open at some time from
        ``since`` on. Two round trips."""
        slots = [self.slot(topics.INCIDENTS, partition) for partition in range(partitions)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hkeys(layout.OPEN_INCIDENTS.of(slot))
                pipe.zrangebyscore(layout.CLOSED.of(slot), f"({since!r}", "+inf")
            replies = await pipe.execute()
        self.metrics.round_trip("incidents_open_since")
        wanted = [
            (slot, sorted({*replies[2 * index], *replies[2 * index + 1]}))
            for index, slot in enumerate(slots)
        ]
        wanted = [(slot, ids) for slot, ids in wanted if ids]
        if not wanted:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot, ids in wanted:
                pipe.hmget(layout.INCIDENTS.of(slot), ids)
            found = await pipe.execute()
        self.metrics.round_trip("incidents_open_since")
        return [blob for blobs in found for blob in blobs if blob is not None]

    async def all_incident_states(self, partition: int) -> list[bytes]:
        """Every incident state stored for one ``cad.incidents`` partition (read in chunks)."""
        key = layout.INCIDENTS.of(self.slot(topics.INCIDENTS, partition))
        states: list[bytes] = []
        cursor = None
        while cursor != 0:
            cursor, chunk = await self.redis.hscan(key, cursor or 0, count=1000)
            self.metrics.round_trip("all_incident_states")
            states.extend(cast(dict[bytes, bytes], chunk).values())
        return states

    @staticmethod
    def expire_demand(changes: Changes, slot: str, now: float) -> None:
        """Take the minutes that left the demand windows of one partition out of its totals."""
        changes.win_expire(layout.DEMAND.of(slot), now, DEMAND_WINDOWS)

    @staticmethod
    def record_demand(changes: Changes, slot: str, buckets: Iterable[BucketChange]) -> None:
        """Windowed demand counts of one partition (incidents opened, crimes, stop-searches,
        harm), one op for all buckets, field ``area|measure|label``."""
        changes.win_add(
            layout.DEMAND.of(slot),
            (
                (bucket.minute, f"{bucket.area_id}|{bucket.measure}|{bucket.label}", bucket.amount)
                for bucket in buckets
            ),
            DEMAND_WINDOWS,
        )

    @staticmethod
    def rebuild_open_counts(
        changes: Changes, slot: str, open_keys: Mapping[str, Iterable[tuple[str, str]]]
    ) -> None:
        """Open counts of one ``cad.incidents`` partition rebuilt from ``open_keys`` (incident_id
        -> the (area_id, grade) counts it is in, from every stored state), once: counts that an
        earlier version kept by adding and subtracting may have drifted (even below zero)."""
        changes.rebuild_counts(
            layout.OPEN_COUNTS.of(slot),
            layout.COUNTED.of(slot),
            layout.OPEN_REBUILT.of(slot),
            {
                incident_id: [f"{area_id}|{grade}" for area_id, grade in keys]
                for incident_id, keys in open_keys.items()
            },
        )

    @staticmethod
    def record_incident(
        changes: Changes,
        slot: str,
        incident_id: str,
        stored: Mapping[str, object],
        open_keys: Iterable[tuple[str, str]],
        samples: Iterable[ResponseSampleChange],
        assigned: Mapping[str, Assignment],
        shown: Mapping[str, object] | None,
        closed_ts: float | None = None,
    ) -> None:
        """One incident's state, the (area_id, grade) open counts it is in now (the counts move
        by the difference from those stored with it, in the same call), response samples and
        the callsigns' assignment intervals that changed (a closed one is pruned later by
        :meth:`prune_assignments`); ``shown`` is what the live view shows of it while it is open
        (None: not shown); ``closed_ts``: when it closed, kept by time (``closed``) for coverage
        judged as of an earlier time."""
        changes.hset(layout.INCIDENTS.of(slot), incident_id, orjson.dumps(stored).decode())
        if closed_ts is not None:
            changes.zadd(layout.CLOSED.of(slot), closed_ts, incident_id)
        if shown is None:
            changes.hdel(layout.OPEN_INCIDENTS.of(slot), incident_id)
        else:
            changes.hset(layout.OPEN_INCIDENTS.of(slot), incident_id, orjson.dumps(shown).decode())
        changes.count_keys(
            layout.OPEN_COUNTS.of(slot),
            layout.COUNTED.of(slot),
            incident_id,
            [f"{area_id}|{grade}" for area_id, grade in open_keys],
        )
        for sample in samples:
            member = f"{sample.incident_id}|{sample.area_id}|{sample.response_seconds!r}"
            if sample.delta > 0:
                changes.zadd(layout.RESPONSE.of(slot), sample.ts, member)
            else:
                changes.zrem(layout.RESPONSE.of(slot), member)
        for callsign, assignment in assigned.items():
            name = f"{callsign}|{incident_id}"
            changes.hset_versioned(
                layout.ASSIGNED.of(slot),
                name,
                orjson.dumps(
                    {
                        "areas": sorted(assignment.areas),
                        "since": assignment.since,
                        "until": assignment.until,
                        "category": assignment.category,
                    }
                ).decode(),
                layout.ASSIGNED_VERSION.of(slot),
            )
            if assignment.until is not None:
                changes.zadd(layout.ASSIGNED_CLOSED.of(slot), assignment.until, name)

    @staticmethod
    def prune_assignments(changes: Changes, slot: str, before: float) -> None:
        """Drop the assignment intervals of one ``cad.incidents`` partition that ended before
        ``before`` (no fix judged from then on can fall in them)."""
        changes.prune_scored(
            layout.ASSIGNED_CLOSED.of(slot),
            layout.ASSIGNED.of(slot),
            layout.ASSIGNED_VERSION.of(slot),
            before,
        )

    @staticmethod
    def record_stop_search(
        changes: Changes, slot: str, callsign: str, mark: StopSearchMark, identity: str
    ) -> None:
        """A stop-search by ``callsign`` (record ``identity``), kept for the join with the pings
        of the callsign's radio; the same record again changes nothing (the version is bumped
        only by a change)."""
        name = f"{callsign}|{identity}|{mark.ts!r}"
        changes.hset_versioned(
            layout.SEARCHED.of(slot),
            name,
            orjson.dumps({"ts": mark.ts, "areas": sorted(mark.areas)}).decode(),
            layout.SEARCHED_VERSION.of(slot),
        )
        changes.zadd(layout.SEARCHED_TIMES.of(slot), mark.ts, name)

    @staticmethod
    def record_place(
        changes: Changes, slot: str, identity: str, ts: float, place: Mapping[str, object]
    ) -> None:
        """Where a crime or stop-search (record ``identity``) was, for the map; the same record
        again changes nothing."""
        name = f"{identity}|{ts!r}"
        changes.hset_versioned(
            layout.PLACES.of(slot),
            name,
            orjson.dumps(place).decode(),
            layout.PLACES_VERSION.of(slot),
        )
        changes.zadd(layout.PLACES_TIMES.of(slot), ts, name)

    @staticmethod
    def prune_places(changes: Changes, slot: str, before: float) -> None:
        """Drop the places of one demand source partition from before ``before``."""
        changes.prune_scored(
            layout.PLACES_TIMES.of(slot),
            layout.PLACES.of(slot),
            layout.PLACES_VERSION.of(slot),
            before,
        )

    async def places(
        self, slots: Sequence[str], since: float, until: float, most: int
    ) -> list[dict[str, Any]]:
        """The places of these demand source partitions with ``since <= ts <= until``, newest
        first, at most ``most`` of them. One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hvals(layout.PLACES.of(slot))
            replies = await pipe.execute()
        self.metrics.round_trip("places")
        found = [orjson.loads(value) for reply in replies for value in reply]
        kept = [p for p in found if since <= float(p["ts"]) <= until]
        kept.sort(key=lambda p: float(p["ts"]), reverse=True)
        return kept[:most]

    @staticmethod
    def prune_stop_searches(changes: Changes, slot: str, before: float) -> None:
        """Drop the stop-searches by callsign of one ``stopsearch.events`` partition made before
        ``before`` (no fix judged from then on can be joined with them)."""
        changes.prune_scored(
            layout.SEARCHED_TIMES.of(slot),
            layout.SEARCHED.of(slot),
            layout.SEARCHED_VERSION.of(slot),
            before,
        )

    async def stop_searched(
        self, partitions: Sequence[int]
    ) -> dict[int, dict[str, list[StopSearchMark]]]:
        """Of each of these ``stopsearch.events`` partitions: every callsign's stop-searches
        (:class:`~streams.domain.joins.StopSearchMark`). One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.hgetall(layout.SEARCHED.of(self.slot(topics.STOPSEARCH, partition)))
            slices = await pipe.execute()
        self.metrics.round_trip("searched")
        found: dict[int, dict[str, list[StopSearchMark]]] = {}
        for partition, searched in zip(partitions, slices, strict=True):
            by_callsign: dict[str, list[StopSearchMark]] = found.setdefault(partition, {})
            for field_name, blob in sorted(searched.items()):
                callsign = field_name.decode().split("|", 1)[0]
                stored = orjson.loads(blob)
                by_callsign.setdefault(callsign, []).append(
                    StopSearchMark(float(stored["ts"]), frozenset(stored["areas"]))
                )
        return found

    @staticmethod
    def prune_incident_times(
        changes: Changes, slot: str, responses_before: float, closed_before: float
    ) -> None:
        """Drop one ``cad.incidents`` partition's response samples that arrived at or before
        ``responses_before`` and the closing times of incidents closed at or before
        ``closed_before``."""
        changes.zremrangebyscore(layout.RESPONSE.of(slot), responses_before)
        changes.zremrangebyscore(layout.CLOSED.of(slot), closed_before)

    @staticmethod
    def count_once(
        changes: Changes, slot: str, identity: str, ts: float, ttl_s: int, counted: Changes
    ) -> None:
        """Apply ``counted`` unless the record ``identity`` at ``ts`` was counted before in this
        slot (in the last ``ttl_s``): content idempotency for crimes and stop-searches."""
        changes.once(layout.SEEN.of(slot, identity, repr(ts)), ttl_s, counted)

    async def demand_view(
        self, sources: Mapping[str, int], since: float, *, figures: bool = True
    ) -> DemandView:
        """Windowed demand, open incidents and response samples (arrivals after ``since``),
        merged over every partition of every demand source. One round trip. Without
        ``figures``, only the open incidents (the windows and samples stay empty)."""
        slots = [self.slot(s, p) for s, count in sources.items() for p in range(count)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hgetall(layout.OPEN_COUNTS.of(slot))
                if figures:
                    pipe.hgetall(layout.DEMAND.total.of(slot))
                    pipe.hgetall(layout.DEMAND.out.of(slot))
                    pipe.zrangebyscore(layout.RESPONSE.of(slot), since, "+inf", withscores=True)
            replies = await pipe.execute()
        self.metrics.round_trip("demand_view")
        view = DemandView()
        per_slot = 4 if figures else 1
        for index in range(len(slots)):
            open_counts, *rest = replies[per_slot * index : per_slot * (index + 1)]
            totals, outs, samples = rest if figures else ({}, {}, [])
            view.add(totals, outs, open_counts, samples)
        return view

    async def assignments(
        self, partitions: Sequence[int]
    ) -> dict[int, dict[str, list[Assignment]]]:
        """Of each of these ``cad.incidents`` partitions: every callsign's assignment intervals
        (:class:`~streams.domain.joins.Assignment`; closed ones are kept until pruned). One round
        trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.hgetall(layout.ASSIGNED.of(self.slot(topics.INCIDENTS, partition)))
            slices = await pipe.execute()
        self.metrics.round_trip("assigned")
        found: dict[int, dict[str, list[Assignment]]] = {}
        for partition, assigned in zip(partitions, slices, strict=True):
            by_callsign: dict[str, list[Assignment]] = found.setdefault(partition, {})
            for field_name, blob in assigned.items():
                callsign = field_name.decode().split("|", 1)[0]
                by_callsign.setdefault(callsign, []).append(_assignment(orjson.loads(blob)))
        return found


@dataclass
class DemandView:
    """Demand merged over partitions: raw numbers for the domain to shape."""

    windows: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    """window seconds -> area_id -> "measure|label" -> total."""
    open_incidents: dict[str, dict[str, int]] = field(default_factory=dict)
    """area_id -> grade -> open incidents."""
    response_samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """area_id -> (arrival ts, seconds from opened to first arrival)."""

    def add(
        self,
        totals: Mapping[bytes, bytes],
        outs: Mapping[bytes, bytes],
        open_counts: Mapping[bytes, bytes],
        samples: Sequence[tuple[bytes, float]],
    ) -> None:
        """Merge one partition's replies (its demand totals and what left each window among
        them)."""
        for window, summed, amount in window_sums(totals, outs, DEMAND_WINDOWS):
            area_id, measure_label = summed.split("|", 1)
            by_area = self.windows.setdefault(window, {}).setdefault(area_id, {})
            by_area[measure_label] = by_area.get(measure_label, 0.0) + amount
        for field_name, value in open_counts.items():
            area_id, grade = field_name.decode().split("|", 1)
            by_grade = self.open_incidents.setdefault(area_id, {})
            by_grade[grade] = by_grade.get(grade, 0) + int(value)
        for member, ts in samples:
            _, area_id, seconds = member.decode().split("|", 2)
            self.response_samples.setdefault(area_id, []).append((ts, float(seconds)))

    def areas(self) -> set[str]:
        """The areas with any demand state (every other area's is empty)."""
        touched = {*self.open_incidents, *self.response_samples}
        for by_area in self.windows.values():
            touched.update(by_area)
        return touched


def _assignment(stored: Any) -> Assignment:
    """An assignment interval as :meth:`DemandState.record_incident` stored it (a list of area
    ids, as an earlier version stored it: committed from the beginning and still open; without
    a category, as stored before assignments kept it: none known)."""
    if isinstance(stored, list):
        return Assignment(frozenset(stored), BEGINNING, None)
    return Assignment(
        frozenset(stored["areas"]),
        float(stored["since"]),
        stored["until"],
        category=stored.get("category"),
    )
