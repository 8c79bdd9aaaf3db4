"""The worker's side of ``airwave.pings``: batches the agent hands over go, in order, to the
presence process (:mod:`streams.engines.presence_process`), :data:`IN_FLIGHT` at a time.

The agent only takes batches from the stream and hands them over; a task sends them on, so the
agent takes the next batch from Faust's buffer while the presence process works. A batch's
messages stay unacknowledged until it is committed: each holds one more reference from the hand
over until the task releases it, so the consumer never commits an offset past a batch that is not
in Redis (at least once).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from streams import topics
from streams.engines.batches import Events, guarded
from streams.engines.outages import OUTAGES
from streams.engines.presence_process import IN_FLIGHT, PresenceProcess, Reply
from streams.engines.runtime import Runtime
from streams.engines.stage import unavailable

BATCHES_HANDED_OVER = 1
"""Batches that may wait for the task while the presence process has its fill."""


class PingsPipeline:
    """Batches handed over by the pings agent, applied by the presence process in order."""

    def __init__(self, runtime: Runtime, presence: PresenceProcess) -> None:
        self.runtime = runtime
        self.presence = presence
        self.handed_over: asyncio.Queue[Events] = asyncio.Queue(maxsize=BATCHES_HANDED_OVER)

    async def hand_over(self, events: Events) -> None:
        """Queue a batch for :meth:`apply_in_order` (waits while the queue is full); its messages
        stay unacknowledged until it is committed."""
        for event in events:
            event.message.incref()  # acknowledged by apply_in_order, once committed
        await self.handed_over.put(events)

    async def apply_in_order(self) -> None:
        """Send the handed-over batches to the presence process as they come, keeping up to
        :data:`IN_FLIGHT` with it, and acknowledge each once committed. When one fails, those
        sent after it are refused by the presence process; they are all applied again, one at a
        time, :func:`~streams.engines.batches.guarded` (waiting out an unavailable service,
        isolating a poison message)."""
        presence = self.presence
        in_flight: deque[tuple[Events, asyncio.Future[Reply], float]] = deque()
        taking: asyncio.Future[Events] | None = None
        while True:
            if len(in_flight) < IN_FLIGHT:
                if taking is None:
                    taking = asyncio.ensure_future(self.handed_over.get())
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
                await self._apply_again(again, error)
                continue
            self.runtime.metrics.handled(topics.PINGS, time.perf_counter() - sent)
            _acknowledge(events)

    async def _apply_again(self, batches: list[Events], error: Exception) -> None:
        if unavailable(error):
            OUTAGES.unavailable(topics.PINGS, error, "waits and is retried")
            self.runtime.metrics.retry(topics.PINGS)
        for events in batches:
            await guarded(self.runtime, topics.PINGS, events, self.presence.process)
            _acknowledge(events)


def _acknowledge(events: Events) -> None:
    """The batch is committed: release the reference each message held since the hand over."""
    for event in events:
        event.ack()
