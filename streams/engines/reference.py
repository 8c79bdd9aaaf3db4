"""The reference tables in Redis (roster, area definitions, the clock ticks' event time): how one
decoded entry changes them, and how a batch of each feed is applied.

The roster and areas agents apply these as the entries arrive (:class:`ReferenceEngine`);
``coverwatch rebuild`` applies them to load both tables from their topics before the workers
re-read the rest.
"""

from __future__ import annotations

from functools import partial

import orjson

from streams import topics
from streams.domain.areas import AreaDefinition, area_to_feature, is_live
from streams.domain.areas_feed import AreaRemoved, decode_area
from streams.domain.roster import RosterEntry, RosterRemoved, decode_roster
from streams.domain.ticks import decode_tick
from streams.engines.batches import Events, apply_table_batch
from streams.engines.runtime import Runtime
from streams.state import Changes, State


def roster_change(state: State, changes: Changes, item: RosterEntry | RosterRemoved) -> None:
    """Store or remove a radio's roster entry, its versions by event time (the presence join) and
    its on-duty membership."""
    if isinstance(item, RosterRemoved):
        changes.hdel_versioned(state.roster_key, item.issi, state.roster_version_key)
        state.forget_roster_versions(changes, item.issi)
        changes.srem(state.on_duty_key, item.issi)
    else:
        entry = orjson.dumps(item.stored()).decode()
        changes.hset_versioned(state.roster_key, item.issi, entry, state.roster_version_key)
        state.record_roster_version(changes, item.issi, item.ts, entry)
        if item.on_duty:
            changes.sadd(state.on_duty_key, item.issi)
        else:
            changes.srem(state.on_duty_key, item.issi)


def area_change(state: State, changes: Changes, item: AreaDefinition | AreaRemoved) -> None:
    """Store or remove an area definition (the workers' fence indexes follow its version).

    A ring (kind ``ring``) is not tracked: it is kept apart, as the live page's displacement
    rings layer, so no fence, presence, coverage, snapshot, metric or live-page area comes of
    it; and it removes a live area of the same id, as a tombstone would (the area stopped being
    live). A live area or a tombstone removes a ring of the same id."""
    if isinstance(item, AreaRemoved) or is_live(item):
        changes.hdel(state.area_rings_key, item.area_id)
    if isinstance(item, AreaRemoved) or not is_live(item):
        changes.hdel_versioned(state.area_features_key, item.area_id, state.area_version_key)
        if not isinstance(item, AreaRemoved):
            ring = orjson.dumps(area_to_feature(item)).decode()
            changes.hset(state.area_rings_key, item.area_id, ring)
    else:
        feature = orjson.dumps(area_to_feature(item)).decode()
        changes.hset_versioned(
            state.area_features_key, item.area_id, feature, state.area_version_key
        )


class ReferenceEngine:
    """Applies batches of the roster, areas and clock-tick feeds to their tables in Redis."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        state = runtime.state
        self._roster = partial(roster_change, state)
        self._area = partial(area_change, state)

    async def process_roster(self, events: Events) -> None:
        """Apply a batch of ``resources.roster``."""
        decode = partial(decode_roster, limits=self.runtime.limits)
        await apply_table_batch(self.runtime, topics.ROSTER, events, decode, self._roster)

    async def process_areas(self, events: Events) -> None:
        """Apply a batch of ``areas.definitions``."""
        decode = partial(decode_area, limits=self.runtime.limits)
        await apply_table_batch(self.runtime, topics.AREAS, events, decode, self._area)

    async def process_ticks(self, events: Events) -> None:
        """Apply a batch of ``clock.ticks``: each tick is judged against the clock the tick
        before it moved, and moves it; replayed ticks too, so that they move a restarted
        worker's clock."""
        runtime = self.runtime
        clock = runtime.clock
        if clock.now() is None:  # a restarted event clock resumes before it judges a tick
            stored = await runtime.state.event_clock()
            if stored is not None:
                clock.observe(stored)

        def judge(key: bytes | None, raw: bytes | None) -> float:
            ts = decode_tick(key, raw, clock.now(), runtime.limits)
            clock.observe(ts)  # the batch's next tick is judged against the clock this one moved
            return ts

        await apply_table_batch(
            runtime, topics.CLOCK_TICKS, events, judge, self._tick_change, decode_replayed=True
        )

    def _tick_change(self, changes: Changes, ts: float) -> None:
        changes.max(self.runtime.state.clock_key, ts)
