"""The Parquet archive end to end: a worker with the archive on reads a small mixed input (the
contract examples of every archived topic, fixes of a few radios, malformed records and an
in-band heartbeat) and writes it as contract A says.

- The same input published again, on fresh topics, into a fresh archive (its time flushes cut
  differently), gives byte-identical trees once each day is compacted.
- Two workers of one group write disjoint sets of files, none twice.
- No file holds a raw ISSI, collar number, name, token or the pseudonym key.
- Malformed records are counted and skipped; everything valid is archived.
- An archive process killed mid-run is counted, started again and archives everything.

Records are sent with fixed Kafka timestamps (an area without a time of its own is valid from
its record's timestamp), as a replay of a log keeps them.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaProducer

from streams.archive import compact_day
from streams.devtools.bench.probes import child_kind, child_pids
from streams.devtools.stack.embedded import (
    Services,
    create_topics,
    free_port,
    http_ok,
    python_command,
    spawn,
    wait_until,
)
from streams.settings import Settings
from tests.integration.conftest import RunningWorker, worker_settings

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples"
ARCHIVED = (
    "presence.visits",
    "airwave.pings",
    "cad.incidents",
    "crimes.recorded",
    "stopsearch.events",
    "coverage.alerts",
    "areas.definitions",
    "resources.roster",
)
KEY_FIELD = {
    "airwave.pings": "issi",
    "resources.roster": "issi",
    "cad.incidents": "incident_id",
    "crimes.recorded": "crime_id",
    "stopsearch.events": "id",
    "areas.definitions": "id",
    "presence.visits": "area_id",
    "coverage.alerts": "area_id",
}
KAFKA_TS_MS = 1_795_262_400_000  # 2026-11-21T09:20:00Z
RADIOS = ("2350017", "2350044", "2350101", "2391234", "2399876")
COLLARS = ("PC4471", "PC5102", "PC6120")
VIEWER = "viewer-token-archive-0123456789"
POISON = (
    ("airwave.pings", b"2350017", b"{not json"),
    ("airwave.pings", b"2350017", b'{"issi": "2350017", "ts": "yesterday", "lat": 52, "lon": -1}'),
    ("cad.incidents", b"INC-1", b'{"incident_id": "INC-1", "event": "exploded"}'),
    ("presence.visits", b"X", b'{"schema": "presence.visits/1"}'),
    ("resources.roster", b"2350017", b"\xff\xfe"),
)
VALID_FIXES = len(RADIOS) * 30


Message = tuple[str, bytes | None, bytes | None]


def example_messages() -> list[Message]:
    """Every example of every archived topic, keyed as its topic is; collar numbers made
    unmistakable (``PC`` + the number)."""
    messages: list[Message] = []
    for topic in ARCHIVED:
        for path in sorted((EXAMPLES / topic).glob("*.json")):
            value = orjson.loads(path.read_bytes())
            if topic == "resources.roster":
                value["officer_id"] = f"PC{value['officer_id']}"
            messages.append((topic, str(value[KEY_FIELD[topic]]).encode(), orjson.dumps(value)))
    return messages


def fixes() -> list[Message]:
    """30 fixes a minute apart for each radio, in the example afternoon."""
    found: list[Message] = []
    for minute in range(30):
        for index, issi in enumerate(RADIOS):
            value = {
                "issi": issi,
                "ts": f"2026-11-21T17:{minute:02d}:05.250Z",
                "lat": 52.47 + index * 0.001 + minute * 0.0001,
                "lon": -1.89,
                "speed_mps": 1.5,
            }
            found.append(("airwave.pings", issi.encode(), orjson.dumps(value)))
    return found


def the_input() -> list[Message]:
    heartbeat = (
        "airwave.pings",
        b"simulator",
        b'{"schema": "clock.ticks/1", "source": "simulator", "ts": "2026-11-21T17:30:00Z"}',
    )
    messages = example_messages() + fixes()
    return messages[:20] + list(POISON) + messages[20:] + [heartbeat]


def expected_rows() -> int:
    return len(example_messages()) + VALID_FIXES


async def _send(bootstrap: str, prefix: str, messages: list[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent = [
            await producer.send(f"{prefix}{topic}", key=key, value=value, timestamp_ms=KAFKA_TS_MS)
            for topic, key, value in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def archive_settings(stack: Services, name: str, archive: Path, **overrides: object) -> Settings:
    defaults: dict[str, object] = {
        "archive_url": archive.as_uri(),
        "archive_flush_s": 1.0,
        "archive_block_records": 40,
        "archive_fix_every_s": 0.0,
        "viewer_tokens": f"wallboard={VIEWER}",
    }
    return worker_settings(stack, name, **{**defaults, **overrides})


def start(stack: Services, settings: Settings, log_dir: Path, name: str) -> RunningWorker:
    env = {**os.environ, **settings.to_env()}
    process = spawn(name, python_command("worker"), log_dir, env)
    url = f"http://127.0.0.1:{settings.web_port}/healthz"
    wait_until("worker /healthz", lambda: http_ok(url), process, 60)
    return RunningWorker(settings, process)


def archived_rows(root: Path) -> set[tuple[str, str, int, int]]:
    """(table, source topic, partition, offset) of every row in the archive."""
    found = set()
    for path in root.glob("table=*/day=*/*.parquet"):
        table = path.parts[-3].removeprefix("table=")
        data = pq.read_table(path, columns=["source_topic", "source_partition", "source_offset"])
        for row in data.to_pylist():
            found.add((table, row["source_topic"], row["source_partition"], row["source_offset"]))
    return found


def wait_archived(worker: RunningWorker, root: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(archived_rows(root)) < expected_rows():
        assert time.monotonic() < deadline, (len(archived_rows(root)), worker.process.log_tail())
        time.sleep(0.5)


def written_files(worker: RunningWorker) -> list[str]:
    text = worker.process.log_path.read_text(errors="replace")
    return [name for line in re.findall(r"archive: wrote (.*)", text) for name in line.split()]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def days(root: Path) -> set[date]:
    return {date.fromisoformat(p.name.removeprefix("day=")) for p in root.glob("table=*/day=*")}


@dataclass
class Run:
    worker: RunningWorker
    archive: Path


def archive_once(stack: Services, work_dir: Path, name: str, **overrides: object) -> Run:
    archive = work_dir / f"{name}-archive"
    settings = archive_settings(stack, name, archive, **overrides)
    asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
    worker = start(stack, settings, work_dir, f"worker-{name}")
    asyncio.run(_send(settings.kafka_bootstrap, settings.topic_prefix, the_input()))
    wait_archived(worker, archive)
    return Run(worker, archive)


@pytest.fixture(scope="module")
def first(stack: Services, work_dir: Path) -> Iterator[Run]:
    run = archive_once(stack, work_dir, "marchive1")
    yield run
    run.worker.stop()


def test_every_valid_record_is_archived_once_per_table(first: Run) -> None:
    rows = archived_rows(first.archive)
    assert len(rows) == expected_rows()
    by_table = {table for table, *_ in rows}
    assert by_table == {
        "visits", "fixes", "incident_events", "crimes", "stop_searches", "alerts", "areas",
        "roster",
    }  # fmt: skip
    example_fixes = len(list((EXAMPLES / "airwave.pings").glob("*.json")))
    assert sum(table == "fixes" for table, *_ in rows) == VALID_FIXES + example_fixes


def test_a_replay_into_a_fresh_archive_is_byte_identical_after_compaction(
    first: Run, stack: Services, work_dir: Path
) -> None:
    second = archive_once(stack, work_dir, "marchive2", archive_flush_s=0.3)
    try:
        time.sleep(2.0)  # every time flush of the last rows done in both
        for run in (first, second):
            for day in days(run.archive):
                compact_day(run.archive.as_uri(), day)
        assert tree(first.archive) == tree(second.archive)
    finally:
        second.worker.stop()


def test_no_archive_file_holds_a_radio_an_officer_or_a_secret(first: Run) -> None:
    secrets = [*RADIOS, *COLLARS, VIEWER, first.worker.settings.pseudonym_key]
    for path in first.archive.rglob("*"):
        if not path.is_file():
            continue
        texts = [path.read_bytes().decode("latin-1"), str(path.relative_to(first.archive))]
        if path.suffix == ".parquet":
            texts.append(orjson.dumps(pq.read_table(path).to_pylist(), default=str).decode())
        leaks = [
            s for s in secrets for text in texts if re.search(rf"(?<![0-9.]){s}(?![0-9])", text)
        ]
        assert leaks == [], path


def test_malformed_records_are_counted_and_do_not_stop_the_archive(first: Run) -> None:
    worker = first.worker
    assert (
        worker.metric("coverwatch_archive_skipped_total", table="fixes", reason="invalid_json") == 1
    )
    assert (
        worker.metric("coverwatch_archive_skipped_total", table="fixes", reason="invalid_schema")
        == 1
    )
    assert (
        worker.metric("coverwatch_archive_skipped_total", table="visits", reason="invalid_schema")
        == 1
    )
    assert (
        worker.metric("coverwatch_archive_skipped_total", table="roster", reason="invalid_json")
        == 1
    )
    assert worker.process.alive


def test_two_workers_of_one_group_write_no_file_twice(stack: Services, work_dir: Path) -> None:
    name = "marchivepair"
    archive = work_dir / f"{name}-archive"
    settings = archive_settings(stack, name, archive)
    asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
    workers = [
        start(stack, settings, work_dir, f"worker-{name}-a"),
        start(stack, replace(settings, web_port=free_port()), work_dir, f"worker-{name}-b"),
    ]
    try:
        wait_until(
            "both workers hold archive partitions",
            lambda: all(
                re.search(r"archive: reading \[\(", w.process.log_path.read_text(errors="replace"))
                for w in workers
            ),
            workers[1].process,
            60,
        )
        asyncio.run(_send(settings.kafka_bootstrap, settings.topic_prefix, the_input()))
        wait_archived(workers[0], archive)
        time.sleep(2.0)
        writes = [written_files(worker) for worker in workers]
        assert all(writes), "each worker wrote some of the archive"
        everything = writes[0] + writes[1]
        assert len(everything) == len(set(everything)), "a file name was written twice"
    finally:
        for worker in workers:
            worker.stop()


def archive_process(worker: RunningWorker) -> int:
    """The pid of the worker's archive process (the worker is the managed process's child)."""
    found = [
        pid
        for parent in [worker.process.process.pid, *child_pids(worker.process.process.pid)]
        for pid in child_pids(parent)
        if child_kind(pid) == "archive"
    ]
    assert len(found) == 1, found
    return found[0]


def test_a_killed_archive_process_is_started_again_and_archives_everything(
    stack: Services, work_dir: Path
) -> None:
    name = "marchivekill"
    archive = work_dir / f"{name}-archive"
    settings = archive_settings(stack, name, archive)
    asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
    worker = start(stack, settings, work_dir, f"worker-{name}")
    try:
        messages = the_input()
        half = len(messages) // 2
        asyncio.run(_send(settings.kafka_bootstrap, settings.topic_prefix, messages[:half]))
        wait_until(
            "the archive wrote a file",
            lambda: bool(written_files(worker)),
            worker.process,
            60,
        )
        killed = archive_process(worker)
        os.kill(killed, signal.SIGKILL)
        wait_until(
            "the archive process is started again",
            lambda: worker.metric("coverwatch_archive_process_lost_total") == 1,
            worker.process,
            30,
        )
        asyncio.run(_send(settings.kafka_bootstrap, settings.topic_prefix, messages[half:]))
        wait_archived(worker, archive)
        assert archive_process(worker) != killed
        assert len(archived_rows(archive)) == expected_rows()
        assert worker.process.alive
    finally:
        worker.stop()
