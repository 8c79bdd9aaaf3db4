"""Which partitions of some topics hold records: a consumer outside any group watches the broker.

The event clock waits for partitions that hold records and have not been read yet (after a
rebuild, every partition; :mod:`streams.engines.records_seen`), and never for an empty one. Redis
alone cannot tell the two apart: both have no progress stored yet.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["RecordsProbe"]

FETCH_WAIT_MS = 20
"""How long one fetch of the probe waits at the broker for records (an empty partition answers
with its high-water mark once this has passed): an answer is never older than this, and the
network's delay, when it arrives."""


class RecordsProbe:
    """Fetches, from their start, the partitions (topic's full name -> partition count) not yet
    seen holding records, and tells which do now (:meth:`look`). A partition holds records when
    its high-water mark, as a fetch reports it (Tansu's ``ListOffsets`` for the end is not
    exact), is past its start (after retention); it is empty when they are equal. Partitions seen
    holding records are fetched no more; once every one does, the consumer stops."""

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

    async def look(self) -> tuple[set[TopicPartition], dict[TopicPartition, float | None]]:
        """The partitions watched that hold records (fetched no more from now on), and each
        other one with the wall time (``time.time()``) of the fetch that last answered for it
        empty (None: not answered yet). Does not wait for the broker."""
        consumer = self._consumer
        if consumer is None:  # every partition was seen holding records
            return set(), {}
        found: set[TopicPartition] = set()
        empty: dict[TopicPartition, float | None] = {}
        for tp in sorted(self.watching):
            highwater = consumer.highwater(tp)
            if highwater is None:
                empty[tp] = None
            elif highwater > await consumer.position(tp):
                found.add(tp)
            else:
                polled = consumer.last_poll_timestamp(tp)
                empty[tp] = None if polled is None else polled / 1000.0
        if found:
            self.watching -= found
            self._watch(self.watching)
        if not self.watching:
            await self.stop()  # every partition holds records: nothing more to watch
        return found, empty
