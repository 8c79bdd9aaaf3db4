"""``airwave.pings``: every batch through the worker's presence process; a clock timer settles
the rest."""

from __future__ import annotations

from typing import Any

from streams import topics
from streams.agents.batches import batch_agent, on_the_clock
from streams.presence_process import PresenceProcess
from streams.runtime import Runtime

TICK_INTERVAL_S = 1.0


def register(runtime: Runtime) -> PresenceProcess:
    """Attach the pings agent, the presence timer and the rebalance hook."""
    presence = PresenceProcess(runtime)
    runtime.app.service(presence)  # type: ignore[arg-type]

    batch_agent(runtime, topics.PINGS, "track_presence", presence.process)

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        await on_the_clock(runtime, "settle_presence", presence.settle)

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        presence.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return presence
