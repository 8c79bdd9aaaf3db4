"""Clock ticks on the real broker and Redis: an absurd tick is deadlettered and the event-clock
worker goes on; a restart over an impossible clock stored in Redis resets it instead of failing;
a tick moves the stored clock to the maximum over whatever is stored."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis

from schemas import assert_valid
from streams.devtools.stack.embedded import Services, free_port, http_ok
from streams.metrics import Metrics
from streams.state import Changes, PartitionCommit, State
from tests.helpers.kafka import produce, read_topic, run
from tests.integration.conftest import RunningWorker, start_worker

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SQUARE = [[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.49], [-1.9, 52.48]]


def tick(ts: str) -> tuple[bytes, bytes]:
    return b"test", orjson.dumps({"schema": "clock.ticks/1", "source": "test", "ts": ts})


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def publish(worker: RunningWorker, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    settings = worker.settings
    run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))


def stored_clock(worker: RunningWorker) -> bytes | None:
    client = redis.Redis.from_url(worker.settings.redis_url)
    try:
        value: bytes | None = client.get(f"{worker.settings.key_prefix}:{{clock}}:watermark")
    finally:
        client.close()
    return value


def healthy(worker: RunningWorker) -> bool:
    return worker.process.alive and http_ok(f"{worker.web_url}/healthz")


def test_an_absurd_tick_is_deadlettered_and_a_restart_over_a_stored_one_recovers(  # type: ignore[no-untyped-def]
    event_worker: RunningWorker, stack: Services, work_dir: Path
) -> None:
    worker = event_worker
    settings = worker.settings
    publish(
        worker,
        "areas.definitions",
        [
            (
                b"ia-01",
                orjson.dumps(
                    {
                        "type": "Feature",
                        "id": "ia-01",
                        "properties": {"name": "Ticks", "kind": "impact"},
                        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
                    }
                ),
            )
        ],
    )
    publish(worker, "clock.ticks", [tick(at(0))])
    assert wait_for(lambda: stored_clock(worker) == repr(START.timestamp()).encode())

    publish(
        worker,
        "clock.ticks",
        [tick("9999-12-31T00:00:00Z"), tick(at(2 * 86400)), tick(at(60))],
    )
    records = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("deadletter"),
            until=lambda values: len(values) >= 2,
        )
    )
    assert sorted((r["source_topic"], r["reason"]) for r in records) == [
        ("clock.ticks", "future_timestamp"),
        ("clock.ticks", "future_timestamp"),
    ]
    for record in records:
        assert_valid("deadletter", record)
    assert "9999-12-31T00:00:00Z" in str(records[0]["detail"])
    assert "after now" in str(records[1]["detail"])
    assert wait_for(lambda: stored_clock(worker) == repr(START.timestamp() + 60).encode())
    assert (
        worker.metric("coverwatch_deadletter_total", topic="clock.ticks", reason="future_timestamp")
        == 2
    )

    ping = {"issi": "2001001", "ts": at(90), "lat": 52.485, "lon": -1.895}
    publish(worker, "airwave.pings", [(b"2001001", orjson.dumps(ping))])
    publish(worker, "clock.ticks", [tick(at(120))])
    assert wait_for(
        lambda: worker.metric("coverwatch_messages_consumed_total", topic="airwave.pings") == 1
    )
    assert wait_for(lambda: stored_clock(worker) == repr(START.timestamp() + 120).encode())
    time.sleep(3.0)  # several coverage evaluations at the new now
    assert healthy(worker)

    # What the worker left before ticks were judged: the year-9999 clock stored in Redis.
    worker.stop()
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.set(f"{settings.key_prefix}:{{clock}}:watermark", "253402214400.0")
    finally:
        client.close()
    restarted = start_worker(stack, replace(settings, web_port=free_port()), work_dir)
    try:
        assert wait_for(lambda: stored_clock(restarted) is None), "the impossible clock is reset"
        publish(restarted, "clock.ticks", [tick(at(180))])
        assert wait_for(lambda: stored_clock(restarted) == repr(START.timestamp() + 180).encode())
        time.sleep(3.0)  # several coverage evaluations at the resumed now
        assert healthy(restarted)
        assert (
            restarted.metric(
                "coverwatch_deadletter_total", topic="clock.ticks", reason="future_timestamp"
            )
            == 0
        ), "replayed ticks are not deadlettered again"
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("stored", "after"),
    [
        (b"not a clock", 1795197600.0),  # the tick's max replaces what is not a number
        (b"1795197000.0", 1795197600.0),
        (b"1795198000.0", 1795198000.0),
    ],
)
async def test_a_tick_moves_the_stored_clock_to_the_maximum_over_anything_stored(  # type: ignore[no-untyped-def]
    stack, unique: str, stored: bytes, after: float
) -> None:
    state = State(stack.redis_url, unique, Metrics([]))
    try:
        await state.redis.set(state.clock_key, stored)
        changes = Changes()
        changes.max(state.clock_key, 1795197600.0)
        await state.commit([PartitionCommit("clock.ticks", 0, 0, changes)])
        assert await state.event_clock() == after
    finally:
        await state.close()
