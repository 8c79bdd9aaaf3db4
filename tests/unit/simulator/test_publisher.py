"""Writing records to a JSONL file, and publishing them through a stand-in Kafka producer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import pytest

from streams.simulator import publisher
from streams.simulator.recording import parse_jsonl_line
from streams.simulator.world import Record

RECORDS = [
    Record(
        0.0, "clock.ticks", "simulator", b'{"source":"simulator","ts":"2026-11-21T17:00:00.000Z"}'
    ),
    Record(0.05, "resources.roster", "2350017", None),
    Record(0.1, "airwave.pings", "2350017", b"garbage"),
]


class FakeProducer:
    """Records what a Kafka producer would have been asked to send, and when."""

    sent: ClassVar[list[tuple[str, bytes | None, bytes | None, float]]] = []

    def __init__(self, bootstrap: str, **config: object) -> None:
        self.bootstrap = bootstrap
        self.config = config

    async def start(self) -> None:
        FakeProducer.sent = []

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes | None, partition: int | None = None
    ) -> asyncio.Future[object]:
        where = topic if partition is None else f"{topic}#{partition}"
        FakeProducer.sent.append((where, key, value, asyncio.get_running_loop().time()))
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def partitions_for(self, topic: str) -> set[int]:
        return {1, 0} if topic.endswith("airwave.pings") else {0}

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def test_write_file_writes_one_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    assert publisher.write_file(iter(RECORDS * 3000), path) == 9000
    lines = path.read_bytes().splitlines()
    assert len(lines) == 9000
    assert [parse_jsonl_line(line) for line in lines[:3]] == RECORDS


def test_read_file_reads_back_what_write_file_wrote(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    publisher.write_file(RECORDS, path)
    assert list(publisher.read_file(path)) == RECORDS


def test_read_file_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"at": 0, "topic": "t", "key": null, "value": null}\n\n{"at": 1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3: 'topic' must be a non-empty string"):
        list(publisher.read_file(path))


def test_publish_copies_each_tick_into_every_pings_cad_and_stop_search_partition_and_paces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publisher, "new_producer", FakeProducer)
    sent = asyncio.run(
        publisher.publish(RECORDS, "localhost:9092", speed=0.5, topic_prefix="test.")
    )
    assert sent == 3
    topics = [(topic, key, value) for topic, key, value, _ in FakeProducer.sent]
    assert topics == [
        ("test.clock.ticks", b"simulator", RECORDS[0].value),
        ("test.airwave.pings#0", b"simulator", RECORDS[0].value),
        ("test.airwave.pings#1", b"simulator", RECORDS[0].value),
        ("test.cad.incidents#0", b"simulator", RECORDS[0].value),
        ("test.stopsearch.events#0", b"simulator", RECORDS[0].value),
        ("test.resources.roster", b"2350017", None),
        ("test.airwave.pings", b"2350017", b"garbage"),
    ]
    elapsed = FakeProducer.sent[-1][3] - FakeProducer.sent[0][3]
    assert 0.19 <= elapsed < 1.0


def test_publish_rejects_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        asyncio.run(publisher.publish(RECORDS, "localhost:9092", speed=0.0))


def test_a_malformed_tick_is_not_copied_into_the_pings_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publisher, "new_producer", FakeProducer)
    malformed = Record(0.0, "clock.ticks", "simulator", b'{"source":"simulator","ts":"soon"}')
    assert asyncio.run(publisher.publish([malformed], "localhost:9092", speed=None)) == 1
    assert [topic for topic, *_ in FakeProducer.sent] == ["clock.ticks"]


def test_a_line_without_at_is_at_the_line_befores(tmp_path: Path) -> None:
    path = tmp_path / "hand-written.jsonl"
    path.write_bytes(
        b'{"topic": "t", "key": null, "value": 1}\n'
        b'{"at": 5, "topic": "t", "key": null, "value": 2}\n'
        b'{"topic": "t", "key": null, "value": 3}\n'
    )
    assert [record.at for record in publisher.read_file(path)] == [0.0, 5.0, 5.0]
