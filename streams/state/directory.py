"""The reference tables in Redis: the roster (current entries, each radio's latest versions, who
is on duty) and the areas (GeoJSON Features), each with a version counter that caches check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import orjson

from streams import topics
from streams.domain.joins import BEGINNING, ROSTER_VERSIONS_KEPT, RosterVersion
from streams.metrics import PipelineMetrics
from streams.state import keys as layout
from streams.state.changes import Changes
from streams.state.store import Store

ROSTER_ENTRIES_CACHED = 200_000
"""Parsed roster entries kept by their stored value (cleared when more: changed entries)."""


class DirectoryState(Store):
    """The roster and the areas."""

    def __init__(self, redis_url: str, key_prefix: str, metrics: PipelineMetrics) -> None:
        super().__init__(redis_url, key_prefix, metrics)
        self._roster_entries: dict[bytes, tuple[RosterVersion, ...]] = {}

    @property
    def roster_key(self) -> str:
        """Hash issi -> roster entry JSON."""
        return self.keys.key(layout.ROSTER)

    @property
    def roster_history_key(self) -> str:
        """Hash issi -> the radio's latest roster versions (lines ``since<TAB>entry``)."""
        return self.keys.key(layout.ROSTER_HISTORY)

    @property
    def roster_version_key(self) -> str:
        """Bumped on every roster change (caches of the roster check it)."""
        return self.keys.key(layout.ROSTER_VERSION)

    @property
    def on_duty_key(self) -> str:
        """Set of the radios whose officer is on duty."""
        return self.keys.key(layout.ON_DUTY)

    @property
    def area_features_key(self) -> str:
        """Hash area_id -> GeoJSON Feature JSON."""
        return self.keys.key(layout.AREA_FEATURES)

    @property
    def area_version_key(self) -> str:
        """Counter bumped on every area change."""
        return self.keys.key(layout.AREA_VERSION)

    @property
    def area_rings_key(self) -> str:
        """Hash ring id -> GeoJSON Feature JSON (the displacement rings, not tracked)."""
        return self.keys.key(layout.AREA_RINGS)

    def record_roster_version(
        self, changes: Changes, issi: str, since: float | None, entry: str
    ) -> None:
        """Keep ``entry`` among the radio's roster versions, valid from ``since`` (None: from
        the beginning)."""
        changes.roster_version(
            self.roster_history_key,
            issi,
            "" if since is None else repr(since),
            entry,
            ROSTER_VERSIONS_KEPT,
            self.roster_version_key,
        )

    def forget_roster_versions(self, changes: Changes, issi: str) -> None:
        """Drop a radio's roster versions (it left the roster)."""
        changes.hdel_versioned(self.roster_history_key, issi, self.roster_version_key)

    def directory_version_keys(self, incident_partitions: int) -> list[str]:
        """The versions a presence cache of areas, roster and assignments depends on, then each
        ``cad.incidents`` partition's event-time progress (how far the assignments go), then the
        version of each ``stopsearch.events`` partition's stop-searches by callsign and its
        event-time progress, then the offset watermark of each ``cad.incidents`` and each
        ``stopsearch.events`` partition (whether any of its records was applied), then the
        store's epoch (whether it is still the store the cache was built from)."""
        slots = [self.keys.partition_slot(topics.INCIDENTS, p) for p in range(incident_partitions)]
        searched = [
            self.keys.partition_slot(topics.STOPSEARCH, p)
            for p in range(topics.BY_NAME[topics.STOPSEARCH].partitions)
        ]
        return [
            self.area_version_key,
            self.roster_version_key,
            *(layout.ASSIGNED_VERSION.of(slot) for slot in slots),
            *(layout.INCIDENTS_PROGRESS.of(slot) for slot in slots),
            *(layout.SEARCHED_VERSION.of(slot) for slot in searched),
            *(layout.SEARCHED_PROGRESS.of(slot) for slot in searched),
            *(layout.WATERMARK.of(slot) for slot in slots),
            *(layout.WATERMARK.of(slot) for slot in searched),
            self.keys.key(layout.EPOCH),
        ]

    async def areas(self) -> tuple[int, dict[str, bytes]]:
        """The area version and every area's Feature JSON."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.area_version_key)
            pipe.hgetall(self.area_features_key)
            version, features = await pipe.execute()
        self.metrics.round_trip("areas")
        return int(version or 0), {k.decode(): v for k, v in features.items()}

    async def rings(self) -> list[bytes]:
        """Every displacement ring's Feature JSON, by ring id."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.area_rings_key)
            (rings,) = await pipe.execute()
        self.metrics.round_trip("rings")
        return [rings[ring_id] for ring_id in sorted(rings)]

    async def area_version(self) -> int:
        """The current area version."""
        value = await self.redis.get(self.area_version_key)
        self.metrics.round_trip("area_version")
        return int(value or 0)

    async def roster_versions(self, issis: Sequence[str]) -> dict[str, tuple[RosterVersion, ...]]:
        """The roster versions of each radio (none: not on the roster; only its current entry,
        valid from the beginning, when it has no history: stored before histories were kept).
        One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.roster_key, list(issis))
            pipe.hmget(self.roster_history_key, list(issis))
            current, histories = await pipe.execute()
        self.metrics.round_trip("roster")
        if len(self._roster_entries) > ROSTER_ENTRIES_CACHED:
            self._roster_entries.clear()
        return {
            issi: ()
            if entry is None
            else self._roster_history(entry, from_history=False)
            if history is None
            else self._roster_history(history, from_history=True)
            for issi, entry, history in zip(issis, current, histories, strict=True)
        }

    async def duty_versions(self) -> tuple[bytes | None, dict[str, tuple[RosterVersion, ...]]]:
        """The roster version counter and every radio's roster versions (as
        :meth:`roster_versions`), for who was on duty when. One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.roster_version_key)
            pipe.hgetall(self.roster_key)
            pipe.hgetall(self.roster_history_key)
            version, current, histories = await pipe.execute()
        self.metrics.round_trip("duty_roster")
        if len(self._roster_entries) > ROSTER_ENTRIES_CACHED:
            self._roster_entries.clear()
        return version, {
            issi.decode(): self._roster_history(entry, from_history=False)
            if (history := histories.get(issi)) is None
            else self._roster_history(history, from_history=True)
            for issi, entry in current.items()
        }

    async def roster_counter(self) -> bytes | None:
        """The roster version counter (bumped on every roster change)."""
        value = await self.redis.get(self.roster_version_key)
        self.metrics.round_trip("roster_version")
        return cast("bytes | None", value)

    def _roster_history(self, blob: bytes, *, from_history: bool) -> tuple[RosterVersion, ...]:
        """A radio's roster versions parsed from its history (``from_history``) or its current
        entry (valid from the beginning), once per distinct stored value (they change rarely)."""
        versions = self._roster_entries.get(blob)
        if versions is None:
            if from_history:
                versions = tuple(_roster_version(line) for line in blob.split(b"\n"))
            else:
                versions = (RosterVersion(BEGINNING, orjson.loads(blob)),)
            self._roster_entries[blob] = versions
        return versions


def _roster_version(line: bytes) -> RosterVersion:
    """One line ``since<TAB>entry`` of a radio's roster history."""
    since, _, entry = line.partition(b"\t")
    return RosterVersion(float(since) if since else BEGINNING, orjson.loads(entry))
