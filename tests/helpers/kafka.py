"""Plain Kafka clients for tests: what users and downstream systems would use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def produce(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes | None]]
) -> None:
    """Send (key, value) messages in order and wait for every delivery."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def _from_the_start(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started consumer assigned every partition of ``topic``, at the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + 10
        while not partitions and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[dict[str, object]]], bool],
    timeout_s: float = 30.0,
) -> list[dict[str, object]]:
    """Every JSON value on ``topic`` from the start, read until ``until(values)`` or timeout."""
    consumer = await _from_the_start(bootstrap, topic)
    values: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while not until(values) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                values.extend(
                    orjson.loads(record.value) for record in records if record.value is not None
                )
    finally:
        await consumer.stop()
    return values


async def read_messages(
    bootstrap: str, topic: str, *, quiet_s: float = 2.0, timeout_s: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Every message on ``topic`` from the start as (key, value) bytes, read until none has
    come for ``quiet_s`` (or timeout)."""
    consumer = await _from_the_start(bootstrap, topic)
    messages: list[tuple[bytes | None, bytes | None]] = []
    try:
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                messages.extend((record.key, record.value) for record in records)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return messages


def run(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine from a synchronous test."""
    return asyncio.run(coroutine)


def pings_messages(records) -> int:  # type: ignore[no-untyped-def]
    """How many messages publishing ``records`` puts on ``airwave.pings``: the pings, and each
    clock tick copied in band into every pings partition."""
    from streams import topics
    from streams.simulator.publisher import HEARTBEAT_SOURCE

    partitions = topics.BY_NAME[topics.PINGS].partitions
    return sum(
        1 if record.topic == topics.PINGS else partitions if record.topic == HEARTBEAT_SOURCE else 0
        for record in records
    )


async def highwater_marks(
    bootstrap: str, topic_names: Sequence[str], timeout_s: float = 30.0
) -> dict[tuple[str, int], int]:
    """The high-water mark of every partition of ``topic_names``, as fetch responses give it
    (Tansu's ``end_offsets()`` cannot be trusted): one small fetch from the start of each."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, partition)
            for name in topic_names
            for partition in sorted(await _partitions(consumer, name))
        ]
        consumer.assign(partitions)
        for partition in partitions:
            consumer.seek(partition, 0)
        marks: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while len(marks) < len(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no fetch answered for {len(partitions) - len(marks)} partitions"
                )
            await consumer.getmany(timeout_ms=200, max_records=1)
            for partition in partitions:
                mark = consumer.highwater(partition)
                if mark is not None:
                    marks[(partition.topic, partition.partition)] = mark
                    consumer.pause(partition)
        return marks
    finally:
        await consumer.stop()


async def committed_offsets(
    bootstrap: str, group_id: str, partitions: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The offset ``group_id`` has committed on each partition (-1: none yet)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: dict[tuple[str, int], int] = {}
        for topic, partition in partitions:
            offset = await consumer.committed(TopicPartition(topic, partition))
            found[(topic, partition)] = -1 if offset is None else offset
        return found
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partitions of ``topic``, waiting a little for metadata."""
    partitions = consumer.partitions_for_topic(topic) or set()
    deadline = time.monotonic() + 10
    while not partitions and time.monotonic() < deadline:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return partitions
