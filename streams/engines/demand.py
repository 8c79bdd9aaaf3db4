"""The demand engine's runtime: incidents, crimes and stop-searches into per-area demand.

Incident state lives in Redis per ``cad.incidents`` partition; a batch reads the states it
needs, applies the pure lifecycle, and commits state, counts, response samples and callsign
assignments with the partition's offset watermark in one Lua call. An incident is located in
areas once, when it is first counted, and keeps those areas. Its open counts are the (area,
grade) keys of its new state: the Lua call moves the counts by the difference from the keys
stored with it, so they follow the stored states whatever was read, repeated or reordered. A
partition whose counts an earlier version kept by adding facts is rebuilt from its stored states
on its first batch. Crimes and stop-searches are stateless facts, counted once per (id, time)
however often they are delivered. A crime linked to an incident (``incident_id``) counts in
the incident's areas when the incident has been counted and located by the time the crime is
read, else at its own place, where it stays (:func:`~streams.domain.demand.crime_areas`): so
where such a crime counts depends on how far ``cad.incidents`` had been read (a limit: it is
not moved when its incident is read later). A stop-search
with a callsign, at a place in some area, is also kept by callsign for the join with that
callsign's pings (``stop_search`` visits, :mod:`streams.domain.joins`), until
``COVERWATCH_MAX_AGE_S`` before the clock.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import orjson

from streams import topics
from streams.domain.demand import (
    crime_areas,
    demand_changes,
    open_incident_keys,
    response_sample_changes,
)
from streams.domain.demand_feeds import shown_place
from streams.domain.harm import DEFAULT_HARM_WEIGHTS, HarmWeights, load_harm_weights
from streams.domain.incidents import (
    CrimeRecorded,
    IncidentEvent,
    IncidentState,
    StopSearchRecorded,
    apply_incident,
    attribute,
    decode_crime,
    decode_incident,
    decode_stop_search,
    incident_from_dict,
    incident_to_dict,
)
from streams.domain.joins import StopSearchMark, incident_assignments
from streams.domain.ticks import Heartbeat, decode_or_heartbeat
from streams.domain.timefmt import format_ts
from streams.domain.validation import Rejected, Rejection
from streams.engines.batches import (
    Events,
    append_latencies,
    partition_commits,
    rejected_messages,
    unapplied,
)
from streams.engines.runtime import Runtime
from streams.state import Changes, PartitionCommit

log = logging.getLogger(__name__)

T = TypeVar("T")
SEEN_TTL_S = 2 * 86400
RESPONSE_SAMPLES_KEPT_S = 2 * 86400
CLOSED_INCIDENTS_KEPT_S = 2 * 86400
"""Closed incidents are listed by closing time this long, for coverage judged on the event
clock as of a time before they closed (``State.incidents_open_since``)."""


_incident_or_beat = functools.partial(decode_or_heartbeat, decode_incident)
_stop_search_or_beat = functools.partial(decode_or_heartbeat, decode_stop_search)


def harm_weights(path: str) -> HarmWeights:
    """The harm weights table: the file at ``path`` (JSON), or the illustrative default."""
    if not path:
        return DEFAULT_HARM_WEIGHTS
    return load_harm_weights(orjson.loads(Path(path).read_bytes()))


def open_incident_shown(state: IncidentState) -> dict[str, object] | None:
    """What the live view shows of an incident while it is open with a known place."""
    if state.closed_ts is not None or state.opened_ts is None or state.lat is None:
        return None
    return {
        "incident_id": state.incident_id,
        "grade": state.grade,
        "category": state.category,
        "lat": state.lat,
        "lon": state.lon,
        "opened": format_ts(state.opened_ts),
        "status": state.status,
    }


class DemandEngine:
    """Per-area demand for one worker."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.weights = harm_weights(runtime.settings.harm_weights_file)

    async def _decode_batch(
        self, topic: str, events: Events, decode: Callable[..., T]
    ) -> tuple[list[tuple[int, T]], list[tuple[int, Rejection]]]:
        """Decode the events not applied before; (index, value) and (index, rejection)."""
        clock = self.runtime.clock
        decoded: list[tuple[int, T]] = []
        rejections: list[tuple[int, Rejection]] = []
        for index in await unapplied(self.runtime, topic, events):
            message = events[index].message
            try:
                decoded.append(
                    (index, decode(message.key, message.value, clock.now(), self.runtime.limits))
                )
            except Rejected as error:
                rejections.append((index, error.rejection))
        return decoded, rejections

    def _areas_of(self, points: Sequence[tuple[float | None, float | None]]) -> list[list[str]]:
        """The area ids each point falls in (none for an unknown place)."""
        known = [i for i, (lat, lon) in enumerate(points) if lat is not None and lon is not None]
        found: list[list[str]] = [[] for _ in points]
        if known:
            locations = self.runtime.fences.locate(
                np.array([points[i][1] for i in known], dtype=float),
                np.array([points[i][0] for i in known], dtype=float),
            )
            for i, location in zip(known, locations, strict=True):
                found[i] = sorted(location.inside)
        return found

    async def process_incidents(self, events: Events) -> None:
        """One batch of ``cad.incidents``: its incident events, and the partition's event-time
        progress (incident events and in-band heartbeats), committed with the assignments it
        covers so the pings can wait for it (:mod:`streams.domain.joins`)."""
        runtime = self.runtime
        read, rejections = await self._decode_batch(topics.INCIDENTS, events, _incident_or_beat)
        ids: dict[int, list[str]] = defaultdict(list)
        progress: dict[int, float] = {}
        decoded: list[tuple[int, IncidentEvent]] = []
        for index, item in read:
            partition = events[index].message.partition
            progress[partition] = max(item.ts, progress.get(partition, item.ts))
            if isinstance(item, Heartbeat):
                continue
            decoded.append((index, item))
            ids[partition].append(item.incident_id)
        stored, version, unbuilt = await runtime.state.incident_states(ids)
        await runtime.refresh_fences(version)
        states: dict[str, IncidentState] = {
            i: incident_from_dict(orjson.loads(blob)) for i, blob in stored.items()
        }
        commits = self._expiring_commits(topics.INCIDENTS, events)
        now = runtime.clock.now()
        if now is not None:
            for partition, commit in commits.items():
                runtime.state.prune_assignments(
                    commit.changes,
                    runtime.state.slot(topics.INCIDENTS, partition),
                    now - runtime.settings.max_age_s,
                )
        for partition, ts in progress.items():
            commits[partition].changes.max(runtime.state.cad_progress_key(partition), ts)
        for partition in unbuilt:
            runtime.state.rebuild_open_counts(
                commits[partition].changes,
                runtime.state.slot(topics.INCIDENTS, partition),
                await self._open_keys_stored(partition),
            )
        for index, incident in decoded:
            partition = events[index].message.partition
            slot = runtime.state.slot(topics.INCIDENTS, partition)
            try:
                self._apply_incident(states, incident, commits[partition].changes, slot)
            except Rejected as error:
                rejections.append((index, error.rejection))
        await self._finish(topics.INCIDENTS, events, list(commits.values()), rejections)

    async def _open_keys_stored(self, partition: int) -> dict[str, tuple[tuple[str, str], ...]]:
        """The open-count keys of every incident stored for a partition (those stored before
        incidents kept their areas are located now)."""
        blobs = await self.runtime.state.all_incident_states(partition)
        keys: dict[str, tuple[tuple[str, str], ...]] = {}
        for blob in blobs:
            state = self._located(incident_from_dict(orjson.loads(blob)))
            keys[state.incident_id] = open_incident_keys(state)
        return keys

    def _located(self, state: IncidentState) -> IncidentState:
        """``state`` with its areas, located now if it is awaiting them."""
        if not state.awaiting_areas:
            return state
        (area_ids,) = self._areas_of([(state.lat, state.lon)])
        return attribute(state, area_ids)

    def _apply_incident(
        self, states: dict[str, IncidentState], event: IncidentEvent, changes: Changes, slot: str
    ) -> None:
        before = states.get(event.incident_id)
        after, facts = apply_incident(before, event)
        after = self._located(after)
        states[event.incident_id] = after
        area_ids = list(after.areas or ())
        now = self.runtime.clock.now() or event.ts
        intervals_before = incident_assignments(before) if before is not None else {}
        self.runtime.state.record_demand(
            changes, slot, demand_changes(facts, area_ids, self.weights)
        )
        self.runtime.state.record_incident(
            changes,
            slot,
            after.incident_id,
            incident_to_dict(after),
            open_incident_keys(after),
            response_sample_changes(facts, area_ids),
            {
                callsign: interval
                for callsign, interval in incident_assignments(after).items()
                if intervals_before.get(callsign) != interval
            },
            open_incident_shown(after),
            after.closed_ts,
        )
        self.runtime.state.prune_incident_times(
            changes, slot, now - RESPONSE_SAMPLES_KEPT_S, now - CLOSED_INCIDENTS_KEPT_S
        )

    def _expiring_commits(self, topic: str, events: Events) -> dict[int, PartitionCommit]:
        """A commit per partition of the batch that first moves that partition's windows on."""
        commits = partition_commits(topic, events)
        now = self.runtime.clock.now()
        if now is not None:
            for partition, commit in commits.items():
                self.runtime.state.expire_demand(
                    commit.changes, self.runtime.state.slot(topic, partition), now
                )
        return commits

    async def process_crimes(self, events: Events) -> None:
        """One batch of ``crimes.recorded``."""
        await self._process_facts(topics.CRIMES, events, decode_crime)

    async def process_stop_searches(self, events: Events) -> None:
        """One batch of ``stopsearch.events``: its stop-searches, and the partition's event-time
        progress (stop-searches and in-band heartbeats), committed with the stop-searches by
        callsign it covers so the pings can wait for it (:mod:`streams.domain.joins`)."""
        await self._process_facts(topics.STOPSEARCH, events, _stop_search_or_beat)

    async def _process_facts(
        self,
        topic: str,
        events: Events,
        decode: Callable[..., CrimeRecorded | StopSearchRecorded | Heartbeat],
    ) -> None:
        runtime = self.runtime
        read, rejections = await self._decode_batch(topic, events, decode)
        progress: dict[int, float] = {}
        decoded: list[tuple[int, CrimeRecorded | StopSearchRecorded]] = []
        for index, item in read:
            partition = events[index].message.partition
            progress[partition] = max(item.ts, progress.get(partition, item.ts))
            if not isinstance(item, Heartbeat):
                decoded.append((index, item))
        await runtime.refresh_fences(await runtime.state.area_version())
        places = self._areas_of([(fact.lat, fact.lon) for _, fact in decoded])
        places = await self._linked_places(decoded, places)
        commits = self._expiring_commits(topic, events)
        now = runtime.clock.now()
        if topic == topics.STOPSEARCH:
            for partition, ts in progress.items():
                key = runtime.state.stop_search_progress_key(partition)
                commits[partition].changes.max(key, ts)
        for partition, commit in commits.items():
            if now is not None:
                slot = runtime.state.slot(topic, partition)
                before = now - runtime.settings.max_age_s
                runtime.state.prune_places(commit.changes, slot, before)
                if topic == topics.STOPSEARCH:
                    runtime.state.prune_stop_searches(commit.changes, slot, before)
        for (index, fact), area_ids in zip(decoded, places, strict=True):
            partition = events[index].message.partition
            slot = runtime.state.slot(topic, partition)
            changes = commits[partition].changes
            identity = fact.crime_id if isinstance(fact, CrimeRecorded) else fact.search_id
            buckets = demand_changes([fact], area_ids, self.weights)
            counted = Changes()
            runtime.state.record_demand(counted, slot, buckets)
            runtime.state.count_once(changes, slot, identity, fact.ts, SEEN_TTL_S, counted)
            runtime.state.record_place(changes, slot, identity, fact.ts, shown_place(fact))
            if isinstance(fact, StopSearchRecorded) and fact.callsign and area_ids:
                mark = StopSearchMark(fact.ts, frozenset(area_ids))
                runtime.state.record_stop_search(changes, slot, fact.callsign, mark, identity)
        await self._finish(topic, events, list(commits.values()), rejections)

    async def _linked_places(
        self,
        decoded: Sequence[tuple[int, CrimeRecorded | StopSearchRecorded]],
        places: list[list[str]],
    ) -> list[list[str]]:
        """The areas each fact counts in: a crime linked to an incident counts in the incident's
        areas when the incident is stored, counted and located (:func:`crime_areas`; one round
        trip when the batch has linked crimes: the incident may be in any ``cad.incidents``
        partition), every other fact at its own place."""
        linked = sorted(
            {
                fact.incident_id
                for _, fact in decoded
                if isinstance(fact, CrimeRecorded) and fact.incident_id is not None
            }
        )
        if not linked:
            return places
        partitions = topics.BY_NAME[topics.INCIDENTS].partitions
        stored, _, _ = await self.runtime.state.incident_states(
            dict.fromkeys(range(partitions), linked)
        )
        incidents = {i: incident_from_dict(orjson.loads(blob)) for i, blob in stored.items()}
        return [
            list(crime_areas(own, incidents.get(fact.incident_id)))
            if isinstance(fact, CrimeRecorded) and fact.incident_id is not None
            else own
            for (_, fact), own in zip(decoded, places, strict=True)
        ]

    async def _finish(
        self,
        topic: str,
        events: Events,
        commits: list[PartitionCommit],
        rejections: list[tuple[int, Rejection]],
    ) -> None:
        runtime = self.runtime
        await runtime.deadletter(
            topic, rejected_messages(events, rejections)
        )  # delivered before the commit
        await runtime.state.commit(commits)
        runtime.metrics.consumed(topic, len(events))
        runtime.metrics.latencies(topic, append_latencies(events))
