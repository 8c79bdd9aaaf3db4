"""Rows from records: one per valid record, in its table and local day; none that name a radio
or an officer."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from streams.domain.archive import (
    TABLE_OF_TOPIC,
    Row,
    RowContext,
    Skipped,
    Source,
    archive_row,
    columns,
)
from streams.domain.publication import pseudonym
from streams.domain.validation import TimeLimits

EXAMPLES = Path(__file__).parents[4] / "schemas" / "examples"
KEY = b"unit-test-pseudonym-key"
CONTEXT = RowContext(KEY, ZoneInfo("Europe/London"), TimeLimits())
KAFKA_MS = 1_795_271_400_000  # 2026-11-21T11:50:00Z


def source(topic: str, offset: int = 7) -> Source:
    return Source(topic, 1, offset, KAFKA_MS)


def examples(topic: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((EXAMPLES / topic).glob("*.json"))]


def row_of(topic: str, value: dict[str, object] | bytes | None, key: bytes | None = None) -> Row:
    raw = value if isinstance(value, bytes | None) else orjson.dumps(value)
    found = archive_row(source(topic), key, raw, CONTEXT)
    assert isinstance(found, Row), found
    return found


@pytest.mark.parametrize("topic", sorted(TABLE_OF_TOPIC))
def test_every_example_of_an_archived_topic_gives_one_row_with_every_column(topic: str) -> None:
    for raw in examples(topic):
        row = row_of(topic, raw)
        assert row.table == TABLE_OF_TOPIC[topic]
        assert list(row.values) == [name for name, _ in columns(row.table)]
        assert (row.values["source_topic"], row.values["source_partition"]) == (topic, 1)
        assert row.values["source_offset"] == 7


@pytest.mark.parametrize("topic", sorted(TABLE_OF_TOPIC))
def test_no_row_holds_an_issi_collar_number_or_name(topic: str) -> None:
    secrets = {"2350017", "2350044", "2350101", "4471", "5102", "6120"}
    for raw in examples("resources.roster"):
        value = orjson.loads(raw)
        secrets |= {value["issi"], value["officer_id"]}
    for raw in examples(topic):
        text = orjson.dumps(row_of(topic, raw).values).decode()
        assert not [secret for secret in secrets if f'"{secret}"' in text]
        assert "officer_id" not in text
        assert "issi" not in text


def test_a_fix_names_its_radio_by_pseudonym_only() -> None:
    row = row_of(
        "airwave.pings", {"issi": "2350017", "ts": "2026-11-21T18:00:00Z", "lat": 52.5, "lon": -1.9}
    )
    assert row.values["officer"] == pseudonym(KEY, "2350017")
    assert "2350017" not in orjson.dumps(row.values).decode()
    assert (row.values["speed_mps"], row.values["heading_deg"], row.values["accuracy_m"]) == (
        None,
    ) * 3


def test_a_roster_row_keeps_callsign_unit_role_but_no_collar_number() -> None:
    raw = examples("resources.roster")[0]
    row = row_of("resources.roster", raw)
    value = orjson.loads(raw)
    assert row.values["officer"] == pseudonym(KEY, value["issi"])
    assert (row.values["callsign"], row.values["unit"]) == (value["callsign"], value["unit"])
    assert value["officer_id"] not in orjson.dumps(row.values).decode()


def test_the_day_is_the_local_date_of_the_event_time() -> None:
    summer_late = row_of(
        "crimes.recorded",
        {"crime_id": "C1", "ts": "2026-06-21T23:30:00Z", "lat": 52.5, "lon": -1.9, "category": "x"},
    )
    winter_late = row_of(
        "crimes.recorded",
        {"crime_id": "C1", "ts": "2026-12-21T23:30:00Z", "lat": 52.5, "lon": -1.9, "category": "x"},
    )
    assert (summer_late.day, winter_late.day) == ("2026-06-22", "2026-12-21")


def test_timestamps_are_epoch_milliseconds() -> None:
    row = row_of("cad.incidents", examples("cad.incidents")[0])
    assert isinstance(row.values["ts"], int)
    assert row.values["ts"] % 1000 == 0


def test_an_area_without_a_time_is_valid_from_its_kafka_timestamp() -> None:
    row = row_of("areas.definitions", examples("areas.definitions")[0])
    assert row.values["valid_from"] == KAFKA_MS
    assert row.values["deleted"] is False
    assert orjson.loads(row.values["geometry"])["type"] in ("Polygon", "MultiPolygon")  # type: ignore[arg-type]


def test_an_area_tombstone_is_a_deleted_row() -> None:
    row = row_of("areas.definitions", None, key=b"WM-IA-017")
    assert (row.values["area_id"], row.values["deleted"], row.values["geometry"]) == (
        "WM-IA-017",
        True,
        None,
    )


def test_a_ring_keeps_what_it_is_a_ring_of() -> None:
    row = row_of(
        "areas.definitions",
        (EXAMPLES / "areas.definitions" / "ring-around-impact-area.json").read_bytes(),
    )
    assert row.values["ring_of"] == "WM-IA-017"


def test_alert_evidence_is_json_with_sorted_keys() -> None:
    row = row_of("coverage.alerts", examples("coverage.alerts")[0])
    evidence = row.values["evidence"]
    assert isinstance(evidence, str)
    assert list(orjson.loads(evidence)) == sorted(orjson.loads(evidence))


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        ("airwave.pings", b"{not json", "invalid_json"),
        (
            "airwave.pings",
            b'{"issi": "2350017", "ts": "2026-11-21T18:00:00Z", "lat": 0, "lon": 0}',
            "invalid_coordinates",
        ),
        ("presence.visits", b'{"visit_id": "x"}', "invalid_schema"),
        ("coverage.alerts", b"[]", "invalid_schema"),
        ("crimes.recorded", None, "invalid_schema"),
        ("resources.roster", None, "tombstone"),
    ],
)
def test_an_invalid_record_gives_no_row_and_says_why(
    topic: str, raw: bytes | None, reason: str
) -> None:
    found = archive_row(source(topic), b"2350017", raw, CONTEXT)
    assert found == Skipped(TABLE_OF_TOPIC[topic], reason)


@pytest.mark.parametrize("topic", ["airwave.pings", "cad.incidents", "stopsearch.events"])
def test_an_in_band_heartbeat_gives_nothing(topic: str) -> None:
    tick = b'{"schema": "clock.ticks/1", "source": "simulator", "ts": "2026-11-21T18:00:00Z"}'
    assert archive_row(source(topic), b"simulator", tick, CONTEXT) is None


def test_no_clock_is_applied_a_record_of_years_ago_is_archived() -> None:
    row = row_of(
        "crimes.recorded",
        {"crime_id": "C1", "ts": "2001-01-01T00:00:00Z", "lat": 52.5, "lon": -1.9, "category": "x"},
    )
    assert row.day == "2001-01-01"


@pytest.mark.parametrize("table", sorted(TABLE_OF_TOPIC.values()))
def test_docs_archive_md_lists_every_column_of_every_table(table: str) -> None:
    text = (Path(__file__).parents[4] / "docs" / "archive.md").read_text()
    (line,) = [line for line in text.splitlines() if line.startswith(f"| `{table}` [")]
    own = [name for name, _ in columns(table) if not name.startswith("source_")]  # type: ignore[arg-type]
    assert [name for name in own if not re.search(rf"\b{name}\b", line)] == []
