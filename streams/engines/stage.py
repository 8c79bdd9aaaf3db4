"""What a pipeline stage works through, in the worker or in its presence process: settings,
Redis state, metrics, the clock, the fence index and a producer; and which failures of those a
stage waits out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import orjson
from faust.exceptions import ProducerSendError

from streams import topics
from streams.clock import Clock, EventClock, WallClock
from streams.domain.areas_feed import decode_stored_area
from streams.domain.deadletter import Source, deadletter_key, deadletter_record
from streams.domain.fences import FenceIndex
from streams.domain.validation import Rejection, TimeLimits
from streams.kafka.errors import KafkaError, broker_unavailable
from streams.metrics import PipelineMetrics
from streams.settings import Settings
from streams.state import STORE_UNAVAILABLE, State

log = logging.getLogger(__name__)

INCREMENTAL_FENCE_CHANGES = 20
"""Up to this many changed areas are applied to the fence index; more rebuild it."""


UNAVAILABLE = (*STORE_UNAVAILABLE, ConnectionError, TimeoutError)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` is a failure of the infrastructure, not of a message: Redis or the broker
    unreachable, timing out or shutting down (the work waits and is tried again). A broker error
    the client calls retriable counts; one about the record itself (too large, say) does not."""
    if isinstance(error, ProducerSendError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, KafkaError):
        return broker_unavailable(error)
    return isinstance(error, UNAVAILABLE)


Send = Callable[[str, bytes | None, bytes], Awaitable[Awaitable[object]]]
"""Hand one record (topic name, key, value) to a producer; the result resolves once the broker
has acknowledged it."""

MetricsT = TypeVar("MetricsT", bound=PipelineMetrics, covariant=True)


class SourceMessage(Protocol):
    """An input message as the broker delivered it (a Faust message is one)."""

    @property
    def key(self) -> bytes | None:
        """The message key."""

    @property
    def value(self) -> bytes | None:
        """The message value."""

    @property
    def partition(self) -> int:
        """The source partition."""

    @property
    def offset(self) -> int:
        """The offset in the source partition."""


@dataclass(slots=True, kw_only=True)
class StageServices(Generic[MetricsT]):
    """What a pipeline stage works through: settings, Redis state, metrics, the clock, the fence
    index, and a producer. A worker's :class:`Runtime` is one; the presence process builds its
    own (:mod:`streams.engines.presence_process`)."""

    settings: Settings
    metrics: MetricsT
    state: State
    clock: Clock
    limits: TimeLimits
    send: Send
    fences: FenceIndex = field(default_factory=FenceIndex)
    fence_version: int = 0
    fence_features: dict[str, bytes] = field(default_factory=dict)

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

    async def emit(
        self, topic: str, records: Sequence[tuple[bytes | None, dict[str, object]]]
    ) -> None:
        """Send output records (key, value) to a contract topic and wait until the broker has
        acknowledged all of them (straight to the producer, which batches them: Faust's
        per-message topic path costs more than the send itself). Callers emit before they commit
        the Redis changes that make a replay skip the input: at least once, never lost."""
        await self.emit_encoded(topic, [(key, orjson.dumps(value)) for key, value in records])

    async def emit_encoded(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        """:meth:`emit` of values already encoded as JSON."""
        send, name = self.send, self.settings.topic(topic)
        deliveries = [await send(name, key, value) for key, value in records]
        await asyncio.gather(*deliveries)

    async def deadletter(
        self, topic: str, rejected: Sequence[tuple[SourceMessage, Rejection]]
    ) -> None:
        """Send each rejected message to ``deadletter`` with its reason, and count it. A
        message keyed by a radio is deadlettered under the radio's pseudonym
        (:func:`~streams.domain.deadletter.deadletter_key`)."""
        if not rejected:
            return
        now = time.time()
        by_radio = topic in topics.KEYED_BY_RADIO
        secret = self.settings.pseudonym_key.encode()
        records = []
        for message, rejection in rejected:
            source = Source(topic, message.partition, message.offset)
            records.append(
                (
                    deadletter_key(message.key, by_radio, secret),
                    deadletter_record(source, message.key, message.value, rejection, now),
                )
            )
        await self.emit(topics.DEADLETTER, records)
        self.metrics.rejected(topic, (rejection.reason for _, rejection in rejected))


def clock_for(settings: Settings) -> Clock:
    """The clock ``settings`` ask for."""
    return EventClock() if settings.clock == "event" else WallClock()


def limits_for(settings: Settings) -> TimeLimits:
    """The input time and size limits of ``settings``."""
    return TimeLimits(
        max_future_skew_s=settings.max_future_skew_s
        if settings.clock == "wall"
        else settings.event_clock_max_jump_s,
        max_age_s=settings.max_age_s,
        max_message_bytes=settings.max_message_bytes,
    )
