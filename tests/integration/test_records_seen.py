"""The worker sees at the broker which input partitions hold records: the event clock's waits
wait for a partition that holds records not read yet, never for an empty one (a real broker)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from streams import topics
from streams.devtools.stack.embedded import Services, create_topics
from streams.engines.records_seen import RecordsSeen
from tests.integration.conftest import worker_settings

pytestmark = pytest.mark.integration


async def _send(bootstrap: str, topic: str, partition: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"k", partition=partition)
    finally:
        await producer.stop()


async def _seen_until(seen: RecordsSeen, topic: str, partitions: list[int]) -> list[int]:
    for _ in range(100):
        found = await seen.current()
        assert found is not None
        if found[topic] == partitions:
            return partitions
        await asyncio.sleep(0.05)
    return found[topic]


async def _scenario(stack: Services) -> None:
    settings = worker_settings(stack, "mrecordsseen")
    await create_topics(settings.kafka_bootstrap, settings.topic_prefix)
    await _send(settings.kafka_bootstrap, settings.topic(topics.INCIDENTS), 1)
    await _send(settings.kafka_bootstrap, settings.topic(topics.PINGS), 2)
    seen = RecordsSeen(settings)
    try:
        first = await seen.current()
        assert first == {topics.PINGS: [2], topics.INCIDENTS: [1], topics.STOPSEARCH: []}

        await _send(settings.kafka_bootstrap, settings.topic(topics.INCIDENTS), 0)
        assert await _seen_until(seen, topics.INCIDENTS, [0, 1]) == [0, 1]
        assert (await seen.current() or {})[topics.PINGS] == [2]
    finally:
        await seen.stop()


def test_partitions_holding_records_are_seen_and_empty_ones_watched_until_they_hold_some(
    stack: Services,
) -> None:
    asyncio.run(_scenario(stack))
