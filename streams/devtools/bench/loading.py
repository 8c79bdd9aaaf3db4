"""The bench's data on the broker and in Redis: publishing backlogs, preloading the roster and
areas as their agents would."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from streams import topics
from streams.domain.areas_feed import decode_area
from streams.domain.roster import decode_roster
from streams.domain.validation import TimeLimits
from streams.engines.reference import area_change
from streams.metrics import Metrics
from streams.settings import Settings
from streams.simulator.publisher import publish
from streams.simulator.world import Record
from streams.state import Changes, PartitionCommit, State

Messages = list[tuple[bytes, bytes]]
PRELOAD_CHUNK = 2000


async def publish_all(bootstrap: str, prefix: str, batches: Sequence[tuple[str, Messages]]) -> int:
    """Publish (topic, messages) groups in order, as fast as the broker takes them."""
    records = (
        Record(0.0, topic, key.decode(), value)
        for topic, messages in batches
        for key, value in messages
    )
    return await publish(records, bootstrap, speed=None, topic_prefix=prefix)


async def preload(settings: Settings, roster: Messages, areas: Messages) -> int:
    """Apply the roster and areas to Redis as their agents would (same decoders, same Lua call,
    watermark = the offset of each message, which on a fresh one-partition topic is its index),
    so the worker starts with them in place and its agents skip them. Returns the area version."""
    state = State(settings.redis_url, settings.key_prefix, Metrics(()))
    limits = TimeLimits()
    try:
        for offset in range(0, len(areas), PRELOAD_CHUNK):
            changes = Changes()
            for key, raw in areas[offset : offset + PRELOAD_CHUNK]:
                area_change(state, changes, decode_area(key, raw, limits))
            last = min(offset + PRELOAD_CHUNK, len(areas)) - 1
            await state.commit([PartitionCommit(topics.AREAS, 0, last, changes)])
        for offset in range(0, len(roster), PRELOAD_CHUNK):
            changes = Changes()
            for key, raw in roster[offset : offset + PRELOAD_CHUNK]:
                entry = decode_roster(key, raw, limits)
                changes.hset(state.roster_key, key.decode(), orjson.dumps(entry).decode())
            last = min(offset + PRELOAD_CHUNK, len(roster)) - 1
            await state.commit([PartitionCommit(topics.ROSTER, 0, last, changes)])
        return await state.area_version()
    finally:
        await state.close()


async def area_version(settings: Settings) -> int:
    """The area version in a run's Redis keys (bumped by every area change)."""
    state = State(settings.redis_url, settings.key_prefix, Metrics(()))
    try:
        return await state.area_version()
    finally:
        await state.close()
