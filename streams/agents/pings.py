"""``airwave.pings``: every fix through the presence engine; a clock timer settles the rest."""

from __future__ import annotations

from typing import Any

from streams import topics
from streams.agents.batches import batch_agent, on_the_clock
from streams.presence import PresenceEngine
from streams.runtime import Runtime

TICK_INTERVAL_S = 1.0


def register(runtime: Runtime) -> PresenceEngine:
    """Attach the pings agent, the presence timer and the rebalance hook."""
    engine = PresenceEngine(runtime)

    batch_agent(runtime, topics.PINGS, "track_presence", engine.process)

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        await on_the_clock(runtime, "settle_presence", engine.tick)

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        engine.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return engine
