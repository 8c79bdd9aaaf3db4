"""The ingest agent on the real broker: valid pings are consumed, bad input is deadlettered."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest
import redis

from schemas import assert_valid
from streams.devtools.stack.embedded import free_port
from tests.helpers.kafka import produce, read_topic, run
from tests.integration.conftest import RunningWorker, start_worker, worker_settings

pytestmark = pytest.mark.integration


def ping(issi: str = "2001001", **fields: object) -> bytes:
    value = {"issi": issi, "ts": datetime.now(UTC).isoformat(), "lat": 52.48, "lon": -1.89}
    value.update(fields)
    return orjson.dumps(value)


BAD_PINGS: list[tuple[str, bytes]] = [
    ("invalid_json", b'{"issi": "2001001", "ts": '),
    ("invalid_schema", ping(lat="52.48")),
    ("invalid_coordinates", ping(lat=123.0)),
    ("invalid_schema", orjson.dumps({"issi": "2001001", "lat": 52.48, "lon": -1.89})),
    ("oversized", b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
]


def wait_for(check, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_bad_pings_are_deadlettered_and_the_worker_keeps_consuming(worker) -> None:  # type: ignore[no-untyped-def]
    settings = worker.settings
    messages = [(b"2001001", ping())]
    messages += [(b"2001001", raw) for _, raw in BAD_PINGS]
    messages += [(b"2001001", ping())]
    run(produce(settings.kafka_bootstrap, settings.topic("airwave.pings"), messages))

    assert wait_for(
        lambda: worker.metric("coverwatch_messages_consumed_total", topic="airwave.pings") >= 7
    )
    records = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("deadletter"),
            until=lambda values: len(values) >= len(BAD_PINGS),
        )
    )

    assert sorted(record["reason"] for record in records) == sorted(
        reason for reason, _ in BAD_PINGS
    )
    for record in records:
        assert_valid("deadletter", record)
        assert record["source_topic"] == "airwave.pings"
    oversized = next(record for record in records if record["reason"] == "oversized")
    assert oversized["value_truncated"] is True
    assert oversized["value_size"] == len(BAD_PINGS[-1][1])
    invalid_json = next(record for record in records if record["reason"] == "invalid_json")
    assert base64.b64decode(str(invalid_json["value_base64"])) == BAD_PINGS[0][1]
    assert worker.process.alive
    assert worker.metric("coverwatch_messages_consumed_total", topic="airwave.pings") == 7
    assert (
        worker.metric("coverwatch_deadletter_total", topic="airwave.pings", reason="invalid_schema")
        == 2
    )
    assert (
        worker.metric("coverwatch_deadletter_total", topic="airwave.pings", reason="oversized") == 1
    )


def now_ts(offset_s: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset_s, UTC).isoformat()


def test_bad_input_on_every_topic_is_deadlettered_and_nothing_stored_is_lost(worker) -> None:  # type: ignore[no-untyped-def]
    settings = worker.settings
    roster = {
        "issi": "3003003",
        "officer_id": "7788",
        "callsign": "C31",
        "unit": "Central NPT",
        "role": "neighbourhood",
        "device": "handheld",
        "on_duty": True,
    }
    square = [[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.49], [-1.9, 52.48]]
    bow_tie = [[-1.9, 52.48], [-1.89, 52.49], [-1.89, 52.48], [-1.9, 52.49], [-1.9, 52.48]]

    def area(area_id: str, ring: list[list[float]]) -> bytes:
        return orjson.dumps(
            {
                "type": "Feature",
                "id": area_id,
                "properties": {"name": area_id, "kind": "impact"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )

    bad: dict[str, list[tuple[bytes, bytes | None, str]]] = {
        "resources.roster": [
            (b"3003003", b"{", "invalid_json"),
            (b"3003003", orjson.dumps({**roster, "role": "wizard"}), "invalid_schema"),
        ],
        "areas.definitions": [
            (b"ia-98", area("ia-98", bow_tie), "invalid_geometry"),
            (
                b"ia-97",
                area(
                    "ia-97",
                    [
                        [412000.0, 286000.0],
                        [412100.0, 286000.0],
                        [412100.0, 286100.0],
                        [412000.0, 286000.0],
                    ],
                ),
                "invalid_coordinates",
            ),
        ],
        "cad.incidents": [
            (b"INC-9", b"[1, 2]", "invalid_schema"),
            (
                b"INC-9",
                orjson.dumps({"incident_id": "INC-9", "event": "arrived", "ts": now_ts(-600)}),
                "impossible_event",
            ),
        ],
        "crimes.recorded": [
            (
                b"CR-1",
                orjson.dumps(
                    {
                        "crime_id": "CR-1",
                        "ts": now_ts(),
                        "lat": 123.0,
                        "lon": -1.9,
                        "category": "burglary",
                    }
                ),
                "invalid_coordinates",
            ),
            (
                b"CR-2",
                orjson.dumps(
                    {
                        "crime_id": "CR-2",
                        "ts": now_ts(7200),
                        "lat": 52.48,
                        "lon": -1.9,
                        "category": "burglary",
                    }
                ),
                "future_timestamp",
            ),
        ],
        "stopsearch.events": [
            (
                b"SS-1",
                orjson.dumps({"id": "SS-1", "ts": now_ts(), "lat": 52.48, "lon": -1.9}),
                "invalid_schema",
            ),
            (
                b"SS-2",
                orjson.dumps(
                    {
                        "id": "SS-2",
                        "ts": "2019-01-01T00:00:00Z",
                        "lat": 52.48,
                        "lon": -1.9,
                        "object_of_search": "drugs",
                        "outcome": "arrest",
                    }
                ),
                "stale_timestamp",
            ),
        ],
        "clock.ticks": [(b"sim", b"tick", "invalid_json")],
    }
    run(
        produce(
            settings.kafka_bootstrap,
            settings.topic("resources.roster"),
            [(b"3003003", orjson.dumps(roster))],
        )
    )
    run(
        produce(
            settings.kafka_bootstrap,
            settings.topic("areas.definitions"),
            [(b"ia-96", area("ia-96", square))],
        )
    )
    run(
        produce(
            settings.kafka_bootstrap,
            settings.topic("cad.incidents"),
            [
                (
                    b"INC-9",
                    orjson.dumps(
                        {
                            "incident_id": "INC-9",
                            "event": "opened",
                            "ts": now_ts(),
                            "grade": "immediate",
                            "category": "assault",
                            "lat": 52.485,
                            "lon": -1.895,
                        }
                    ),
                )
            ],
        )
    )
    for topic, messages in bad.items():
        run(
            produce(
                settings.kafka_bootstrap, settings.topic(topic), [(k, v) for k, v, _ in messages]
            )
        )

    expected = sorted(
        (topic, reason) for topic, messages in bad.items() for _, _, reason in messages
    )
    records = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("deadletter"),
            until=lambda values: (
                sum(v["source_topic"] != "airwave.pings" for v in values) >= len(expected)
            ),
        )
    )
    found = sorted(
        (str(r["source_topic"]), str(r["reason"]))
        for r in records
        if r["source_topic"] != "airwave.pings"
    )
    assert found == expected
    for record in records:
        assert_valid("deadletter", record)
    for topic, reason in expected:
        assert worker.metric("coverwatch_deadletter_total", topic=topic, reason=reason) >= 1
    assert worker.process.alive

    client = redis.Redis.from_url(settings.redis_url)
    try:
        stored = client.hget(f"{settings.key_prefix}:{{directory}}:roster", "3003003")
        assert stored is not None
        assert orjson.loads(stored)["role"] == "neighbourhood"
        assert client.hexists(f"{settings.key_prefix}:{{areas}}:features", "ia-96")
        assert not client.hexists(f"{settings.key_prefix}:{{areas}}:features", "ia-98")
        incident = client.hget(
            f"{settings.key_prefix}:{{cad.incidents.1}}:incidents", "INC-9"
        ) or client.hget(f"{settings.key_prefix}:{{cad.incidents.0}}:incidents", "INC-9")
        assert incident is not None
        assert orjson.loads(incident)["opened"] is not None
    finally:
        client.close()


REPLAYED_BAD_INPUT = {
    "resources.roster": (b"3004004", b"{"),
    "airwave.pings": (b"3004004", b'{"issi": "3004004", "ts": '),
    "crimes.recorded": (
        b"CR-3",
        orjson.dumps(
            {"crime_id": "CR-3", "ts": now_ts(), "lat": 123.0, "lon": -1.9, "category": "theft"}
        ),
    ),
}


def test_replayed_input_is_not_judged_or_deadlettered_again(stack, work_dir) -> None:  # type: ignore[no-untyped-def]
    settings = worker_settings(stack, "mreplayedinput")
    entry = {
        "issi": "3004004",
        "officer_id": "7789",
        "callsign": "C32",
        "unit": "Central NPT",
        "role": "neighbourhood",
        "device": "handheld",
        "on_duty": True,
    }

    def deadlettered(worker: RunningWorker) -> dict[str, float]:
        return {
            topic: worker.metric("coverwatch_deadletter_total", topic=topic, reason=reason)
            for topic, reason in (
                ("resources.roster", "invalid_json"),
                ("airwave.pings", "invalid_json"),
                ("crimes.recorded", "invalid_coordinates"),
            )
        }

    def consumed_all(worker: RunningWorker, pings: int = 1) -> bool:
        return all(
            worker.metric("coverwatch_messages_consumed_total", topic=topic) >= count
            for topic, count in (
                ("resources.roster", 2),
                ("airwave.pings", pings),
                ("crimes.recorded", 1),
            )
        )

    first = start_worker(stack, settings, work_dir)
    try:
        run(
            produce(
                settings.kafka_bootstrap,
                settings.topic("resources.roster"),
                [(b"3004004", orjson.dumps(entry))],
            )
        )
        for topic, message in REPLAYED_BAD_INPUT.items():
            run(produce(settings.kafka_bootstrap, settings.topic(topic), [message]))
        assert wait_for(lambda: consumed_all(first))
        assert deadlettered(first) == dict.fromkeys(REPLAYED_BAD_INPUT, 1.0)
    finally:
        first.stop()

    # A new consumer group reads every topic from the start (the pings from after their watermark
    # in Redis, where their positions live): the same keys, the same watermarks.
    again = start_worker(
        stack, replace(settings, app_id=settings.app_id + "-again", web_port=free_port()), work_dir
    )
    try:
        assert wait_for(lambda: consumed_all(again, pings=0))
        assert again.metric("coverwatch_messages_consumed_total", topic="airwave.pings") == 0
        assert deadlettered(again) == dict.fromkeys(REPLAYED_BAD_INPUT, 0.0)
        client = redis.Redis.from_url(settings.redis_url)
        try:
            stored = client.hget(f"{settings.key_prefix}:{{directory}}:roster", "3004004")
        finally:
            client.close()
        assert stored is not None
        assert orjson.loads(stored)["callsign"] == "C32"
    finally:
        again.stop()
