"""The worker's side of the presence process: starts it, sends it batches and clock ticks in order
(each request chained after the one before), matches its replies to them and counts what it
reports; a lost process is started again, and a batch it keeps dying on is blamed on its data.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
from mode import Service

from streams.child_process import read_frame, spawn_child, write_frame
from streams.engines.ping_batch import PingBatch
from streams.engines.presence_process.protocol import (
    Failed,
    PresenceFailedError,
    PresenceUnavailableError,
    ProcessPings,
    Reply,
    Request,
    SettlePresence,
)
from streams.engines.runtime import Runtime

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

    async def submit(
        self,
        batch: PingBatch,
        owners: dict[int, int] | None = None,
        with_records: dict[str, list[int]] | None = None,
    ) -> asyncio.Future[Reply]:
        """Send a batch of ``airwave.pings`` now, with the owner each partition is held under
        (its commits are fenced by it) and the joined topics' partitions that hold records (the
        join wait waits for those not read yet); the future resolves with the child's reply
        (see :meth:`outcome`)."""
        held = owners or {}
        return await self._send(
            lambda seq, after: ProcessPings(
                seq, after, self.generation, self._clock(), batch, held, with_records
            )
        )

    async def process(
        self,
        batch: PingBatch,
        owners: dict[int, int] | None = None,
        with_records: dict[str, list[int]] | None = None,
    ) -> None:
        """Apply a batch of ``airwave.pings``; returns once it is committed."""
        self.outcome(await (await self.submit(batch, owners, with_records)))

    async def settle(
        self, highwaters: dict[int, int | None], owners: dict[int, int] | None = None
    ) -> None:
        """Settle tracks, close silent radios' visits and expire dose windows on the clock;
        ``highwaters``: each pings partition's high-water mark as of the last fetch."""
        held = owners or {}
        future = await self._send(
            lambda seq, after: SettlePresence(
                seq, after, self.generation, self._clock(), highwaters, held
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
                raise PresenceUnavailableError(reply.error, reply.service)
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
                await write_frame(writer, self._encoder.encode(message))
            except OSError as error:
                await self._lost(error)
        return future

    async def _read_replies(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Match the child's replies to the requests, in order, until the socket breaks."""
        try:
            while True:
                reply = self._decoder.decode(await read_frame(reader))
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
        self._child, reader, self._writer = await spawn_child(self.command, self.runtime.settings)
        self._child_cpu_seconds = 0.0
        self._tip, self._applied, self._chain_from = 0, 0, self._seq + 1
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
