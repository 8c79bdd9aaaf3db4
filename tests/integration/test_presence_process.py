"""The worker's presence process: replaced when lost without losing a fix, gone with the worker,
a batch it keeps dying on treated as poison, and no offset committed before its batch is in
Redis."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import topics
from streams.app import create_app
from streams.devtools.stack.embedded import Services, free_port, start_redis
from streams.engines.ping_batch import PingBatch
from streams.engines.presence_process import (
    LOSSES_BEFORE_BLAME,
    PresenceFailedError,
    PresenceProcess,
    PresenceUnavailableError,
)
from streams.engines.runtime import Runtime
from streams.settings import Settings
from tests.helpers.kafka import produce, run
from tests.integration.conftest import start_worker, worker_settings
from tests.integration.test_embedded_stack import alive, descendants, wait_gone

pytestmark = pytest.mark.integration

RADIOS = 5
PINGS_PARTITIONS = topics.BY_NAME[topics.PINGS].partitions


def pings(first: datetime, rounds: int) -> list[tuple[bytes, bytes]]:
    """``rounds`` fixes of each radio, 10 s apart, walking north from a point in the pack."""
    messages = []
    for serial in range(rounds):
        for radio in range(RADIOS):
            issi = str(3_100_000 + radio)
            value = {
                "issi": issi,
                "ts": (first + timedelta(seconds=10 * serial)).isoformat(),
                "lat": 52.48 + 0.0001 * serial,
                "lon": -1.89 + 0.001 * radio,
            }
            messages.append((issi.encode(), orjson.dumps(value)))
    return messages


def wait_for(check, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_presence_process_is_replaced_and_no_fix_is_lost(
    stack: Services, work_dir: Path, unique: str
) -> None:
    worker = start_worker(stack, worker_settings(stack, unique), work_dir)
    try:
        settings = worker.settings
        topic = settings.topic("airwave.pings")
        first = datetime.now(UTC) - timedelta(minutes=5)
        before, after = pings(first, 10), pings(first + timedelta(seconds=100), 10)
        run(produce(settings.kafka_bootstrap, topic, before))
        assert wait_for(lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") == 50)
        (child,) = descendants(worker.process.process.pid)

        os.kill(child, signal.SIGKILL)
        run(produce(settings.kafka_bootstrap, topic, after))

        assert wait_for(lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") == 100)
        assert worker.metric("coverwatch_presence_process_lost_total") >= 1
        (replacement,) = descendants(worker.process.process.pid)
        assert replacement != child
        client = redis.Redis.from_url(settings.redis_url)
        last_fixes = {}
        for key in client.keys(f"{settings.key_prefix}:*:lastfix"):
            last_fixes.update(client.hgetall(key))
        assert len(last_fixes) == RADIOS
        newest = max(orjson.loads(value)["ts"] for value in last_fixes.values())
        assert newest == pytest.approx((first + timedelta(seconds=190)).timestamp())
        assert worker.metric("coverwatch_deadletter_total", topic="airwave.pings") == 0
        assert worker.metric("coverwatch_presence_process_cpu_seconds_total") > 0
    finally:
        worker.stop()


def test_the_presence_process_leaves_with_its_worker(
    stack: Services, work_dir: Path, unique: str
) -> None:
    worker = start_worker(stack, worker_settings(stack, unique), work_dir)
    pid = worker.process.process.pid
    assert wait_for(lambda: len(descendants(pid)) == 1, 30)  # the clock timer starts it
    children = descendants(pid)

    worker.stop()

    assert wait_gone(children, 15) == set()


def test_a_presence_process_dying_on_every_try_is_blamed_on_the_batch(unique: str) -> None:
    settings = Settings(app_id=unique, key_prefix=unique)
    runtime = Runtime.create(settings, create_app(settings))

    class DiesAtOnce(PresenceProcess):
        def command(self, fd: int) -> list[str]:
            return [sys.executable, "-c", "raise SystemExit(3)"]

    presence = DiesAtOnce(runtime)
    batch = PingBatch([0], [0], [b"1"], [b"{}"], [0.0])

    async def attempts() -> list[type[Exception]]:
        raised: list[type[Exception]] = []
        for _ in range(LOSSES_BEFORE_BLAME):
            try:
                await presence.process(batch)
            except (PresenceUnavailableError, PresenceFailedError) as error:
                raised.append(type(error))
        return raised

    raised = run(attempts())

    assert raised == [PresenceUnavailableError] * (LOSSES_BEFORE_BLAME - 1) + [PresenceFailedError]
    assert runtime.metrics.presence_lost._value.get() == LOSSES_BEFORE_BLAME
    mine = descendants(os.getpid())
    assert alive(mine) == mine, "a dead presence process was left unreaped"


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The next offset of each pings partition that the workers' pings readers committed to Faust's
    group (for lag tools)."""

    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id
        )
        await consumer.start()
        try:
            topic = settings.topic("airwave.pings")
            partitions = [TopicPartition(topic, p) for p in range(PINGS_PARTITIONS)]
            return {tp.partition: (await consumer.committed(tp)) or 0 for tp in partitions}
        finally:
            await consumer.stop()

    return run(read())


def test_no_offset_is_committed_past_a_batch_that_is_not_in_redis(
    stack: Services, work_dir: Path, unique: str
) -> None:
    private = work_dir / f"redis-{unique}"
    private.mkdir()
    port = free_port()
    redis_process = start_redis(port, private)
    settings = worker_settings(stack, unique, redis_url=f"redis://127.0.0.1:{port}/0")
    worker = start_worker(stack, settings, work_dir)
    try:
        topic = settings.topic("airwave.pings")
        first = datetime.now(UTC) - timedelta(minutes=5)
        run(produce(settings.kafka_bootstrap, topic, pings(first, 10)))
        assert wait_for(lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") == 50)
        client = redis.Redis.from_url(settings.redis_url)
        applied = {
            p: int(client.get(f"{settings.key_prefix}:{{airwave.pings.{p}}}:wm") or -1)
            for p in range(PINGS_PARTITIONS)
        }
        assert wait_for(
            lambda: committed_offsets(settings) == {p: w + 1 for p, w in applied.items()}
        )

        os.kill(redis_process.process.pid, signal.SIGSTOP)  # every commit to Redis now hangs
        try:
            run(produce(settings.kafka_bootstrap, topic, pings(first + timedelta(seconds=100), 10)))
            time.sleep(5)  # the pings reader commits applied positions every second
            stalled = committed_offsets(settings)
        finally:
            os.kill(redis_process.process.pid, signal.SIGCONT)

        assert stalled == {p: w + 1 for p, w in applied.items()}
        assert wait_for(lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") == 100)
        assert wait_for(lambda: sum(committed_offsets(settings).values()) == 100)
    finally:
        worker.stop()
        redis_process.stop()


def test_a_roster_entry_and_an_assignment_reach_the_presence_process(
    stack: Services, work_dir: Path, unique: str
) -> None:
    worker = start_worker(stack, worker_settings(stack, unique), work_dir)
    try:
        settings = worker.settings
        square = [[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.49], [-1.9, 52.48]]
        area = {
            "type": "Feature",
            "id": "ia-sq",
            "properties": {"name": "Square", "kind": "impact"},
            "geometry": {"type": "Polygon", "coordinates": [square]},
        }
        run(
            produce(
                settings.kafka_bootstrap,
                settings.topic("areas.definitions"),
                [(b"ia-sq", orjson.dumps(area))],
            )
        )
        client = redis.Redis.from_url(settings.redis_url)
        assert wait_for(
            lambda: client.hexists(f"{settings.key_prefix}:{{areas}}:features", "ia-sq")
        )
        first = datetime.now(UTC) - timedelta(minutes=5)

        def fix(seconds: float) -> tuple[bytes, bytes]:
            value = {
                "issi": "3200001",
                "ts": (first + timedelta(seconds=seconds)).isoformat(),
                "lat": 52.485,
                "lon": -1.895,
            }
            return b"3200001", orjson.dumps(value)

        def shown() -> dict[str, object]:
            for key in client.keys(f"{settings.key_prefix}:*:lastfix"):
                value = client.hget(key, "3200001")
                if value is not None:
                    return orjson.loads(value)
            return {}

        pings = settings.topic("airwave.pings")
        run(produce(settings.kafka_bootstrap, pings, [fix(0), fix(10)]))
        assert wait_for(
            lambda: worker.metric("coverwatch_fixes_total", outcome="unknown_radio") == 2
        )
        before = shown()

        roster = {
            "issi": "3200001",
            "officer_id": "5150",
            "callsign": "K9",
            "unit": "Central",
            "role": "response",
            "device": "handheld",
            "on_duty": True,
        }
        run(
            produce(
                settings.kafka_bootstrap,
                settings.topic("resources.roster"),
                [(b"3200001", orjson.dumps(roster))],
            )
        )
        incident = [
            {
                "incident_id": "INC-K9",
                "event": "opened",
                "ts": (first + timedelta(seconds=15)).isoformat(),
                "grade": "immediate",
                "category": "Robbery",
                "lat": 52.485,
                "lon": -1.895,
            },
            {
                "incident_id": "INC-K9",
                "event": "assigned",
                "ts": (first + timedelta(seconds=16)).isoformat(),
                "callsigns": ["K9"],
            },
        ]
        run(
            produce(
                settings.kafka_bootstrap,
                settings.topic("cad.incidents"),
                [(b"INC-K9", orjson.dumps(event)) for event in incident],
            )
        )
        assert wait_for(
            lambda: client.hexists(f"{settings.key_prefix}:{{directory}}:roster", "3200001")
        )
        assert wait_for(
            lambda: any(
                client.hlen(key) for key in client.keys(f"{settings.key_prefix}:*:assigned")
            )
        )
        run(produce(settings.kafka_bootstrap, pings, [fix(20)]))
        assert wait_for(lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") == 3)

        assert (before["role"], before["committed"]) == ("unknown", False)
        after = shown()
        assert (after["role"], after["callsign"], after["committed"]) == ("response", "K9", True)
    finally:
        worker.stop()
