"""``airwave.pings``: every fix through the presence engine; a clock timer settles the rest."""

from __future__ import annotations

from typing import Any

from streams import topics
from streams.agents.batches import guarded
from streams.presence import PresenceEngine
from streams.runtime import Runtime

TICK_INTERVAL_S = 1.0


def register(runtime: Runtime) -> PresenceEngine:
    """Attach the pings agent, the presence timer and the rebalance hook."""
    settings = runtime.settings
    engine = PresenceEngine(runtime)

    @runtime.app.agent(runtime.channels[topics.PINGS], name="track_presence", concurrency=1)
    async def track_presence(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            await guarded(runtime, topics.PINGS, events, engine.process)

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        await engine.tick()

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        engine.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return engine
