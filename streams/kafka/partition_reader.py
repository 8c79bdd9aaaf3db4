"""A reader of chosen partitions from chosen offsets, outside any consumer group: the archive's
reads of a partition it is fed by another reader, where the feed leaves a gap
(:mod:`streams.archive.service`)."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import TopicPartition

from streams.kafka.group_consumer import ReadRecord
from streams.kafka.reader import Consumer, new_reader
from streams.settings import Settings

__all__ = ["PartitionReader"]

FETCH_MAX_WAIT_MS = 200


class PartitionReader:
    """Reads the partitions it is pointed at, each from the offset it is given, committing
    nothing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: Consumer | None = None
        self.positions: dict[tuple[str, int], int] = {}
        """Where each partition read is at, as this reader last left it."""

    @property
    def consumer(self) -> Consumer:
        """The started consumer."""
        assert self._consumer is not None, "start() first"
        return self._consumer

    async def start(self) -> None:
        """Connect to the broker (aiokafka makes its consumer inside the event loop)."""
        bootstrap = self.settings.kafka_bootstrap
        self._consumer = new_reader(bootstrap, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        await self._consumer.start()

    async def stop(self) -> None:
        """Disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()

    def point(self, starts: Mapping[tuple[str, int], int]) -> None:
        """Read exactly the partitions of ``starts``, each from its offset (the others stay
        assigned, paused)."""
        wanted = {TopicPartition(topic, partition) for topic, partition in starts}
        assigned = self.consumer.assignment()
        if not wanted <= assigned:
            assigned = assigned | wanted
            self.consumer.assign(sorted(assigned))
            self.positions = {}
        self.consumer.pause(*(assigned - wanted))
        self.consumer.resume(*wanted)
        self.positions = {held: at for held, at in self.positions.items() if held in starts}
        for (topic, partition), offset in starts.items():
            if self.positions.get((topic, partition)) != offset:
                self.consumer.seek(TopicPartition(topic, partition), offset)
                self.positions[(topic, partition)] = offset

    async def read(
        self, timeout_ms: int, max_records: int
    ) -> dict[tuple[str, int], list[ReadRecord]]:
        """The next records of each partition pointed at, in offset order."""
        if not self.positions:
            return {}
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        read: dict[tuple[str, int], list[ReadRecord]] = {}
        for tp, records in batches.items():
            held = (tp.topic, tp.partition)
            if held not in self.positions or not records:
                continue
            read[held] = [
                ReadRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value)
                for r in records
            ]
            self.positions[held] = records[-1].offset + 1
        return read
