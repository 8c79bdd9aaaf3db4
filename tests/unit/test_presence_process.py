"""What crosses between a worker and its presence process, and the order in which the presence
process applies it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import msgspec

from streams.clock import EventClock
from streams.engines.ping_batch import PingBatch
from streams.engines.presence import PartitionHandedOverError
from streams.engines.presence_process import (
    Done,
    Failed,
    PresenceServer,
    ProcessPings,
    Reply,
    Request,
    SettlePresence,
)
from streams.metrics import MetricsRecorder


def test_requests_and_replies_cross_the_socket_unchanged() -> None:
    batch = PingBatch([1], [42], [None], [b"\x00\xff not json"], [1.25])
    request = ProcessPings(seq=8, after=7, generation=3, clock=1_795_262_400.5, batch=batch)
    replies = [
        Done(
            8, [("consumed", ["airwave.pings", 1]), ("lags", ["airwave.pings", [0.5]])], None, 2.0
        ),
        Failed(9, [], True, False, "ConnectionError: redis is down"),
    ]

    assert msgspec.msgpack.decode(msgspec.msgpack.encode(request), type=Request) == request
    for reply in replies:
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(reply), type=Reply) == reply


class FakeEngine:
    """Stands in for the presence engine: records what it prepares and finishes, in order; a
    batch whose first value is ``b"fail"`` fails to commit, ``b"elsewhere"`` commits with a
    partition applied elsewhere, ``b"hold"`` waits for ``release`` before committing,
    ``b"handed over"`` gives up in its join wait (its partition was let go of)."""

    def __init__(self) -> None:
        self.services = SimpleNamespace(clock=EventClock(), settings=SimpleNamespace(clock="event"))
        self.prepared: list[int] = []
        self.finished: list[int] = []
        self.forgotten = 0
        self.release = asyncio.Event()
        self.cache = True

    def forget(self) -> None:
        self.forgotten += 1
        self.cache = False

    def cached(self, batch: PingBatch) -> bool:
        return self.cache

    async def prepare(self, batch: PingBatch) -> PingBatch:
        self.prepared.append(batch.offsets[0])
        if batch.values[0] == b"handed over":
            raise PartitionHandedOverError("partitions [0] were handed over")
        self.cache = True
        return batch

    async def finish(self, batch: PingBatch) -> bool:
        if batch.values[0] == b"hold":
            await self.release.wait()
        if batch.values[0] == b"fail":
            raise ConnectionError("redis is down")
        self.finished.append(batch.offsets[0])
        return batch.values[0] != b"elsewhere"

    async def tick(self, highwaters: dict[int, int | None]) -> None:
        self.finished.append(-1)


def pings(
    seq: int, after: int, offset: int, value: bytes = b"{}", generation: int = 0
) -> ProcessPings:
    return ProcessPings(
        seq, after, generation, None, PingBatch([0], [offset], [None], [value], [0.0])
    )


def served() -> tuple[PresenceServer, FakeEngine, list[Reply]]:
    engine = FakeEngine()
    replies: list[Reply] = []

    async def reply(message: Reply) -> None:
        replies.append(message)

    return PresenceServer(engine, MetricsRecorder(), reply), engine, replies  # type: ignore[arg-type]


def outcomes(replies: list[Reply]) -> list[tuple[int, str]]:
    return [
        (r.seq, "done" if isinstance(r, Done) else "refused" if r.refused else "failed")
        for r in replies
    ]


async def test_batches_sent_after_a_failed_one_are_refused_and_applied_again_in_order() -> None:
    server, engine, replies = served()

    await server.handle(pings(1, 0, offset=10))
    await server.handle(pings(2, 1, offset=11, value=b"fail"))
    await server.handle(pings(3, 2, offset=12))
    await server.handle(pings(4, 3, offset=13))
    await server.handle(pings(5, 1, offset=11))  # the worker sends them again after 1
    await server.handle(pings(6, 5, offset=12))
    await server.settle()

    assert outcomes(replies) == [
        (1, "done"),
        (2, "failed"),
        (3, "refused"),
        (4, "refused"),
        (5, "done"),
        (6, "done"),
    ]
    assert engine.finished == [10, 11, 12]
    assert isinstance(replies[1], Failed)
    assert replies[1].unavailable


async def test_the_next_batch_is_prepared_while_the_one_before_it_commits() -> None:
    server, engine, replies = served()
    await server.handle(pings(1, 0, offset=10, value=b"hold"))

    second = asyncio.create_task(server.handle(pings(2, 1, offset=11)))
    await asyncio.sleep(0.01)
    prepared_while_holding = list(engine.prepared)
    engine.release.set()
    await second
    await server.settle()

    assert prepared_while_holding == [10, 11]
    assert engine.finished == [10, 11]
    assert outcomes(replies) == [(1, "done"), (2, "done")]


async def test_a_batch_prepared_on_a_cache_that_no_longer_holds_is_refused() -> None:
    server, engine, replies = served()

    await server.handle(pings(1, 0, offset=10, value=b"elsewhere"))
    await server.handle(pings(2, 1, offset=11))
    await server.handle(pings(3, 1, offset=11))
    await server.settle()

    assert outcomes(replies) == [(1, "done"), (2, "refused"), (3, "done")]
    assert engine.finished == [10, 11]
    assert engine.forgotten >= 1


async def test_a_new_generation_forgets_the_cache_and_a_tick_waits_for_the_commit() -> None:
    server, engine, replies = served()
    await server.handle(pings(1, 0, offset=10, generation=0))
    forgotten = engine.forgotten

    await server.handle(pings(2, 1, offset=11, generation=1))
    await server.handle(SettlePresence(3, 2, 1, None, {0: 12}))

    assert engine.forgotten == forgotten + 1
    assert engine.finished == [10, 11, -1]
    assert outcomes(replies) == [(1, "done"), (2, "done"), (3, "done")]


async def test_a_batch_whose_partition_was_handed_over_is_refused_not_failed() -> None:
    server, _, replies = served()

    await server.handle(pings(1, 0, offset=10, value=b"handed over"))
    await server.handle(pings(2, 1, offset=11))
    await server.settle()

    assert outcomes(replies) == [(1, "refused"), (2, "refused")]
    assert all(isinstance(r, Failed) and r.service == "the presence process" for r in replies)
