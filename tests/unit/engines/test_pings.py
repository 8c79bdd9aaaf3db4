"""The pings reader: batches go to the presence process in order; after a failure, the failed
batch and those refused after it are applied again; a revoke waits for the batches in flight and
drops those fetched before it; positions reach the group only once their batch is in Redis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from streams.domain.validation import Rejection
from streams.engines.ping_batch import PingBatch, RawMessage
from streams.engines.pings import PingsReader, ping_batch_of
from streams.engines.presence_process import (
    Done,
    Failed,
    PresenceFailedError,
    PresenceProcess,
    Reply,
)
from streams.settings import Settings

TOPIC = "airwave.pings"


def batch(*offsets: int, partition: int = 0) -> PingBatch:
    return PingBatch(
        [partition] * len(offsets),
        list(offsets),
        [b"k"] * len(offsets),
        [str(offset).encode() for offset in offsets],
        [0.0] * len(offsets),
    )


@dataclass
class FakePresence:
    """Answers each submitted batch once ``release`` is set: those numbered in ``failing`` fail
    (the first as unavailable, the rest as refused), the others are applied. ``poison`` offsets
    fail :meth:`process` for their data."""

    failing: set[int] = field(default_factory=set)
    poison: set[int] = field(default_factory=set)
    submitted: list[list[int]] = field(default_factory=list)
    processed: list[list[int]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    forgotten: int = 0
    outcome = staticmethod(PresenceProcess.outcome)

    async def submit(
        self, batch: PingBatch, owners: dict[int, int], with_records: Any = None
    ) -> asyncio.Future[Reply]:
        seq = len(self.submitted) + 1
        self.submitted.append(list(batch.offsets))
        reply: Reply = Done(seq, [], None, 0.0)
        if seq in self.failing:
            refused = seq != min(self.failing)
            reply = Failed(seq, [], not refused, refused, "Redis is down")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        async def answer() -> None:
            await self.release.wait()
            future.set_result(reply)

        asyncio.get_running_loop().create_task(answer())
        return future

    async def process(
        self, batch: PingBatch, owners: dict[int, int], with_records: Any = None
    ) -> None:
        if self.poison & set(batch.offsets):
            raise PresenceFailedError("bad data")
        self.processed.append(list(batch.offsets))

    def forget(self) -> None:
        self.forgotten += 1


@dataclass
class FakeGroup:
    """Faust's group as the reader sees it: the commits of positions, as made."""

    committed: list[dict[int, int]] = field(default_factory=list)
    rebalancing: bool = False

    async def commit_read_elsewhere(self, topic: str, positions: dict[int, int]) -> bool:
        assert topic == TOPIC
        self.committed.append(dict(positions))
        return True


@dataclass
class FakeConsumer:
    """The partition reader's holdings, as told."""

    holding: dict[int, int | None] = field(default_factory=dict)
    started: bool = True

    async def start(self) -> None:
        self.started = True

    def hold(self, partitions: dict[int, int | None]) -> None:
        self.holding = dict(partitions)


@dataclass
class FakeState:
    """Redis's owners and watermarks; unavailable while ``down``."""

    watermarks: dict[int, int]
    down: bool = False
    owner: int = 0

    released: list[dict[int, int]] = field(default_factory=list)

    async def claim(self, source: str, partitions: set[int]) -> dict[int, tuple[int, int]]:
        if self.down:
            raise ConnectionError("Redis is down")
        self.owner += 1
        return {p: (self.owner, self.watermarks.get(p, -1)) for p in partitions}

    async def release(self, source: str, held: dict[int, int]) -> None:
        if self.down:
            raise ConnectionError("Redis is down")
        self.released.append(dict(held))


class NotLooked:
    """The broker not looked at: which partitions hold records is not known."""

    async def current(self, after: float | None = None) -> None:
        return None

    async def stop(self) -> None:
        return None


def reader(presence: FakePresence) -> tuple[PingsReader, FakeGroup, list[Any]]:
    deadlettered: list[Any] = []
    metrics = SimpleNamespace(handled=lambda topic, seconds: None, retry=lambda topic: None)

    async def deadletter(topic: str, rejected: Any) -> None:
        deadlettered.extend(rejected)

    kafka = FakeGroup()
    runtime = SimpleNamespace(
        settings=Settings(),
        metrics=metrics,
        deadletter=deadletter,
        app=kafka,
        state=FakeState({}),
        records_seen=NotLooked(),
    )
    pings = PingsReader(runtime, [presence])  # type: ignore[arg-type,list-item]
    pings.consumer = FakeConsumer({0: 0})  # type: ignore[assignment]
    pings.owners = {0: 1}  # partition 0 taken over in Redis
    return pings, kafka, deadlettered


async def until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_batches_are_sent_in_order_and_their_positions_committed_once_applied() -> None:
    presence = FakePresence()
    pings, kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        for offsets in ([10, 11], [12], [13]):
            await pings.lanes[0].fetched.put((pings.generation, batch(*offsets)))
        await until(lambda: len(presence.submitted) == 3)
        await pings._commit_positions()
        assert kafka.committed == []  # nothing is in Redis yet

        presence.release.set()
        await until(lambda: pings.lanes[0].quiet.is_set() and pings.lanes[0].fetched.empty())
        await pings._commit_positions()
    finally:
        applying.cancel()

    assert presence.submitted == [[10, 11], [12], [13]]
    assert kafka.committed == [{0: 14}]


async def test_a_failed_batch_and_those_refused_after_it_are_applied_again_in_order() -> None:
    presence = FakePresence(failing={1, 2})
    presence.release.set()
    pings, kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(10)))
        await pings.lanes[0].fetched.put((pings.generation, batch(20)))
        await until(lambda: presence.processed == [[10], [20]])
        await pings._commit_positions()
    finally:
        applying.cancel()

    assert presence.submitted == [[10], [20]]
    assert kafka.committed == [{0: 21}]


async def test_a_batch_failing_for_its_data_deadletters_only_its_failing_message() -> None:
    presence = FakePresence(poison={31})
    pings, _, deadlettered = reader(presence)

    async def fails_for_data(
        _: PingBatch, owners: dict[int, int], with_records: Any = None
    ) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        future.set_result(Failed(1, [], False, False, "ValueError: bad"))
        return future

    presence.submit = fails_for_data  # type: ignore[method-assign,assignment]
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(30, 31, 32)))
        await until(lambda: len(deadlettered) == 1)
    finally:
        applying.cancel()

    assert presence.processed == [[30], [32]]
    message, rejection = deadlettered[0]
    assert (message.partition, message.offset) == (0, 31)
    assert rejection == Rejection("internal_error", "PresenceFailedError: bad data")


async def test_a_revoke_waits_for_the_batches_in_flight_and_drops_those_fetched_before_it() -> None:
    presence = FakePresence()
    pings, _kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(1)))
        await until(lambda: len(presence.submitted) == 1)
        stale = pings.generation
        revoking = asyncio.create_task(pings.revoked())
        await asyncio.sleep(0.05)
        assert not revoking.done()  # the batch in flight is not committed yet

        presence.release.set()
        await asyncio.wait_for(revoking, 5)
        pings.owners = {0: 2}  # assigned again, taken over in Redis
        await pings.lanes[0].fetched.put((stale, batch(2)))  # fetched before the revoke
        await pings.lanes[0].fetched.put((pings.generation, batch(3)))
        await until(lambda: len(presence.submitted) == 2)
    finally:
        applying.cancel()

    assert presence.submitted == [[1], [3]]
    assert pings.runtime.state.released == [{0: 1}]  # let go of in Redis at once
    assert pings.consumer.holding == {}  # and in Kafka once the batch in flight was done
    assert presence.forgotten == 1


def test_a_fetch_is_taken_apart_column_by_column() -> None:
    def record(partition: int, offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
        appended_ms = 1_700_000_000_500
        return ConsumerRecord(TOPIC, partition, offset, appended_ms, 0, b"k", value, None, 1, 1, ())

    taken = ping_batch_of(
        {
            TopicPartition(TOPIC, 2): [record(2, 7, b"{}"), record(2, 9, b"[]")],
            TopicPartition(TOPIC, 0): [record(0, 3, None)],
        }
    )

    assert taken.partitions == [2, 2, 0]
    assert taken.offsets == [7, 9, 3]
    assert taken.values == [b"{}", b"[]", None]
    assert taken.appended == [1_700_000_000.5] * 3
    assert taken.last_offsets() == {2: 9, 0: 3}
    assert taken.only(1) == PingBatch([2], [9], [b"k"], [b"[]"], [1_700_000_000.5])
    assert taken.slice(1, 3) == PingBatch(
        [2, 0], [9, 3], [b"k"] * 2, [b"[]", None], [1_700_000_000.5] * 2
    )
    assert taken.message(2) == RawMessage(b"k", None, 0, 3)


async def test_batches_refused_across_a_rebalance_are_left_to_the_partitions_next_owner() -> None:
    presence = FakePresence(failing={1, 2, 3})
    pings, kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(10)))
        await pings.lanes[0].fetched.put((pings.generation, batch(20)))
        await until(lambda: len(presence.submitted) == 2)
        pings.generation += 2  # revoked and assigned again while they were in flight
        presence.release.set()
        await pings.lanes[0].fetched.put((pings.generation, batch(30)))
        await until(lambda: pings.lanes[0].quiet.is_set() and len(presence.submitted) == 3)
        await pings._commit_positions()
    finally:
        applying.cancel()

    assert presence.processed == [[30]]  # 10 and 20 are not applied again under the new owner
    assert presence.submitted == [[10], [20], [30]]
    assert kafka.committed == [{0: 31}]


async def test_each_partition_goes_to_the_presence_process_of_its_lane() -> None:
    first, second = FakePresence(), FakePresence()
    runtime = SimpleNamespace(
        settings=Settings(),
        metrics=None,
        deadletter=None,
        app=FakeGroup(),
        records_seen=NotLooked(),
    )
    pings = PingsReader(runtime, [first, second])  # type: ignore[arg-type,list-item]

    def record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(TOPIC, partition, offset, 0, 0, b"k", b"{}", None, 1, 1, ())

    split = pings._by_lane(
        {TopicPartition(TOPIC, p): [record(p, 10 * p), record(p, 10 * p + 1)] for p in range(4)}
    )

    lanes = {pings.lanes.index(lane): sorted(held) for lane, held in split.items()}
    assert lanes == {
        0: [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2)],
        1: [TopicPartition(TOPIC, 1), TopicPartition(TOPIC, 3)],
    }
    assert pings.lanes[0].presence is first  # type: ignore[comparison-overlap]


async def test_a_batch_applied_after_a_rebalance_commits_no_position_to_the_group() -> None:
    presence = FakePresence()
    pings, kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(5)))
        await until(lambda: len(presence.submitted) == 1)
        pings.generation += 2  # the revoke gave up waiting for it; the partition was reassigned
        presence.release.set()
        await until(pings.lanes[0].quiet.is_set)
        await pings._commit_positions()
    finally:
        applying.cancel()

    assert kafka.committed == []  # it may have been fenced: the group's offsets stay behind Redis


async def test_a_batch_of_a_partition_not_taken_over_in_redis_is_never_sent() -> None:
    presence = FakePresence()
    presence.release.set()
    pings, _, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(7, partition=1)))
        await pings.lanes[0].fetched.put((pings.generation, batch(8)))
        await until(lambda: len(presence.submitted) == 1)
    finally:
        applying.cancel()

    assert presence.submitted == [[8]]  # partition 1 has no owner: its commit would be unfenced


@dataclass
class SeekingConsumer(FakeConsumer):
    seeks: dict[int, int] = field(default_factory=dict)

    def seek(self, partition: int, offset: int) -> None:
        self.seeks[partition] = offset


async def test_assigned_partitions_are_read_from_after_their_watermark_in_redis() -> None:
    pings, _, _ = reader(FakePresence())
    pings.runtime.state = FakeState({0: 41})  # type: ignore[attr-defined]
    pings.owners = {}

    await pings.assigned([2, 0])

    assert pings.consumer.holding == {0: 42, 2: 0}  # 2 has no watermark: its first offset
    assert pings.owners == {0: 1, 2: 1}
    assert pings.unclaimed == set()


async def test_partitions_assigned_while_redis_is_down_wait_until_it_can_be_read() -> None:
    pings, _, _ = reader(FakePresence())
    state = FakeState({1: 9}, down=True)
    pings.runtime.state = state  # type: ignore[attr-defined]
    pings.consumer = SeekingConsumer()  # type: ignore[assignment]
    pings.owners = {}

    await pings.assigned([1])
    assert pings.consumer.holding == {1: None}  # held, not read
    assert pings.owners == {}
    assert pings.unclaimed == {1}

    state.down = False
    await pings._claim_late()
    assert pings.consumer.seeks == {1: 10}
    assert pings.owners == {1: 1}


async def test_no_position_goes_to_the_group_while_it_rebalances() -> None:
    presence = FakePresence()
    presence.release.set()
    pings, kafka, _ = reader(presence)
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    try:
        await pings.lanes[0].fetched.put((pings.generation, batch(3)))
        await until(pings.lanes[0].quiet.is_set)
        await until(lambda: pings.applied == {0: 3})
        kafka.rebalancing = True
        await pings._commit_positions()
        assert kafka.committed == []
        kafka.rebalancing = False
        await pings._commit_positions()
    finally:
        applying.cancel()

    assert kafka.committed == [{0: 4}]


@dataclass
class SlowFetch(FakeConsumer):
    """A consumer whose fetch returns only once ``returns`` is set (a rebalance comes in
    meanwhile); its records are then those of the partitions held by then."""

    returns: asyncio.Event = field(default_factory=asyncio.Event)
    fetches: int = 0

    def held(self) -> set[int]:
        return set(self.holding)

    def pause_only(self, paused: set[int], waiting: set[int]) -> None:
        pass

    async def read_raw(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        self.fetches += 1
        if self.fetches > 1:
            await asyncio.sleep(3600)
        await self.returns.wait()
        record = ConsumerRecord(TOPIC, 0, 42, 0, 0, b"k", b"{}", None, 1, 1, ())
        return {TopicPartition(TOPIC, 0): [record]}


async def test_records_fetched_across_a_rebalance_are_applied_under_the_new_assignment() -> None:
    presence = FakePresence()
    presence.release.set()
    pings, _, _ = reader(presence)

    async def usable() -> None:
        pass

    pings.runtime.store = SimpleNamespace(wait_usable=usable)  # type: ignore[attr-defined]
    pings.consumer = SlowFetch({0: 0})  # type: ignore[assignment]
    applying = asyncio.create_task(pings.lanes[0].apply_in_order())
    fetching = asyncio.create_task(pings.fetch())
    try:
        await until(lambda: pings.consumer.fetches == 1)
        await pings.revoked()
        await pings.assigned([0])  # the fetch in progress now reads the new assignment
        pings.consumer.returns.set()
        await until(lambda: len(presence.submitted) == 1)
    finally:
        fetching.cancel()
        applying.cancel()

    assert presence.submitted == [[42]]  # not dropped as stale: the position is past it
