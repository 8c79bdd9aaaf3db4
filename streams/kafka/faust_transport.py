"""Faust's Kafka transport as the worker uses it (:class:`streams.app.CoverwatchApp`): its
consumer waits ``COVERWATCH_FETCH_MAX_WAIT_MS`` at most for a fetch, and leaves the topics read
elsewhere (``app.elsewhere``) to their own reader while its group still assigns them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

__all__ = ["Transport", "commit_elsewhere"]


class _Configured(Protocol):
    fetch_max_wait_ms: int
    elsewhere: frozenset[str]


def _elsewhere(app: Any, tps: Iterable[TP]) -> list[TopicPartition]:
    elsewhere = cast(_Configured, app).elsewhere
    return [TopicPartition(tp.topic, tp.partition) for tp in tps if tp.topic in elsewhere]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = cast(_Configured, self.app).fetch_max_wait_ms
        return consumer

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # in the consumer's thread, before Faust hears of them: its fetcher never asks for them
        self._ensure_consumer().pause(*_elsewhere(self.app, assigned))
        await super().on_partitions_assigned(assigned, generation_id)

    def verify_event_path(self, now: float, tp: TP) -> None:
        if tp.topic not in cast(_Configured, self.app).elsewhere:
            super().verify_event_path(now, tp)

    async def commit_elsewhere(self, offsets: Mapping[TP, int]) -> bool:
        return cast(bool, await self.call_thread(self._commit_elsewhere, offsets))

    async def _commit_elsewhere(self, offsets: Mapping[TP, int]) -> bool:
        consumer = self._ensure_consumer()
        held = consumer.assignment()
        positions = {
            TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "")
            for tp, offset in offsets.items()
            if TopicPartition(tp.topic, tp.partition) in held
        }
        if not positions:
            return False
        try:
            await consumer.commit(positions)
        except KafkaError:
            return False  # a rebalance in progress: the next commit carries them
        return True


class _Consumer(faust_aiokafka.Consumer):
    _thread: _ConsumerThread

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _set_active_tps(self, tps: set[TP]) -> set[TP]:
        elsewhere = cast(_Configured, self.app).elsewhere
        return super()._set_active_tps({tp for tp in tps if tp.topic not in elsewhere})

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        elsewhere = cast(_Configured, self.app).elsewhere
        super().resume_partitions({tp for tp in tps if tp.topic not in elsewhere})


class Transport(faust_aiokafka.Transport):
    """aiokafka's transport with the consumer above."""

    Consumer = _Consumer


async def commit_elsewhere(consumer: Any, offsets: Mapping[TP, int]) -> bool:
    """Commit ``offsets`` of partitions read elsewhere to the group of Faust's ``consumer`` (those
    not held are left out); False when the broker refuses (a rebalance in progress)."""
    return await cast(_Consumer, consumer)._thread.commit_elsewhere(offsets)
