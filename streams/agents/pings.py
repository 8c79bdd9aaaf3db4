"""``airwave.pings``: every batch through the worker's presence process; a clock timer settles
the rest.

The agent only takes batches from the stream and hands them over; a task applies them in order
through the presence process. So while the presence process works on one batch, the agent
already takes the next from Faust's buffer (at most :data:`BATCHES_HANDED_OVER` wait). A batch's
messages stay unacknowledged until it is committed: each holds one more reference from the hand
over until the task releases it, so the consumer never commits an offset past a batch that is not
in Redis (at least once, as before).
"""

from __future__ import annotations

import asyncio
from typing import Any

from streams import topics
from streams.agents.batches import Events, guarded, on_the_clock
from streams.presence_process import PresenceProcess
from streams.runtime import Runtime

TICK_INTERVAL_S = 1.0
BATCHES_HANDED_OVER = 1
"""Batches that may wait for the presence process while it applies another."""


def register(runtime: Runtime) -> PresenceProcess:
    """Attach the pings agent, the task applying its batches, the presence timer and the
    rebalance hook."""
    settings = runtime.settings
    presence = PresenceProcess(runtime)
    runtime.app.service(presence)  # type: ignore[arg-type]
    handed_over: asyncio.Queue[Events] = asyncio.Queue(maxsize=BATCHES_HANDED_OVER)

    @runtime.app.agent(runtime.channels[topics.PINGS], name="track_presence", concurrency=1)
    async def track_presence(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            for event in events:
                event.message.incref()  # acknowledged by apply_pings, once committed
            await handed_over.put(events)

    @runtime.app.task  # type: ignore[untyped-decorator]
    async def apply_pings() -> None:
        while True:
            events = await handed_over.get()
            await guarded(runtime, topics.PINGS, events, presence.process)
            for event in events:
                event.ack()

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        await on_the_clock(runtime, "settle_presence", presence.settle)

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        presence.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return presence
