"""Output records are delivered before the Redis commit that makes a replay skip their input.

The presence engine runs in-process on a real redis-server; only delivery to the broker is
replaced, by a recorder that fails once the way an unreachable broker does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from streams import topics
from streams.clock import EventClock
from streams.devtools.bench.loading import preload
from streams.devtools.bench.support import BENCH_EPOCH, area_messages, make_fleet, ping_messages
from streams.devtools.stack.embedded import Services
from streams.engines.batches import guarded
from streams.engines.presence import PresenceEngine
from streams.engines.stage import StageServices, limits_for
from streams.metrics import Metrics
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack
from streams.state import State
from tests.helpers.pings import ping_batch

pytestmark = pytest.mark.integration

RADIOS = 40
FIXES_PER_RADIO = 40


@dataclass(frozen=True)
class _Message:
    key: bytes
    value: bytes
    partition: int
    offset: int
    timestamp: float


@dataclass(frozen=True)
class _Event:
    message: _Message


class _BrokerFailsOnce:
    """Records what would reach each topic; the first send of a visit fails, as when the broker
    cannot be reached (the guard then waits and retries the batch)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failures_left = 1

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
        if topic == topics.VISITS and self.failures_left:
            self.failures_left -= 1
            raise KafkaConnectionError("broker unreachable")
        self.sent.append((topic, orjson.loads(value)))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


async def test_visits_survive_a_failed_delivery_and_reach_the_topic_once_committed(
    stack: Services, unique: str
) -> None:
    settings = Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        app_id=unique,
        key_prefix=unique,
        clock="event",
        pseudonym_key="integration-test-key-0123456789",
    )
    pack = load_default_area_pack()
    fleet = make_fleet(RADIOS, pack)
    await preload(settings, fleet.roster_messages(), area_messages(pack))
    broker = _BrokerFailsOnce()
    metrics = Metrics([topics.PINGS])
    stage = StageServices(
        settings=settings,
        metrics=metrics,
        state=State(settings.redis_url, settings.key_prefix, metrics),
        clock=EventClock(),
        limits=limits_for(settings),
        send=broker.send,
    )
    engine = PresenceEngine(stage)

    async def handle(batch: Any) -> None:
        await engine.process(ping_batch(batch))

    pings, _ = ping_messages(fleet, RADIOS * FIXES_PER_RADIO, BENCH_EPOCH, RADIOS / 30.0)
    events = [
        _Event(_Message(key, value, serial % 4, serial // 4, time.time()))
        for serial, (key, value) in enumerate(pings)
    ]
    for start in range(0, len(events), 200):
        await guarded(stage, topics.PINGS, events[start : start + 200], handle)

    assert broker.failures_left == 0, "no batch had visits: the test proves nothing"
    emitted = {
        (value["visit_id"], value["revision"])
        for topic, value in broker.sent
        if topic == topics.VISITS
    }
    stored = set()
    state = stage.state
    for partition in range(4):
        slot = state.pings_slice(partition)
        for key in await state.redis.keys(f"{slot}:visits:*"):
            for blob in (await state.redis.hgetall(key)).values():
                visit = orjson.loads(blob)
                stored.add((visit["visit_id"], visit["revision"]))
    assert stored, "no visit was stored"
    assert stored <= emitted
    assert metrics.batch_retries.labels(topics.PINGS)._value.get() == 1
    assert not [value for topic, value in broker.sent if topic == topics.DEADLETTER]
    await state.close()
