"""The JSONL recording format: one record per line, every kind of value round-trips."""

from __future__ import annotations

import orjson
import pytest

from streams.simulator.geography import load_default_area_pack
from streams.simulator.recording import parse_jsonl_line, record_to_jsonl
from streams.simulator.world import Record, SimulationOptions, generate

PING = (
    b'{"schema":"airwave.pings/1","issi":"2350017","ts":"2026-11-21T18:04:05.250Z",'
    b'"lat":52.4797,"lon":-1.9026}'
)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (Record(12.345, "airwave.pings", "2350017", PING),
         b'{"at":12.345,"topic":"airwave.pings","key":"2350017","value":' + PING + b"}\n"),
        (Record(0.0, "resources.roster", "2350017", None),
         b'{"at":0.0,"topic":"resources.roster","key":"2350017","value":null}\n'),
        (Record(1.5, "cad.incidents", None, b'{"incident_id":"INC'),
         b'{"at":1.5,"topic":"cad.incidents","key":null,"value_text":"{\\"incident_id\\":\\"INC"}\n'),
        (Record(2.0, "airwave.pings", "1", b"[1,2]"),
         b'{"at":2.0,"topic":"airwave.pings","key":"1","value_text":"[1,2]"}\n'),
        (Record(3.0, "airwave.pings", "1", b"\xff\xfe"),
         b'{"at":3.0,"topic":"airwave.pings","key":"1","value_base64":"//4="}\n'),
    ],
)  # fmt: skip
def test_records_become_lines_and_back(record: Record, expected: bytes) -> None:
    line = record_to_jsonl(record)
    assert line == expected
    assert parse_jsonl_line(line) == record


def test_a_simulated_run_round_trips_byte_for_byte() -> None:
    options = SimulationOptions(seed=2, officers=80, duration_seconds=900, malformed_rate=0.05)
    for record in generate(options, load_default_area_pack()):
        line = record_to_jsonl(record)
        assert line.count(b"\n") == 1
        assert isinstance(orjson.loads(line), dict)
        assert parse_jsonl_line(line) == record


def test_hand_written_values_are_reencoded_compactly() -> None:
    line = (
        b'{"at": 1, "topic": "clock.ticks", "key": "replay", '
        b'"value": {"source": "replay", "ts": "2026-11-21T18:00:00Z"}}'
    )
    assert parse_jsonl_line(line) == Record(
        1.0, "clock.ticks", "replay", b'{"source":"replay","ts":"2026-11-21T18:00:00Z"}'
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "not a JSON line"),
        (b"[1]", "must be a JSON object"),
        (b'{"at": -1, "topic": "t", "key": null, "value": null}', "'at' must be"),
        (b'{"at": true, "topic": "t", "key": null, "value": null}', "'at' must be"),
        (b'{"at": 1, "topic": "", "key": null, "value": null}', "'topic' must be"),
        (b'{"at": 1, "topic": "t", "key": 5, "value": null}', "'key' must be"),
        (b'{"at": 1, "topic": "t", "key": null}', "exactly one of"),
        (b'{"at": 1, "topic": "t", "key": null, "value": {}, "value_text": ""}', "exactly one of"),
        (b'{"at": 1, "topic": "t", "key": null, "value_text": 3}', "must be a string"),
        (b'{"at": 1, "topic": "t", "key": null, "value_base64": "***"}', "not valid base64"),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_jsonl_line(line)
