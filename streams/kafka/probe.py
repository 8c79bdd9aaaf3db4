"""Which partitions of some topics hold records: a consumer outside any group watches the broker.

The event clock waits for partitions that hold records and have not been read yet (after a
rebuild, every partition; :mod:`streams.engines.records_seen`), and never for an empty one. Redis
alone cannot tell the two apart: both have no progress stored yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["RecordsProbe"]

FETCH_WAIT_MS = 100
"""How long one fetch of the probe waits at the broker for records (an empty partition answers
with its high-water mark once this has passed)."""
DECIDE_POLL_S = 0.02
"""How often :meth:`RecordsProbe.decided` looks while it waits."""


class RecordsProbe:
    """Fetches, from their start, the partitions (topic's full name -> partition count) not yet
    seen holding records, and tells which do now (:meth:`look`). A partition holds records when
    its high-water mark, as a fetch reports it (Tansu's ``ListOffsets`` for the end is not
    exact), is past its start (after retention); it is empty when they are equal. Partitions seen
    holding records are fetched no more."""

    def __init__(self, bootstrap: str, partitions: Mapping[str, int]) -> None:
        self.bootstrap = bootstrap
        self.watching = {
            TopicPartition(topic, p) for topic, count in partitions.items() for p in range(count)
        }
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Connect and fetch every partition from its start."""
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        await consumer.start()
        self._consumer = consumer
        self._watch(self.watching)

    async def stop(self) -> None:
        """Disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def _watch(self, partitions: set[TopicPartition]) -> None:
        assert self._consumer is not None
        self._consumer.assign(sorted(partitions))
        for tp in partitions:
            self._consumer.seek(tp, 0)  # before the log's start: reset to it (auto_offset_reset)

    async def look(self) -> tuple[set[TopicPartition], set[TopicPartition]]:
        """The partitions watched that hold records (fetched no more from now on), and those not
        answered for yet. Does not wait for the broker."""
        consumer = self._consumer
        if consumer is None:  # every partition was seen holding records
            return set(), set()
        found: set[TopicPartition] = set()
        undecided: set[TopicPartition] = set()
        for tp in sorted(self.watching):
            highwater = consumer.highwater(tp)
            if highwater is None:
                undecided.add(tp)
            elif highwater > await consumer.position(tp):
                found.add(tp)
        if found:
            self.watching -= found
            self._watch(self.watching)
        if not self.watching:
            await self.stop()  # every partition holds records: nothing more to watch
        return found, undecided

    async def decided(self, within_s: float) -> None:
        """Wait until the broker has answered for every partition watched, ``within_s`` at
        most."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            if all(consumer.highwater(tp) is not None for tp in self.watching):
                return
            await asyncio.sleep(DECIDE_POLL_S)
