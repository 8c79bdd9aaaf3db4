"""One lane of the pings reader (:mod:`streams.engines.pings`): a presence process and the batches
of the partitions it holds (``partition % lanes``), applied in order, :data:`IN_FLIGHT` at a time.

When a batch fails, those sent after it are refused by the presence process; they are all applied
again one at a time (waiting out an unavailable service), but those fetched before the latest
rebalance: the partitions' next owner reads them from the watermarks in Redis. A batch that fails
for a reason of its data is applied message by message so that only the message that fails goes
to ``deadletter``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Protocol

from streams import topics
from streams.domain.validation import Rejection
from streams.engines.batches import until_available
from streams.engines.outages import OUTAGES
from streams.engines.ping_batch import PingBatch
from streams.engines.presence_process import IN_FLIGHT, PresenceProcess, Reply
from streams.engines.runtime import Runtime
from streams.engines.stage import unavailable

log = logging.getLogger(__name__)

__all__ = ["Holder", "PresenceLane"]


class Holder(Protocol):
    """What a lane needs of the reader that feeds it."""

    runtime: Runtime
    generation: int
    """Counts the group's assignments and revocations: a batch fetched across one is stale."""
    owners: dict[int, int]
    """partition -> the owner the worker holds it under in Redis (commits are fenced by it)."""
    with_records: dict[str, list[int]] | None
    """The joined topics' partitions that held records when the worker last looked."""

    def holds(self, generation: int, batch: PingBatch) -> bool:
        """Whether ``batch``, fetched in ``generation``, may be sent: fetched since the latest
        rebalance, and every partition of it taken over in Redis (its commit is fenced)."""

    def committed(self, generation: int, batch: PingBatch) -> None:
        """``batch``, fetched in ``generation``, was applied by the presence process."""


class PresenceLane:
    """A presence process and the batches fetched for it, applied in order."""

    def __init__(self, holder: Holder, presence: PresenceProcess) -> None:
        self.holder = holder
        self.presence = presence
        self.fetched: asyncio.Queue[tuple[int, PingBatch]] = asyncio.Queue()
        """Batches fetched, not yet sent: while one waits, the reader fetches no more of this
        lane's partitions (:attr:`full`)."""
        self.took = asyncio.Event()
        """Set when a fetched batch is taken (the reader waits on it while every lane is full)."""
        self.in_flight: deque[tuple[int, PingBatch, asyncio.Future[Reply], float]] = deque()
        """(generation, batch, reply, time sent) of each batch with the presence process."""
        self.quiet = asyncio.Event()
        """Set while no batch is with the presence process."""
        self.quiet.set()

    @property
    def full(self) -> bool:
        """Whether a fetched batch waits: no more should be fetched for this lane."""
        return not self.fetched.empty()

    def drop_fetched(self) -> None:
        """Drop the batches fetched but not sent (a revoke)."""
        while not self.fetched.empty():
            self.fetched.get_nowait()

    async def apply_in_order(self) -> None:
        """Send the fetched batches to the presence process as they come, keeping up to
        :data:`IN_FLIGHT` with it; when one fails, apply it and those refused after it again."""
        holder, presence, in_flight = self.holder, self.presence, self.in_flight
        taking: asyncio.Future[tuple[int, PingBatch]] | None = None
        while True:
            if len(in_flight) < IN_FLIGHT:
                if taking is None:
                    taking = asyncio.ensure_future(self.fetched.get())
                waiting: list[asyncio.Future[Any]] = [taking]
                if in_flight:
                    waiting.append(in_flight[0][2])
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if taking.done():
                    (generation, batch), taking = taking.result(), None
                    self.took.set()
                    if holder.holds(generation, batch):
                        self.quiet.clear()
                        submitted = await presence.submit(batch, holder.owners, holder.with_records)
                        in_flight.append((generation, batch, submitted, time.perf_counter()))
                    continue
            generation, batch, reply, sent = in_flight.popleft()
            try:
                presence.outcome(await reply)
            except Exception as error:
                for _, _, refused, _ in in_flight:
                    await asyncio.wait([refused])
                again = [(generation, batch), *((g, later) for g, later, _, _ in in_flight)]
                in_flight.clear()
                await self._apply_again(again, error)
            else:
                holder.runtime.metrics.handled(topics.PINGS, time.perf_counter() - sent)
                holder.committed(generation, batch)
            if not in_flight:
                self.quiet.set()

    async def _apply_again(self, batches: list[tuple[int, PingBatch]], error: Exception) -> None:
        """Apply the batches again in order, but those fetched before the latest rebalance: the
        partitions' next owner (this worker too) reads them from the watermarks in Redis."""
        runtime = self.holder.runtime
        held = [(g, batch) for g, batch in batches if self.holder.holds(g, batch)]
        if held and unavailable(error):
            OUTAGES.unavailable(topics.PINGS, error, "waits and is retried")
            runtime.metrics.retry(topics.PINGS)
        for generation, batch in held:
            if not self.holder.holds(generation, batch):
                continue
            await self._guarded(generation, batch)
            self.holder.committed(generation, batch)

    async def _guarded(self, generation: int, batch: PingBatch) -> None:
        """Apply ``batch`` until it succeeds, waiting out an unavailable service; when it fails
        for its data, message by message, deadlettering only the message that fails. Once a
        rebalance comes in between, it is dropped (its partitions' owner reads it again)."""
        holder = self.holder
        runtime = holder.runtime
        started = time.perf_counter()

        async def process(one: PingBatch) -> None:
            if holder.holds(generation, one):
                await self.presence.process(one, holder.owners, holder.with_records)

        try:
            await until_available(runtime, topics.PINGS, process, batch)
            runtime.metrics.handled(topics.PINGS, time.perf_counter() - started)
            return
        except Exception:
            log.exception("batch of %d pings failed; isolating the failing messages", len(batch))
        for index in range(len(batch)):
            try:
                await until_available(runtime, topics.PINGS, process, batch.only(index))
            except Exception as error:
                message = batch.message(index)
                log.exception("pings message %d:%d failed", message.partition, message.offset)
                rejection = Rejection("internal_error", f"{type(error).__name__}: {error}")
                await runtime.deadletter(topics.PINGS, [(message, rejection)])
