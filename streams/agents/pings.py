"""``airwave.pings``: every batch through the worker's presence process; a clock timer settles
the rest.

The agent only takes batches from the stream and hands them over; a task sends them, in order,
to the presence process, keeping :data:`~streams.engines.presence_process.IN_FLIGHT` with it. So the
agent takes the next batch from Faust's buffer while the presence process works. A batch's
messages stay unacknowledged until it is committed: each holds one more reference from the hand
over until the task releases it, so the consumer never commits an offset past a batch that is not
in Redis (at least once, as before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from streams import topics
from streams.agents.batches import Events, guarded, on_the_clock
from streams.engines.presence_process import IN_FLIGHT, PresenceProcess, Reply
from streams.engines.runtime import Runtime
from streams.engines.stage import unavailable

TICK_INTERVAL_S = 1.0
BATCHES_HANDED_OVER = 1
"""Batches that may wait for the task while the presence process has its fill."""

log = logging.getLogger(__name__)


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
            await runtime.store.wait_usable()
            for event in events:
                event.message.incref()  # acknowledged by apply_pings, once committed
            await handed_over.put(events)

    @runtime.app.task  # type: ignore[untyped-decorator]
    async def apply_pings() -> None:
        await apply_in_order(runtime, presence, handed_over)

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        if runtime.store.usable:
            await on_the_clock(runtime, "settle_presence", presence.settle)

    def forget_partitions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        presence.forget()

    runtime.app.on_partitions_revoked.connect(forget_partitions)

    return presence


async def apply_in_order(
    runtime: Runtime, presence: PresenceProcess, handed_over: asyncio.Queue[Events]
) -> None:
    """Send the handed-over batches to the presence process as they come, keeping up to
    :data:`IN_FLIGHT` with it, and acknowledge each once committed. When one fails, those sent
    after it are refused by the presence process; they are all applied again, one at a time,
    :func:`guarded` (waiting out an unavailable service, isolating a poison message)."""
    in_flight: deque[tuple[Events, asyncio.Future[Reply], float]] = deque()
    taking: asyncio.Future[Events] | None = None
    while True:
        if len(in_flight) < IN_FLIGHT:
            if taking is None:
                taking = asyncio.ensure_future(handed_over.get())
            waiting: list[asyncio.Future[Any]] = [taking]
            if in_flight:
                waiting.append(in_flight[0][1])
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if taking.done():
                events, taking = taking.result(), None
                in_flight.append((events, await presence.submit(events), time.perf_counter()))
                continue
        events, reply, sent = in_flight.popleft()
        try:
            presence.outcome(await reply)
        except Exception as error:
            for _, refused, _ in in_flight:
                await asyncio.wait([refused])
            again = [events, *(later for later, _, _ in in_flight)]
            in_flight.clear()
            await _apply_again(runtime, presence, again, error)
            continue
        runtime.metrics.handled(topics.PINGS, time.perf_counter() - sent)
        _acknowledge(events)


async def _apply_again(
    runtime: Runtime, presence: PresenceProcess, batches: list[Events], error: Exception
) -> None:
    if unavailable(error):
        log.warning("%s: %s; the batch waits", topics.PINGS, error)
        runtime.metrics.retry(topics.PINGS)
    for events in batches:
        await guarded(runtime, topics.PINGS, events, presence.process)
        _acknowledge(events)


def _acknowledge(events: Events) -> None:
    """The batch is committed: release the reference each message held since the hand over."""
    for event in events:
        event.ack()
