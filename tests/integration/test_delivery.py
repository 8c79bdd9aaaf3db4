"""Output records are delivered before the Redis commit that makes a replay skip their input.

The presence engine runs in-process on a real redis-server; only delivery to the broker is
replaced, by a recorder that fails once the way an unreachable broker does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from streams import topics
from streams.agents.batches import guarded
from streams.app import create_app
from streams.bench import preload
from streams.bench_support import BENCH_EPOCH, area_messages, make_fleet, ping_messages
from streams.embedded import Services
from streams.presence import PresenceEngine
from streams.runtime import Runtime
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack

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


class _BrokerFailsOnce(Runtime):
    """Records what would reach each topic; the first send of visits fails, as when the broker
    cannot be reached (the guard then waits and retries the batch)."""

    sent: list[tuple[str, dict[str, Any]]]
    failures_left: int

    async def emit(self, topic: str, records: Any) -> None:
        if topic == topics.VISITS and records and self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("broker unreachable")
        self.sent.extend((topic, value) for _, value in records)


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
    runtime = _BrokerFailsOnce.create(settings, create_app(settings))
    runtime.sent, runtime.failures_left = [], 1
    engine = PresenceEngine(runtime)
    pings, _ = ping_messages(fleet, RADIOS * FIXES_PER_RADIO, BENCH_EPOCH, RADIOS / 30.0)
    events = [
        _Event(_Message(key, value, serial % 4, serial // 4, time.time()))
        for serial, (key, value) in enumerate(pings)
    ]
    for start in range(0, len(events), 200):
        await guarded(runtime, topics.PINGS, events[start : start + 200], engine.process)

    assert runtime.failures_left == 0, "no batch had visits: the test proves nothing"
    emitted = {
        (value["visit_id"], value["revision"])
        for topic, value in runtime.sent
        if topic == topics.VISITS
    }
    stored = set()
    for partition in range(4):
        slot = runtime.state.pings_slice(partition)
        for key in await runtime.state.redis.keys(f"{slot}:visits:*"):
            for blob in (await runtime.state.redis.hgetall(key)).values():
                visit = orjson.loads(blob)
                stored.add((visit["visit_id"], visit["revision"]))
    assert stored, "no visit was stored"
    assert stored <= emitted
    assert not [value for topic, value in runtime.sent if topic == topics.DEADLETTER]
    await runtime.state.close()
