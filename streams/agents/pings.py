"""``airwave.pings``: every batch handed over to the worker's presence process
(:mod:`streams.engines.pings`); a clock timer settles the rest."""

from __future__ import annotations

from typing import Any

from streams import topics
from streams.engines.batches import on_the_clock
from streams.engines.pings import PingsPipeline
from streams.engines.presence_process import PresenceProcess
from streams.engines.runtime import Runtime

TICK_INTERVAL_S = 1.0


def register(runtime: Runtime) -> PresenceProcess:
    """Attach the pings agent, the task applying its batches, the presence timer and the
    rebalance hook."""
    settings = runtime.settings
    presence = PresenceProcess(runtime)
    runtime.app.service(presence)  # type: ignore[arg-type]
    pipeline = PingsPipeline(runtime, presence)

    @runtime.app.agent(runtime.channels[topics.PINGS], name="track_presence", concurrency=1)
    async def track_presence(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            await runtime.store.wait_usable()
            await pipeline.hand_over(events)

    @runtime.app.task  # type: ignore[untyped-decorator]
    async def apply_pings() -> None:
        await pipeline.apply_in_order()

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        if runtime.store.usable:
            await on_the_clock(runtime, "settle_presence", presence.settle)

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        presence.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return presence
