"""A consumer of partitions it is handed, outside any group: the worker's pings reader
(:mod:`streams.engines.pings`). Faust's group decides which ``airwave.pings`` partitions a worker
holds; this consumer only fetches them, in batches, from where it is told (the positions live in
Redis), and commits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.settings import Settings

__all__ = ["PartitionReader", "RawRecord"]


class RawRecord(Protocol):
    """A record as aiokafka hands it over (no copy made): timestamp in ms."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class PartitionReader:
    """Fetches the partitions of ``topic`` it holds (:meth:`hold`), with no group."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def started(self) -> bool:
        """Whether :meth:`start` made the consumer."""
        return self._consumer is not None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        """The started consumer."""
        assert self._consumer is not None, "start() first"
        return self._consumer

    async def start(self) -> None:
        """Connect (aiokafka makes its consumer inside the event loop); holds nothing yet."""
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
        )
        await consumer.start()
        self._consumer = consumer

    async def stop(self) -> None:
        """Disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()

    def hold(self, partitions: Mapping[int, int | None]) -> None:
        """Hold exactly ``partitions`` (partition -> offset to read next; None: not yet known,
        and paused until :meth:`seek` tells). Records fetched before are dropped."""
        held = {p: TopicPartition(self.topic, p) for p in partitions}
        self.consumer.assign(list(held.values()))
        for partition, offset in partitions.items():
            if offset is None:
                self.consumer.pause(held[partition])
            else:
                self.consumer.seek(held[partition], offset)

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (resumed if it was waiting to be told)."""
        held = TopicPartition(self.topic, partition)
        self.consumer.seek(held, offset)
        self.consumer.resume(held)

    def held(self) -> set[int]:
        """The partitions held."""
        return {tp.partition for tp in self.consumer.assignment()}

    async def read_raw(
        self, timeout_ms: int, max_records: int
    ) -> Mapping[Any, Sequence[RawRecord]]:
        """The next records of the partitions held and not paused, by partition, as aiokafka
        hands them over (the hot path's form: no object made per record)."""
        records: Mapping[Any, Sequence[RawRecord]] = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return records

    def pause_only(self, paused: set[int], waiting: set[int]) -> None:
        """Fetch no more of the ``paused`` partitions, and again of the others held except those
        ``waiting`` to be told where to start (records already fetched of a paused partition are
        kept for when it resumes)."""
        held = self.consumer.assignment()
        self.consumer.pause(*(tp for tp in held if tp.partition in paused))
        self.consumer.resume(
            *(tp for tp in held if tp.partition not in paused and tp.partition not in waiting)
        )

    def highwater(self, partition: int) -> int | None:
        """A partition's high-water mark as of its last fetch (None: not held or not fetched)."""
        try:
            mark: int | None = self.consumer.highwater(TopicPartition(self.topic, partition))
        except (AssertionError, KeyError):
            return None
        return mark
