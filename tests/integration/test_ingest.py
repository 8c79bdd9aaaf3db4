"""The ingest agent on the real broker: valid pings are consumed, bad input is deadlettered."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import orjson
import pytest

from schemas import assert_valid
from tests.helpers.kafka import produce, read_topic, run

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
