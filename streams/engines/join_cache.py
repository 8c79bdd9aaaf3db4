"""What fixes are joined with in the presence process: roster versions, assignment intervals,
stop-searches by callsign and the version of the area definitions, cached and read again only
when their versions move.

The join itself is pure (:mod:`streams.domain.joins`); this cache is its I/O side, used by the
presence engine (:mod:`streams.engines.presence`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from streams import topics
from streams.domain.joins import Assignment, RosterVersion, StopSearchMark
from streams.domain.progress import joined_progress, read_progress
from streams.state import State

JOIN_CACHE_FRESH_S = 0.1
"""Versions of the areas, roster and assignments read this recently are used as they are (each
commit reads them again in its round trip); older ones are read again first."""


class StoreChangedError(ConnectionError):
    """The Redis store is no longer the one the presence cache was built from: the batch waits
    (as for an unavailable service) while the worker's epoch watch pauses it."""


class JoinCache:
    """Who carried each radio (its roster versions), when each callsign was committed to which
    areas (its assignment intervals) and the version of the area definitions: cached in the
    presence process, checked against version counters in Redis that every commit reads back
    (so a batch needs no round trip of its own), and read again when those change (the
    assignments of only the ``cad.incidents`` partitions whose counter moved). A radio not on the
    roster is cached as such too. Fixes are joined with them by event time
    (:mod:`streams.domain.joins`)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.incident_partitions = topics.BY_NAME[topics.INCIDENTS].partitions
        self.search_partitions = topics.BY_NAME[topics.STOPSEARCH].partitions
        self.keys = state.directory_version_keys(self.incident_partitions)
        self.versions: list[bytes | None] | None = None
        self.read_at = -math.inf
        self._roster_version: bytes | None = None
        self._assigned_version: list[bytes | None] = []
        self.roster: dict[str, tuple[RosterVersion, ...]] = {}
        self._partition_assignments: dict[int, dict[str, list[Assignment]]] = {}
        self.assignments: dict[str, tuple[Assignment, ...]] = {}
        self._searched_version: list[bytes | None] = []
        self._partition_searched: dict[int, dict[str, list[StopSearchMark]]] = {}
        self.stop_searches: dict[str, tuple[StopSearchMark, ...]] = {}
        self.changed_callsigns: set[str] = set()
        """Callsigns whose assignment intervals or stop-searches changed since the engine last
        took them (:meth:`take_changed`): fixes of theirs already classified may need
        classifying again."""
        self.epoch: bytes | None = None
        """The store's epoch when the versions were first read with one."""
        self.store_changed = False

    def observe(self, versions: list[bytes | None]) -> None:
        """The versions as a commit read them back. A store whose epoch is no longer the one
        first seen (wiped, or replaced by a rebuild) is marked :attr:`store_changed` for good."""
        self.versions, self.read_at = versions, time.monotonic()
        epoch = versions[-1] if versions else None
        if self.epoch is None:
            self.epoch = epoch
        elif epoch != self.epoch:
            self.store_changed = True

    def check_store(self) -> None:
        """:class:`StoreChangedError` once the store's epoch has changed: nothing read from it
        may be used or published any more (the worker pauses on its own check, and a restarted
        presence process starts afresh from the rebuilt store)."""
        if self.store_changed:
            raise StoreChangedError(
                "the Redis store's epoch changed (wiped or rebuilt): nothing more is classified "
                "or published from it until the worker restarts (docs/operations.md)"
            )

    @property
    def area_version(self) -> int:
        """The version of the area definitions last read."""
        return int(self.versions[0] or 0) if self.versions else 0

    def cad_progress(self, with_records: Collection[int] | None = None) -> float | None:
        """How far in event time every ``cad.incidents`` partition had been read when the
        versions were last read: the slowest one's progress; None while one has no data
        (:func:`~streams.domain.progress.joined_progress`). ``with_records``: its partitions
        that hold records (None: not known), each read up to nothing until one is applied."""
        first = 2 + self.incident_partitions
        return self._progress(first, self.incident_partitions, 0, with_records)

    def stop_search_progress(self, with_records: Collection[int] | None = None) -> float | None:
        """:meth:`cad_progress` for ``stopsearch.events``."""
        first = 2 + 2 * self.incident_partitions + self.search_partitions
        return self._progress(first, self.search_partitions, self.incident_partitions, with_records)

    def _progress(
        self, first: int, partitions: int, after: int, with_records: Collection[int] | None
    ) -> float | None:
        if self.versions is None:
            return None
        stored = self.versions[first : first + partitions]
        marks = 2 + 2 * (self.incident_partitions + self.search_partitions) + after
        applied = [value is not None for value in self.versions[marks : marks + partitions]]
        progress = [None if value is None else float(value) for value in stored]
        return joined_progress(read_progress(progress, applied, with_records))

    def join_progress(
        self, with_records: Mapping[str, Collection[int]] | None = None
    ) -> float | None:
        """How far the topics fixes are joined with by event time have been read: the least of
        :meth:`cad_progress` and :meth:`stop_search_progress`, leaving out a topic with a
        partition without data (None when both are). ``with_records``: topic -> its partitions
        that hold records, as the worker last saw them at the broker (None: not known)."""

        def of(topic: str) -> Collection[int] | None:
            return None if with_records is None else with_records.get(topic, ())

        progress = (
            self.cad_progress(of(topics.INCIDENTS)),
            self.stop_search_progress(of(topics.STOPSEARCH)),
        )
        known = [p for p in progress if p is not None]
        return min(known) if known else None

    async def entries(
        self, issis: Sequence[str]
    ) -> tuple[dict[str, tuple[RosterVersion, ...]], dict[str, tuple[Assignment, ...]]]:
        """The roster versions of each radio (none: not on the roster) and every callsign's
        assignment intervals."""
        if self.versions is None or time.monotonic() - self.read_at > JOIN_CACHE_FRESH_S:
            self.observe(await self.state.read_versions(self.keys))
        assert self.versions is not None
        self.check_store()
        if self.versions[1] != self._roster_version:
            self.roster.clear()
            self._roster_version = self.versions[1]
        assigned_version = self.versions[2 : 2 + self.incident_partitions]
        if assigned_version != self._assigned_version:
            changed = [
                partition
                for partition, version in enumerate(assigned_version)
                if partition >= len(self._assigned_version)
                or version != self._assigned_version[partition]
            ]
            self._partition_assignments.update(await self.state.assignments(changed))
            merged: dict[str, list[Assignment]] = defaultdict(list)
            for by_callsign in self._partition_assignments.values():
                for callsign, intervals in by_callsign.items():
                    merged[callsign].extend(intervals)
            assignments = {callsign: tuple(found) for callsign, found in merged.items()}
            if self._assigned_version:
                self.changed_callsigns.update(
                    callsign
                    for callsign in assignments.keys() | self.assignments.keys()
                    if assignments.get(callsign) != self.assignments.get(callsign)
                )
            self.assignments = assignments
            self._assigned_version = assigned_version
        first = 2 + 2 * self.incident_partitions
        searched_version = self.versions[first : first + self.search_partitions]
        if searched_version != self._searched_version:
            await self._read_stop_searches(searched_version)
        missing = [issi for issi in issis if issi not in self.roster]
        if missing:
            self.roster.update(await self.state.roster_versions(missing))
        return {issi: self.roster[issi] for issi in issis}, self.assignments

    async def _read_stop_searches(self, searched_version: list[bytes | None]) -> None:
        """Read again the stop-searches by callsign of the ``stopsearch.events`` partitions whose
        version moved; the callsigns whose stop-searches changed are marked changed."""
        changed = [
            partition
            for partition, version in enumerate(searched_version)
            if partition >= len(self._searched_version)
            or version != self._searched_version[partition]
        ]
        self._partition_searched.update(await self.state.stop_searched(changed))
        merged: dict[str, list[StopSearchMark]] = defaultdict(list)
        for by_callsign in self._partition_searched.values():
            for callsign, marks in by_callsign.items():
                merged[callsign].extend(marks)
        searched = {callsign: tuple(found) for callsign, found in merged.items()}
        if self._searched_version:
            self.changed_callsigns.update(
                callsign
                for callsign in searched.keys() | self.stop_searches.keys()
                if searched.get(callsign) != self.stop_searches.get(callsign)
            )
        self.stop_searches = searched
        self._searched_version = searched_version

    def take_changed(self) -> set[str]:
        """The callsigns whose assignments changed since the last call."""
        changed, self.changed_callsigns = self.changed_callsigns, set()
        return changed
