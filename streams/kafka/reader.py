"""Reading topics outside any consumer group, from their beginning: ``coverwatch rebuild``'s
reference tables and the bench's reads of what the workers wrote."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.settings import Settings

__all__ = [
    "READ_TIMEOUT_S",
    "REQUEST_TIMEOUT_MS",
    "Consumer",
    "ConsumerRecord",
    "TopicPartition",
    "TopicReader",
    "new_reader",
]

READ_TIMEOUT_S = 300.0
"""How long reading one partition to its end may take."""
REQUEST_TIMEOUT_MS = 10_000
"""How long the rebuild's reader and group admin wait for one answer of the broker."""
DEFAULT_FETCH_WAIT_MS = 500
DEFAULT_REQUEST_TIMEOUT_MS = 40_000

Consumer: TypeAlias = AIOKafkaConsumer
"""A consumer of partitions assigned to it (``assign``, ``seek_to_beginning``, ``getmany``)."""


def new_reader(
    bootstrap: str,
    *,
    fetch_max_wait_ms: int = DEFAULT_FETCH_WAIT_MS,
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
) -> Consumer:
    """A consumer (not started yet) outside any group, committing nothing, that starts from the
    earliest offset of the partitions assigned to it; a fetch waits up to ``fetch_max_wait_ms``
    for records."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
        request_timeout_ms=request_timeout_ms,
    )


class TopicReader:
    """Reads input partitions from their beginning, outside any consumer group."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = new_reader(settings.kafka_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)

    async def start(self) -> None:
        """Connect to the broker."""
        await self.consumer.start()

    async def close(self) -> None:
        """Disconnect."""
        await self.consumer.stop()

    async def has_records(self, partition: TopicPartition) -> bool:
        """Whether ``partition`` holds any record (read from its beginning until one comes or
        the high-water mark says there is none)."""
        async with contextlib.aclosing(self.read(partition, batch=1)) as batches:
            async for records in batches:
                if records:
                    return True
        return False

    async def read(
        self, partition: TopicPartition, batch: int = 2000
    ) -> AsyncGenerator[list[ConsumerRecord[bytes, bytes]]]:
        """Every record of ``partition`` from its beginning to the high-water mark of the
        latest fetch, in batches. (Not to ``end_offsets()``: Tansu answers that too low.)"""
        self.consumer.assign([partition])
        await self.consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while True:
            fetched = await self.consumer.getmany(partition, timeout_ms=500, max_records=batch)
            if fetched.get(partition):
                yield fetched[partition]
            highwater = self.consumer.highwater(partition)
            if highwater is not None and await self.consumer.position(partition) >= highwater:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{partition.topic} was not read to its end in time")
            await asyncio.sleep(0)
