"""What the agents share in one worker process: settings, clock, Redis state, metrics, topics."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

import faust

from streams import topics
from streams.engines.epoch import StoreStatus
from streams.engines.records_seen import RecordsSeen
from streams.engines.stage import StageServices, clock_for, limits_for
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import State


@dataclass(slots=True, kw_only=True)
class Runtime(StageServices[Metrics]):
    """The wiring of one worker process: agents call the domain and then these."""

    app: faust.App
    records_seen: RecordsSeen
    """Which input partitions hold records, as the worker last looked at the broker."""
    channels: dict[str, faust.TopicT] = field(default_factory=dict)
    store: StoreStatus = field(default_factory=StoreStatus)
    """Whether the Redis store may be used (:mod:`streams.engines.epoch`): agents and timers
    wait."""

    @classmethod
    def create(cls, settings: Settings, app: faust.App) -> Runtime:
        """The runtime for ``settings`` on ``app``, with a topic object per contract topic."""
        metrics = Metrics(spec.name for spec in topics.TOPICS if spec.direction == "input")

        async def send(topic: str, key: bytes | None, value: bytes) -> Awaitable[object]:
            return await app.producer.send(topic, key, value, None, None, None)

        runtime = cls(
            settings=settings,
            app=app,
            metrics=metrics,
            state=State(settings.redis_url, settings.key_prefix, metrics),
            clock=clock_for(settings),
            limits=limits_for(settings),
            send=send,
            records_seen=RecordsSeen(settings),
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
