"""The presence process: the pings hot path on a core of its own.

A worker's Faust event loop reads every topic and runs the other agents, the coverage evaluator
and the web server. The presence engine (decode, locate, the track state machine, visits, the
Redis commit) is CPU-bound Python: on that loop it would keep the consumer from fetching while it
works. So each worker runs its presence engine in a child process. The pings agent hands it each
batch's raw messages and waits until the batch is committed; meanwhile the loop fetches and
buffers the next batch. The agent acknowledges a batch only after the child has committed it, so
delivery stays at least once; the child emits visits and deadletters with its own producer
before that commit, as the engine always has.

The child holds the tracks cache. It forgets it whenever the worker's partitions are revoked (the
``generation`` of each request changes), and after any failed batch (the engine reloads from
Redis). Requests and replies travel over a socket pair as 4-byte length-prefixed msgpack frames.
What the child counts comes back with each reply (:class:`~streams.metrics.MetricsRecorder`),
with its clock for an event-clock worker.

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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from aiokafka import AIOKafkaProducer
from mode import Service

from streams import topics
from streams.metrics import MetricsRecorder, PipelineMetrics, RecordedCall
from streams.presence import PingBatch, PresenceEngine
from streams.runtime import Runtime
from streams.settings import Settings
from streams.stage import StageRuntime, clock_for, limits_for, unavailable
from streams.state import State

if TYPE_CHECKING:
    from streams.agents.batches import Events

log = logging.getLogger(__name__)

GC_THRESHOLDS = (50_000, 50, 100)
"""The tracks cache holds many long-lived immutable objects and each batch allocates many
short-lived ones; CPython's default thresholds (700, 10, 10) make it rescan the long-lived heap
so often that collection dominates the hot path. Fewer, larger young collections fix that (the
worker process uses them too, for its coverage state and Faust's per-message objects)."""

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
    """Apply a batch of ``airwave.pings``."""

    generation: int
    clock: float | None
    batch: PingBatch


class SettlePresence(msgspec.Struct, tag="settle", array_like=True, frozen=True):
    """Settle on the clock (the ``settle_presence`` timer); ``highwaters`` per pings partition
    as of the worker's last fetch."""

    generation: int
    clock: float | None
    highwaters: dict[int, int | None]


class Done(msgspec.Struct, tag="done", array_like=True, frozen=True):
    """The request was applied."""

    metrics: list[RecordedCall]
    clock: float | None
    cpu_seconds: float


class Failed(msgspec.Struct, tag="failed", array_like=True, frozen=True):
    """The request failed; nothing of it was committed."""

    metrics: list[RecordedCall]
    unavailable: bool
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
    """The worker's side: starts the presence process, hands it batches and clock ticks, and
    counts what it reports. One request at a time; a lost process is started again."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.generation = 0
        self._child: asyncio.subprocess.Process | None = None
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Reply)
        self._losses = 0
        self._child_cpu_seconds = 0.0

    def command(self, fd: int) -> list[str]:
        """The child's command line; it serves the socket ``fd``."""
        return [sys.executable, "-m", "streams.presence_process", str(fd)]

    def forget(self) -> None:
        """Partitions were revoked: the child drops its cache before the next request."""
        self.generation += 1

    async def process(self, events: Events) -> None:
        """Apply a batch of ``airwave.pings`` (returns once it is committed)."""
        await self._request(ProcessPings(self.generation, self._clock(), ping_batch(events)))

    async def settle(self) -> None:
        """Settle tracks, close silent radios' visits and expire dose windows on the clock."""
        partitions = topics.BY_NAME[topics.PINGS].partitions
        highwaters = {p: self.runtime.highwater(topics.PINGS, p) for p in range(partitions)}
        await self._request(SettlePresence(self.generation, self._clock(), highwaters))

    async def on_stop(self) -> None:
        """Close the socket (the child leaves after its batch in hand) and reap the child."""
        async with self._lock:
            await self._close(STOP_GRACE_S)

    def _clock(self) -> float | None:
        return self.runtime.clock.now() if self.runtime.settings.clock == "event" else None

    async def _request(self, request: Request) -> None:
        async with self._lock:
            try:
                reader, writer = self._connection or await self._start()
                await _write(writer, self._encoder.encode(request))
                reply = self._decoder.decode(await _read(reader))
            except (OSError, asyncio.IncompleteReadError) as error:
                self._losses += 1
                self.runtime.metrics.presence_process_lost()
                await self._close(LOST_GRACE_S)
                message = f"the presence process was lost ({type(error).__name__}: {error})"
                if self._losses >= LOSSES_BEFORE_BLAME:
                    self._losses = 0
                    raise PresenceFailedError(message) from error
                raise PresenceUnavailableError(message) from error
        self._losses = 0
        self.runtime.metrics.apply(reply.metrics)
        if isinstance(reply, Failed):
            if reply.unavailable:
                raise PresenceUnavailableError(reply.error)
            raise PresenceFailedError(reply.error)
        if reply.clock is not None:
            self.runtime.clock.observe(reply.clock)
        self.runtime.metrics.presence_process_cpu(reply.cpu_seconds - self._child_cpu_seconds)
        self._child_cpu_seconds = reply.cpu_seconds

    async def _start(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
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
        self._connection = await asyncio.open_unix_connection(sock=ours)
        self.log.info("presence process %d started", self._child.pid)
        return self._connection

    async def _close(self, grace_s: float) -> None:
        """Close the socket and reap the child (killed if it does not leave within
        ``grace_s``)."""
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None
        child, self._child = self._child, None
        if child is None:
            return
        try:
            await asyncio.wait_for(child.wait(), grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


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
    engine = PresenceEngine(services)
    event_clock = settings.clock == "event"
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(Request)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    generation: int | None = None
    try:
        while True:
            try:
                request = decoder.decode(await _read(reader))
            except asyncio.IncompleteReadError:
                return  # the worker closed the socket
            if request.generation != generation:
                engine.forget()
                generation = request.generation
            if request.clock is not None:
                services.clock.observe(request.clock)
            reply: Reply
            try:
                if isinstance(request, ProcessPings):
                    await engine.process(request.batch)
                else:
                    await engine.tick(request.highwaters)
            except Exception as error:
                if not unavailable(error):
                    log.exception("the presence engine failed on a request")
                reply = Failed(
                    recorder.drain(), unavailable(error), f"{type(error).__name__}: {error}"
                )
            else:
                now = services.clock.now() if event_clock else None
                reply = Done(recorder.drain(), now, time.process_time())
            await _write(writer, encoder.encode(reply))
    finally:
        writer.close()
        await producer.stop()
        await services.state.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m streams.presence_process FD``: serve the worker on the inherited socket."""
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
