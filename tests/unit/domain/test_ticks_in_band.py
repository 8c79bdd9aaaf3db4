"""A topic that carries in-band heartbeats decodes each record as its own kind or as the
heartbeat it is; anything else keeps its own decoder's reason."""

from __future__ import annotations

import orjson
import pytest

from streams.domain.incidents import IncidentEvent, decode_incident
from streams.domain.ticks import Heartbeat, decode_or_heartbeat
from streams.domain.validation import Rejected, TimeLimits

LIMITS = TimeLimits()
TICK = orjson.dumps({"schema": "clock.ticks/1", "source": "sim", "ts": "2026-11-20T17:00:05Z"})


def test_a_tick_in_a_cad_partition_is_a_heartbeat_with_its_time() -> None:
    read = decode_or_heartbeat(decode_incident, b"sim", TICK, None, LIMITS)
    assert read == Heartbeat(1795194005.0)


def test_an_incident_is_decoded_by_its_own_decoder() -> None:
    raw = orjson.dumps(
        {
            "schema": "cad.incidents/1",
            "incident_id": "INC-1",
            "event": "opened",
            "ts": "2026-11-20T17:00:05Z",
            "grade": "immediate",
            "lat": 51.5,
            "lon": -0.1,
            "category": "burglary",
        }
    )
    try:
        expected: IncidentEvent | None = decode_incident(b"INC-1", raw, None, LIMITS)
    except Rejected as error:  # the fixture must be a valid incident for this test to mean much
        pytest.fail(f"fixture incident refused: {error.rejection}")
    assert decode_or_heartbeat(decode_incident, b"INC-1", raw, None, LIMITS) == expected


def test_a_record_that_is_neither_keeps_the_incident_decoders_reason() -> None:
    with pytest.raises(Rejected) as refused:
        decode_or_heartbeat(decode_incident, b"x", b'{"schema": "cad.incidents/1"}', None, LIMITS)
    with pytest.raises(Rejected) as direct:
        decode_incident(b"x", b'{"schema": "cad.incidents/1"}', None, LIMITS)
    assert refused.value.rejection == direct.value.rejection


def test_a_year_9999_heartbeat_is_refused_as_a_tick() -> None:
    absurd = orjson.dumps(
        {"schema": "clock.ticks/1", "source": "sim", "ts": "9999-12-31T23:59:59Z"}
    )
    with pytest.raises(Rejected) as refused:
        decode_or_heartbeat(decode_incident, b"sim", absurd, None, LIMITS)
    assert refused.value.rejection.reason == "future_timestamp"
