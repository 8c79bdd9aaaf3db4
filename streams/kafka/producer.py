"""Kafka producers: the one started on first use that the presence process sends visits and
deadletters with, and the plain ones of the simulator and the bench."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

from aiokafka import AIOKafkaProducer

Producer: TypeAlias = AIOKafkaProducer
"""A started producer: ``send`` (its future resolves once the broker acknowledged the record),
``send_and_wait``, ``partitions_for``, ``flush``, ``stop``."""

DEFAULT_MAX_BATCH_BYTES = 16384
"""The client's default size of a batch of records to one partition."""


def new_producer(
    bootstrap: str | list[str],
    *,
    linger_ms: int = 0,
    max_batch_size: int = DEFAULT_MAX_BATCH_BYTES,
    acks: int | str = 1,
) -> Producer:
    """A producer for ``bootstrap`` (not started yet): records wait up to ``linger_ms`` to be
    batched, up to ``max_batch_size`` bytes a batch; ``acks`` 1 (the leader) or ``"all"``."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=linger_ms, max_batch_size=max_batch_size, acks=acks
    )


class LazyProducer:
    """A producer (every in-sync replica acknowledges, 5 ms linger) started on first use, and
    again after a failed start: a process that may never send connects only when it does."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap.split(",")
        self._producer: Producer | None = None

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        """Hand one record to the producer; the future resolves once it is acknowledged."""
        if self._producer is None:
            producer = new_producer(self.bootstrap, linger_ms=5, acks="all")
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
