"""The presence process itself (``python -m streams.engines.presence_process FD``): serves the
worker on the inherited socket, applying its requests in order with the presence engine, and
emits visits and deadletters with a producer of its own before each commit.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from streams.child_process import read_frame, run_child, write_frame
from streams.engines.outages import service_of
from streams.engines.presence import PartitionHandedOverError, PreparedBatch, PresenceEngine
from streams.engines.presence_process.protocol import (
    Done,
    Failed,
    ProcessPings,
    Reply,
    Request,
)
from streams.engines.stage import StageServices, clock_for, limits_for, unavailable
from streams.kafka.liveness import BrokerLiveness
from streams.kafka.producer import LazyProducer
from streams.metrics import MetricsRecorder, PipelineMetrics
from streams.settings import Settings
from streams.state import State

log = logging.getLogger(__name__)

REFUSER = "the presence process"
"""Who a refused request waits for, as the outage warnings name it (not Redis or the broker: a
request before it was not applied, after a failure or a rebalance, and it is sent again)."""

GC_THRESHOLDS = (50_000, 50, 100)
"""The tracks cache holds many long-lived immutable objects and each batch allocates many
short-lived ones; CPython's default thresholds (700, 10, 10) make it rescan the long-lived heap
so often that collection dominates the hot path. Fewer, larger young collections fix that (the
worker process uses them too, for its coverage state and Faust's per-message objects)."""


class PresenceServer:
    """The child's side: applies requests in the order they arrive, each only if the request it
    follows was applied, and prepares a batch while the one before it is being committed."""

    def __init__(
        self,
        engine: PresenceEngine,
        recorder: MetricsRecorder,
        reply: Callable[[Reply], Awaitable[None]],
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.reply = reply
        self.applied = 0
        """The last request applied (0: none yet)."""
        self.generation: int | None = None
        self.finishing: tuple[int, asyncio.Task[bool]] | None = None
        """The batch being delivered and committed, and the task doing it (True: applied, and
        the cache is still the one it was prepared on)."""

    async def handle(self, request: Request) -> None:
        """Apply one request, refuse it, or start applying it (a batch is committed by a task
        while the next request is read)."""
        clock = self.engine.services.clock
        if request.clock is not None:
            clock.observe(request.clock)
        if isinstance(request, ProcessPings) and self._follows_finishing(request):
            await self._prepare_while_finishing(request)
            return
        await self.settle()
        if request.after != self.applied:
            await self._refuse(request)
            return
        if request.generation != self.generation:
            self.engine.forget()
            self.generation = request.generation
        self.engine.owners = request.owners
        if isinstance(request, ProcessPings):
            self.engine.with_records = request.with_records
        try:
            if isinstance(request, ProcessPings):
                prepared = await self.engine.prepare(request.batch)
            else:
                await self.engine.tick(request.highwaters)
        except Exception as error:
            await self._fail(request.seq, error)
            return
        if isinstance(request, ProcessPings):
            self.finishing = (request.seq, asyncio.create_task(self._finish(request, prepared)))
        else:
            await self._done(request.seq)

    async def settle(self) -> bool:
        """Wait for the batch being committed, if any; whether it was applied with the cache
        intact."""
        if self.finishing is None:
            return True
        _, task = self.finishing
        self.finishing = None
        return await task

    def _follows_finishing(self, request: ProcessPings) -> bool:
        return (
            self.finishing is not None
            and request.after == self.finishing[0]
            and request.generation == self.generation
            and self.engine.cached(request.batch)
        )

    async def _prepare_while_finishing(self, request: ProcessPings) -> None:
        """Prepare a batch on the cache the batch before it left, while that one is delivered
        and committed; refuse it if that one then fails."""
        failure: Exception | None = None
        self.engine.owners = request.owners
        self.engine.with_records = request.with_records
        try:
            prepared = await self.engine.prepare(request.batch)
        except Exception as error:
            failure = error
        if not await self.settle():
            self.engine.forget()  # prepared on a cache that no longer holds
            await self._refuse(request)
        elif failure is not None:
            await self._fail(request.seq, failure)
        else:
            self.finishing = (request.seq, asyncio.create_task(self._finish(request, prepared)))

    async def _finish(self, request: ProcessPings, prepared: PreparedBatch) -> bool:
        try:
            intact = await self.engine.finish(prepared)
        except Exception as error:
            await self._fail(request.seq, error)
            return False
        await self._done(request.seq)
        return intact

    async def _done(self, seq: int) -> None:
        self.applied = seq
        services = self.engine.services
        clock = services.clock.now() if services.settings.clock == "event" else None
        await self.reply(Done(seq, self.recorder.drain(), clock, time.process_time()))

    async def _fail(self, seq: int, error: Exception) -> None:
        if isinstance(error, PartitionHandedOverError):  # not applied here; nothing failed
            reason = f"refused: {error}"
            await self.reply(Failed(seq, self.recorder.drain(), False, True, reason, REFUSER))
            return
        if not unavailable(error):
            log.exception("the presence engine failed on a request", exc_info=error)
        failure = f"{type(error).__name__}: {error}"
        down = unavailable(error)
        service = service_of(error) if down else ""
        await self.reply(Failed(seq, self.recorder.drain(), down, False, failure, service))

    async def _refuse(self, request: Request) -> None:
        reason = f"refused: request {request.after} was not applied"
        await self.reply(Failed(request.seq, self.recorder.drain(), False, True, reason, REFUSER))


async def _serve(settings: Settings, sock: socket.socket) -> None:
    recorder = MetricsRecorder()
    producer = LazyProducer(settings.kafka_bootstrap)
    services: StageServices[PipelineMetrics] = StageServices(
        settings=settings,
        metrics=recorder,
        state=State(settings.redis_url, settings.key_prefix, recorder),
        clock=clock_for(settings),
        limits=limits_for(settings),
        send=producer.send,
    )
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(Request)
    reader, writer = await asyncio.open_unix_connection(sock=sock)

    async def reply(message: Reply) -> None:
        await write_frame(writer, encoder.encode(message))

    liveness = BrokerLiveness(settings.kafka_bootstrap)
    server = PresenceServer(PresenceEngine(services, liveness.answers), recorder, reply)
    try:
        while True:
            try:
                request = decoder.decode(await read_frame(reader))
            except asyncio.IncompleteReadError:
                break  # the worker closed the socket
            await server.handle(request)
        await server.settle()
    finally:
        writer.close()
        await producer.stop()
        await liveness.close()
        await services.state.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m streams.engines.presence_process FD``: serve the worker on the inherited
    socket."""
    run_child("presence", _serve, GC_THRESHOLDS, argv)
