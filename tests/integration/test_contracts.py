"""The contracts hold for what the service really publishes: a simulated hour through the real
broker, Redis and worker, and every message on every output topic validated against its
topic's schema."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest

import schemas
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record, SimulationOptions, generate
from tests.helpers.kafka import read_messages, run
from tests.integration.conftest import RunningWorker

pytestmark = pytest.mark.integration

REFERENCE_TOPICS = ("areas.definitions", "resources.roster")
STRICT_POLICY = {
    "bands": [{"start": "00:00", "end": "00:00", "max_gap_minutes": 15}],
    "default_max_gap_minutes": 15,
    "alert": True,
}
"""A qualifying visit every 15 minutes in every area, so that an hour raises, escalates and
clears alerts."""


def with_strict_policy(record: Record) -> Record:
    """An area definition with :data:`STRICT_POLICY`; any other record as it is."""
    if record.topic != "areas.definitions" or record.value is None:
        return record
    feature = orjson.loads(record.value)
    feature["properties"]["policy"] = STRICT_POLICY
    return replace(record, value=orjson.dumps(feature))


@pytest.fixture(scope="module")
def hour() -> list[Record]:
    """An evening hour of 40 officers with malformed pings among the fixes (for the dead-letter
    topic) and every area on a strict policy (for alerts)."""
    options = SimulationOptions(
        seed=5,
        officers=40,
        start=datetime(2026, 11, 20, 18, 0, tzinfo=UTC),
        duration_seconds=3600.0,
        malformed_rate=0.01,
        incident_rate_per_hour=12.0,
    )
    return [with_strict_policy(record) for record in generate(options, load_default_area_pack())]


def wait_for(worker: RunningWorker, topic: str, count: float, timeout_s: float) -> None:
    """Wait until the worker has consumed ``count`` messages of ``topic``."""
    deadline = time.monotonic() + timeout_s
    while worker.metric("coverwatch_messages_consumed_total", topic=topic) < count:
        assert worker.process.alive, worker.process.log_tail()
        assert time.monotonic() < deadline, f"the worker did not consume {topic} in time"
        time.sleep(0.5)


def wait_settled(worker: RunningWorker, topic: str, at_least: float, timeout_s: float) -> None:
    """Wait until the worker has consumed ``at_least`` messages of ``topic`` and no more have
    come for 5 s (malformed heartbeats are not copied to every partition, so the exact count is
    not known in advance)."""
    deadline = time.monotonic() + timeout_s
    consumed, since = -1.0, time.monotonic()
    while consumed < at_least or time.monotonic() - since < 5.0:
        assert worker.process.alive, worker.process.log_tail()
        assert time.monotonic() < deadline, f"{topic}: {consumed} consumed of {at_least}"
        now_consumed = worker.metric("coverwatch_messages_consumed_total", topic=topic)
        if now_consumed != consumed:
            consumed, since = now_consumed, time.monotonic()
        time.sleep(0.5)


@pytest.fixture(scope="module")
def published(
    event_worker: RunningWorker, hour: list[Record]
) -> dict[str, list[tuple[bytes | None, bytes | None]]]:
    """The hour published (areas and roster first) and consumed; every output message's key
    and value by topic."""
    settings = event_worker.settings
    reference = [record for record in hour if record.topic in REFERENCE_TOPICS]
    live = [record for record in hour if record.topic not in REFERENCE_TOPICS]
    prefix = settings.topic_prefix
    run(publish(reference, settings.kafka_bootstrap, speed=None, topic_prefix=prefix))
    areas = sum(1 for record in reference if record.topic == "areas.definitions")
    wait_for(event_worker, "areas.definitions", areas, 60.0)
    run(publish(live, settings.kafka_bootstrap, speed=None, topic_prefix=prefix))
    pings = sum(1 for record in live if record.topic == "airwave.pings")
    wait_settled(event_worker, "airwave.pings", pings, 150.0)
    time.sleep(5.0)  # the evaluator judges the last instants the feed has passed
    return {
        topic: run(read_messages(settings.kafka_bootstrap, settings.topic(topic), quiet_s=3.0))
        for topic in schemas.OUTPUT_TOPICS
    }


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_output_topic_got_messages(published, topic: str) -> None:  # type: ignore[no-untyped-def]
    print(f"{topic}: {len(published[topic])} messages")

    assert published[topic], f"nothing was published on {topic} in the hour"


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_message_validates_against_its_topics_schema(published, topic: str) -> None:  # type: ignore[no-untyped-def]
    invalid: dict[str, list[str]] = {}
    for _, value in published[topic]:
        assert value is not None, f"a tombstone on {topic}"
        errors = schemas.validation_errors(topic, orjson.loads(value))
        for error in errors:
            invalid.setdefault(error, []).append(value.decode()[:200])

    assert invalid == {}


@pytest.mark.parametrize("topic", ["presence.visits", "area.snapshots", "coverage.alerts"])
def test_area_topics_are_keyed_by_the_area(published, topic: str) -> None:  # type: ignore[no-untyped-def]
    misplaced = [
        (key, value)
        for key, value in published[topic]
        if value is None or key != str(orjson.loads(value)["area_id"]).encode()
    ]

    assert misplaced == []


def test_the_hour_raised_and_cleared_alerts(published) -> None:  # type: ignore[no-untyped-def]
    events = {orjson.loads(value)["event"] for _, value in published["coverage.alerts"] if value}

    assert {"raised", "cleared"} <= events
