"""A consumer in a group of its own that commits nothing and is told where to start: the
archive's (:mod:`streams.archive`).

The group only shares the partitions out. When partitions are assigned, the owner asks its
:class:`PartitionOwner` where each starts and seeks there; when they are revoked, it lets the
owner drop what it holds before the group hands them on (aiokafka awaits the listener before
the rejoin completes, so a partition's next owner starts only after the last one let go).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from streams.settings import Settings

__all__ = ["GroupConsumer", "PartitionOwner", "ReadRecord"]

FETCH_MAX_WAIT_MS = 500


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """One record as read: broker topic, partition, offset, Kafka timestamp (ms), key, value."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


class PartitionOwner(Protocol):
    """What the group consumer tells about the partitions it is given and loses."""

    async def assigned(self, partitions: list[tuple[str, int]]) -> Mapping[tuple[str, int], int]:
        """Take ``partitions`` (broker topic, partition); return the offset each starts at."""

    async def revoked(self, partitions: list[tuple[str, int]]) -> None:
        """Drop ``partitions``: another consumer may own them once this returns."""


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, owner: PartitionOwner) -> None:
        self.consumer = consumer
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.owner.revoked(sorted((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        starts = await self.owner.assigned(sorted((tp.topic, tp.partition) for tp in assigned))
        for (topic, partition), offset in starts.items():
            self.consumer.seek(TopicPartition(topic, partition), offset)


class GroupConsumer:
    """Reads ``topics`` as a member of ``group_id``, from where its owner says, committing
    nothing; an offset before a partition's log start reads from its log start."""

    def __init__(
        self, settings: Settings, group_id: str, topics: list[str], owner: PartitionOwner
    ) -> None:
        self.settings = settings
        self.group_id = group_id
        self.topics = topics
        self.owner = owner
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        """The started consumer."""
        assert self._consumer is not None, "start() first"
        return self._consumer

    async def start(self) -> None:
        """Connect and join the group (aiokafka makes its consumer inside the event loop)."""
        session_ms = int(self.settings.session_timeout_s * 1000)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 3,
        )
        self._consumer.subscribe(topics=self.topics, listener=_Listener(self._consumer, self.owner))
        await self._consumer.start()

    async def stop(self) -> None:
        """Leave the group (its partitions are revoked first) and disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()

    async def read(self, timeout_ms: int, max_records: int) -> list[ReadRecord]:
        """The next records of the partitions held, each partition's in offset order."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [
            ReadRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value)
            for records in batches.values()
            for r in records
        ]

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read ``topic``/``partition`` from ``offset`` next."""
        self.consumer.seek(TopicPartition(topic, partition), offset)
