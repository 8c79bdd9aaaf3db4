"""What the agents share in one worker process: settings, clock, Redis state, metrics, topics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from faust.types import TP

from streams import topics
from streams.clock import Clock, EventClock, WallClock
from streams.domain.areas_feed import decode_stored_area
from streams.domain.deadletter import Source, deadletter_record
from streams.domain.fences import FenceIndex
from streams.domain.validation import Rejection, TimeLimits
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import State

log = logging.getLogger(__name__)

INCREMENTAL_FENCE_CHANGES = 20
"""Up to this many changed areas are applied to the fence index; more rebuild it."""


@dataclass(slots=True)
class Runtime:
    """The wiring of one worker: agents call the domain and then these."""

    settings: Settings
    app: faust.App
    metrics: Metrics
    state: State
    clock: Clock
    limits: TimeLimits
    channels: dict[str, faust.TopicT] = field(default_factory=dict)
    fences: FenceIndex = field(default_factory=FenceIndex)
    fence_version: int = 0
    fence_features: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, app: faust.App) -> Runtime:
        """The runtime for ``settings`` on ``app``, with a topic object per contract topic."""
        metrics = Metrics(spec.name for spec in topics.TOPICS if spec.direction == "input")
        runtime = cls(
            settings=settings,
            app=app,
            metrics=metrics,
            state=State(settings.redis_url, settings.key_prefix, metrics),
            clock=EventClock() if settings.clock == "event" else WallClock(),
            limits=TimeLimits(
                max_future_skew_s=settings.max_future_skew_s
                if settings.clock == "wall"
                else settings.event_clock_max_jump_s,
                max_age_s=settings.max_age_s,
                max_message_bytes=settings.max_message_bytes,
            ),
        )
        for spec in topics.TOPICS:
            runtime.channels[spec.name] = app.topic(
                settings.topic(spec.name),
                key_serializer="raw",
                value_serializer="raw",
                partitions=spec.partitions,
                internal=False,
            )
        return runtime

    async def refresh_fences(self, version: int) -> None:
        """Bring the fence index up to the area version in Redis, then swap it in at once.

        A few changed areas are applied to the current index (only they are parsed again); a
        first load or a large change rebuilds it.
        """
        if version == self.fence_version:
            return
        version, features = await self.state.areas()
        known = self.fence_features
        removed = known.keys() - features.keys()
        changed = [area_id for area_id, blob in features.items() if known.get(area_id) != blob]
        if not known or len(removed) + len(changed) > INCREMENTAL_FENCE_CHANGES:
            fences = FenceIndex(
                [decode_stored_area(blob) for blob in features.values()],
                exit_buffer_m=self.settings.exit_buffer_m,
            )
        else:
            fences = self.fences
            for area_id in removed:
                fences = fences.without_area(area_id)
            for area_id in changed:
                fences = fences.with_area(decode_stored_area(features[area_id]))
        self.fences, self.fence_features, self.fence_version = fences, features, version
        log.info(
            "fence index at version %d: %d areas (%d changed, %d removed)",
            version,
            len(features),
            len(changed),
            len(removed),
        )

    def backlogged(self, topic: str, partition: int, applied_offset: int) -> bool:
        """Whether the broker holds messages of a partition beyond ``applied_offset`` (from the
        high-water mark of the last fetch; Tansu's ``end_offsets()`` cannot be trusted)."""
        try:
            highwater = self.app.consumer.highwater(TP(self.settings.topic(topic), partition))
        except (AssertionError, KeyError, RuntimeError):
            return False
        return highwater is not None and highwater - 1 > applied_offset

    async def emit(
        self, topic: str, records: Sequence[tuple[bytes | None, dict[str, object]]]
    ) -> None:
        """Send output records (key, value) to a contract topic and wait until the broker has
        acknowledged all of them (straight to the app's producer, which batches them: Faust's
        per-message topic path costs more than the send itself). Callers emit before they commit
        the Redis changes that make a replay skip the input: at least once, never lost."""
        producer, name = self.app.producer, self.settings.topic(topic)
        deliveries = [
            await producer.send(name, key, orjson.dumps(value), None, None, None)
            for key, value in records
        ]
        await asyncio.gather(*deliveries)

    async def deadletter(
        self,
        topic: str,
        events: Sequence[faust.EventT[Any]],
        rejections: Sequence[tuple[int, Rejection]],
    ) -> None:
        """Send each rejected event of a batch to ``deadletter`` with its reason, and count it."""
        if not rejections:
            return
        now = time.time()
        records = []
        for index, rejection in rejections:
            message = events[index].message
            source = Source(topic, message.partition, message.offset)
            records.append(
                (message.key, deadletter_record(source, message.key, message.value, rejection, now))
            )
        await self.emit(topics.DEADLETTER, records)
        self.metrics.rejected(topic, (rejection for _, rejection in rejections))
