"""The presence process: the pings hot path on a core of its own.

A worker's Faust event loop reads every topic and runs the other agents, the coverage evaluator
and the web server. The presence engine (decode, locate, the track state machine, visits, the
Redis commit) is CPU-bound Python: on that loop it would keep the consumer from fetching while it
works. So each worker runs its presence engine in a child process, and the loop only moves bytes:
the pings agent's batches go to the child as raw messages, at most :data:`IN_FLIGHT` at a time,
so that the child always has the next batch in hand; it prepares that batch (decode, locate,
advance the tracks, build the Redis changes) while the previous one's visits are still being
acknowledged by the broker and its Lua commit runs in Redis.

Order and failure: every request names the request it follows (``after``), and the child applies
it only if that one was applied; otherwise it refuses it. So when a batch fails (Redis or the
broker unavailable, bad data), every batch sent after it is refused, nothing is applied out of
order, and the worker sends them again in order. A batch's messages are acknowledged to Faust
only once the child has committed it (at least once). The child emits visits and deadletters
with its own producer before its commit, as the engine always has.

The child holds the tracks cache. It forgets it whenever the worker's partitions are revoked (the
``generation`` of each request changes), after any failure (the engine reloads from Redis), and
when a commit finds a partition applied elsewhere. Requests and replies travel over a socket
pair as 4-byte length-prefixed msgpack frames. What the child counts comes back with each reply
(:class:`~streams.metrics.MetricsRecorder`), with its clock for an event-clock worker.

The child exits when the worker closes the socket (or dies: the kernel then kills it); it
ignores SIGINT and SIGTERM, which reach it with the worker's process group, so that it finishes
the batch in hand and leaves when the worker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from aiokafka import AIOKafkaProducer
from mode import Service

from streams import topics
from streams.engines.presence import PingBatch, PreparedBatch, PresenceEngine
from streams.engines.runtime import Runtime
from streams.engines.stage import StageRuntime, clock_for, limits_for, unavailable
from streams.metrics import MetricsRecorder, PipelineMetrics, RecordedCall
from streams.settings import Settings
from streams.state import State

if TYPE_CHECKING:
    from streams.agents.batches import Events

log = logging.getLogger(__name__)

GC_THRESHOLDS = (50_000, 50, 100)
"""The tracks cache holds many long-lived immutable objects and each batch allocates many
short-lived ones; CPython's default thresholds (700, 10, 10) make it rescan the long-lived heap
so often that collection dominates the hot path. Fewer, larger young collections fix that (the
worker process uses them too, for its coverage state and Faust's per-message objects)."""

IN_FLIGHT = 3
"""Batches with the presence process at once: one it applies and the next, which it prepares
while the first is committed."""

LOSSES_BEFORE_BLAME = 3
"""A batch that the child died on this many times in a row is blamed on its data (the worker
then isolates its messages) rather than waited out as an infrastructure failure."""

STOP_GRACE_S = 10.0
"""How long a stopping worker waits for its presence process to finish the batch in hand."""

LOST_GRACE_S = 1.0
"""How long a lost presence process (its socket broke) gets to exit before it is killed."""

_PR_SET_PDEATHSIG = 1
_LENGTH = 4


class ProcessPings(msgspec.Struct, tag="pings", array_like=True, frozen=True):
    """Apply a batch of ``airwave.pings`` (request ``seq``, only if request ``after`` was
    applied; 0: the first request of a child)."""

    seq: int
    after: int
    generation: int
    clock: float | None
    batch: PingBatch


class SettlePresence(msgspec.Struct, tag="settle", array_like=True, frozen=True):
    """Settle on the clock (the ``settle_presence`` timer); ``highwaters`` per pings partition
    as of the worker's last fetch."""

    seq: int
    after: int
    generation: int
    clock: float | None
    highwaters: dict[int, int | None]


class Done(msgspec.Struct, tag="done", array_like=True, frozen=True):
    """Request ``seq`` was applied."""

    seq: int
    metrics: list[RecordedCall]
    clock: float | None
    cpu_seconds: float


class Failed(msgspec.Struct, tag="failed", array_like=True, frozen=True):
    """Request ``seq`` failed, or was ``refused`` (the request it follows was not applied);
    nothing of it was committed."""

    seq: int
    metrics: list[RecordedCall]
    unavailable: bool
    refused: bool
    error: str


Request = ProcessPings | SettlePresence
Reply = Done | Failed


class PresenceUnavailableError(ConnectionError):
    """A service the presence process needs is unavailable, or the process itself was lost: the
    batch waits and is tried again."""


class PresenceFailedError(RuntimeError):
    """The presence process failed on a batch for a reason of its data or of the code."""


def ping_batch(events: Events) -> PingBatch:
    """The raw messages of a batch of Faust events, column by column."""
    messages = [event.message for event in events]
    return PingBatch(
        partitions=[message.partition for message in messages],
        offsets=[message.offset for message in messages],
        keys=[message.key for message in messages],
        values=[message.value for message in messages],
        appended=[message.timestamp for message in messages],
    )


async def _write(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(len(payload).to_bytes(_LENGTH, "big") + payload)
    await writer.drain()


async def _read(reader: asyncio.StreamReader) -> bytes:
    length = int.from_bytes(await reader.readexactly(_LENGTH), "big")
    return await reader.readexactly(length)


class PresenceProcess(Service):
    """The worker's side: starts the presence process, sends it batches and clock ticks in
    order, and counts what it reports. A lost process is started again."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.generation = 0
        self._child: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: asyncio.Task[None] | None = None
        self._pending: deque[tuple[int, asyncio.Future[Reply]]] = deque()
        self._sending = asyncio.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Reply)
        self._seq = 0
        self._tip = 0
        """The request the next one follows: the last one sent, or after a failure the last one
        applied."""
        self._chain_from = 1
        """The first request sent since the chain was last started anew."""
        self._applied = 0
        self._losses = 0
        self._child_cpu_seconds = 0.0
        self._stopping = False

    def command(self, fd: int) -> list[str]:
        """The child's command line; it serves the socket ``fd``."""
        return [sys.executable, "-m", "streams.engines.presence_process", str(fd)]

    def forget(self) -> None:
        """Partitions were revoked: the child drops its cache before the next request."""
        self.generation += 1

    async def submit(self, events: Events) -> asyncio.Future[Reply]:
        """Send a batch of ``airwave.pings`` now; the future resolves with the child's reply
        (see :meth:`outcome`)."""
        batch = ping_batch(events)
        return await self._send(
            lambda seq, after: ProcessPings(seq, after, self.generation, self._clock(), batch)
        )

    async def process(self, events: Events) -> None:
        """Apply a batch of ``airwave.pings``; returns once it is committed."""
        self.outcome(await (await self.submit(events)))

    async def settle(self) -> None:
        """Settle tracks, close silent radios' visits and expire dose windows on the clock."""
        partitions = topics.BY_NAME[topics.PINGS].partitions
        highwaters = {p: self.runtime.highwater(topics.PINGS, p) for p in range(partitions)}
        future = await self._send(
            lambda seq, after: SettlePresence(
                seq, after, self.generation, self._clock(), highwaters
            )
        )
        self.outcome(await future)

    @staticmethod
    def outcome(reply: Reply) -> None:
        """Nothing for a request that was applied; raise for one that was not:
        :class:`PresenceUnavailableError` when it may succeed later as it is (a service was
        unavailable, or it was refused), :class:`PresenceFailedError` when its data or the code
        failed."""
        if isinstance(reply, Failed):
            if reply.unavailable or reply.refused:
                raise PresenceUnavailableError(reply.error)
            raise PresenceFailedError(reply.error)

    async def on_stop(self) -> None:
        """Close the socket (the child leaves after the batch in hand) and reap the child."""
        async with self._sending:
            self._stopping = True
            await self._close(STOP_GRACE_S, PresenceUnavailableError("the worker is stopping"))

    def _clock(self) -> float | None:
        return self.runtime.clock.now() if self.runtime.settings.clock == "event" else None

    async def _send(self, request: Callable[[int, int], Request]) -> asyncio.Future[Reply]:
        """Number a request, chain it after the last one and send it."""
        async with self._sending:
            if self._stopping:
                raise PresenceUnavailableError("the worker is stopping")
            if self._writer is None:
                await self._start()
            writer = self._writer
            assert writer is not None
            self._seq += 1
            message = request(self._seq, self._tip)
            self._tip = self._seq
            future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            self._pending.append((self._seq, future))
            try:
                await _write(writer, self._encoder.encode(message))
            except OSError as error:
                await self._lost(error)
        return future

    async def _read_replies(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Match the child's replies to the requests, in order, until the socket breaks."""
        try:
            while True:
                reply = self._decoder.decode(await _read(reader))
                seq, future = self._pending.popleft()
                if reply.seq != seq:
                    raise OSError(f"reply {reply.seq} to request {seq}")
                self._account(reply)
                if not future.done():
                    future.set_result(reply)
        except Exception as error:  # the socket broke, or a reply made no sense: start anew
            if not isinstance(error, OSError | asyncio.IncompleteReadError):
                self.log.exception("a reply of the presence process could not be taken")
            async with self._sending:
                if self._writer is writer:  # not already replaced after a failed send
                    await self._lost(error)

    def _account(self, reply: Reply) -> None:
        """Count what the child reports; keep track of what it applied."""
        metrics = self.runtime.metrics
        metrics.apply(reply.metrics)
        if isinstance(reply, Failed):
            if reply.seq >= self._chain_from:  # what was sent after it is refused: chain anew
                self._tip, self._chain_from = self._applied, self._seq + 1
            return
        self._applied = reply.seq
        self._losses = 0
        if reply.clock is not None:
            self.runtime.clock.observe(reply.clock)
        metrics.presence_process_cpu(reply.cpu_seconds - self._child_cpu_seconds)
        self._child_cpu_seconds = reply.cpu_seconds

    async def _lost(self, error: BaseException) -> None:
        """The child died or its socket broke: fail every request in flight (after this
        happened :data:`LOSSES_BEFORE_BLAME` times in a row, as the data's fault) and start a
        new child with the next request."""
        self._losses += 1
        self.runtime.metrics.presence_process_lost()
        message = f"the presence process was lost ({type(error).__name__}: {error})"
        failure: Exception = PresenceUnavailableError(message)
        if self._losses >= LOSSES_BEFORE_BLAME:
            self._losses = 0
            failure = PresenceFailedError(message)
        await self._close(LOST_GRACE_S, failure)

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        settings = self.runtime.settings
        env = {**os.environ, **settings.to_env(), "COVERWATCH_PARENT_PID": str(os.getpid())}
        try:
            self._child = await asyncio.create_subprocess_exec(
                *self.command(theirs.fileno()),
                pass_fds=[theirs.fileno()],
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._child_cpu_seconds = 0.0
        self._tip, self._applied, self._chain_from = 0, 0, self._seq + 1
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        self._replies = asyncio.create_task(self._read_replies(reader, self._writer))
        self.log.info("presence process %d started", self._child.pid)

    async def _close(self, grace_s: float, failure: Exception) -> None:
        """Close the socket, reap the child (killed if it does not leave within ``grace_s``),
        then fail what is in flight with ``failure``."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        replies, self._replies = self._replies, None
        if replies is not None and replies is not asyncio.current_task():
            replies.cancel()
        child, self._child = self._child, None
        if child is not None:
            try:
                await asyncio.wait_for(child.wait(), grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        while self._pending:
            _, future = self._pending.popleft()
            if not future.done():
                future.set_exception(failure)


# -- the child --------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Get SIGKILL when the worker dies (Linux prctl); leave at once if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        sys.exit(0)


class _Producer:
    """The child's Kafka producer, started on first use (again after a failed start)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap.split(",")
        self._producer: AIOKafkaProducer | None = None

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        """Hand one record to the producer; the future resolves once it is acknowledged."""
        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks="all")
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        future: asyncio.Future[Any] = await self._producer.send(topic, value, key=key)
        return future

    async def stop(self) -> None:
        """Flush and stop the producer if it was started."""
        if self._producer is not None:
            await self._producer.stop()


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
        if not unavailable(error):
            log.exception("the presence engine failed on a request", exc_info=error)
        failure = f"{type(error).__name__}: {error}"
        await self.reply(Failed(seq, self.recorder.drain(), unavailable(error), False, failure))

    async def _refuse(self, request: Request) -> None:
        reason = f"refused: request {request.after} was not applied"
        await self.reply(Failed(request.seq, self.recorder.drain(), False, True, reason))


async def _serve(settings: Settings, sock: socket.socket) -> None:
    recorder = MetricsRecorder()
    producer = _Producer(settings.kafka_bootstrap)
    services: StageRuntime[PipelineMetrics] = StageRuntime(
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
        await _write(writer, encoder.encode(message))

    server = PresenceServer(PresenceEngine(services), recorder, reply)
    try:
        while True:
            try:
                request = decoder.decode(await _read(reader))
            except asyncio.IncompleteReadError:
                break  # the worker closed the socket
            await server.handle(request)
        await server.settle()
    finally:
        writer.close()
        await producer.stop()
        await services.state.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m streams.engines.presence_process FD``: serve the worker on the inherited
    socket."""
    args = sys.argv[1:] if argv is None else argv
    _die_with_parent(int(os.environ.get("COVERWATCH_PARENT_PID", os.getppid())))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [presence %(process)d] %(levelname)s %(name)s: %(message)s",
    )
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    with contextlib.closing(socket.socket(fileno=int(args[0]))) as sock:
        asyncio.run(_serve(settings, sock))


if __name__ == "__main__":
    main()
