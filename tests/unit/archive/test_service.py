"""The archive service's handling of its partitions: blocks written when they end or wait too
long, nothing written for a revoked partition, records read twice taken once (the group and
the files are real; no broker: records are handed to it as its consumer would)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from streams.archive.service import ArchiveService
from streams.kafka.group_consumer import ReadRecord
from streams.metrics import Metrics
from streams.settings import Settings

PINGS = ("airwave.pings", 0)


def service(root: Path, metrics: Metrics | None = None) -> ArchiveService:
    settings = Settings(
        archive_url=root.as_uri(),
        archive_block_records=10,
        archive_fix_every_s=0.0,
        pseudonym_key="unit-test-pseudonym-key",
    )
    return ArchiveService(settings, metrics or Metrics(["airwave.pings"]))


def ping(offset: int) -> ReadRecord:
    value = {"issi": "2350017", "ts": f"2026-11-21T18:00:{offset:02d}Z", "lat": 52.5, "lon": -1.9}
    return ReadRecord(
        "airwave.pings", 0, offset, 1_795_284_000_000, b"2350017", orjson.dumps(value)
    )


def data_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.parquet"))


def offsets(root: Path) -> list[int]:
    return sorted(
        o for p in root.rglob("*.parquet") for o in pq.read_table(p)["source_offset"].to_pylist()
    )


async def test_a_block_is_written_and_marked_when_the_next_one_begins(tmp_path: Path) -> None:
    archive = service(tmp_path)
    assert await archive.assigned([PINGS]) == {PINGS: 0}
    await archive.take([ping(o) for o in range(11)])
    assert data_files(tmp_path) == ["airwave.pings-0-000000000000-000000000009.parquet"]
    assert [p.name for p in (tmp_path / "_blocks").iterdir()] == [
        "airwave.pings-0-000000000000-000000000009"
    ]
    assert await service(tmp_path).assigned([PINGS]) == {PINGS: 10}


async def test_rows_waiting_past_the_flush_interval_are_written(tmp_path: Path) -> None:
    archive = service(tmp_path)
    await archive.assigned([PINGS])
    await archive.take([ping(o) for o in range(3)])
    await archive.write_due(now=10**9)
    assert data_files(tmp_path) == ["airwave.pings-0-000000000000-000000000002.parquet"]


async def test_a_revoked_partition_writes_nothing_and_is_read_again(tmp_path: Path) -> None:
    archive = service(tmp_path)
    await archive.assigned([PINGS])
    await archive.take([ping(o) for o in range(5)])
    await archive.revoked([PINGS])
    await archive.write_due(now=10**9)
    assert data_files(tmp_path) == []
    assert await archive.assigned([PINGS]) == {PINGS: 0}


async def test_a_record_read_twice_gives_one_row(tmp_path: Path) -> None:
    archive = service(tmp_path)
    await archive.assigned([PINGS])
    await archive.take([ping(o) for o in range(5)])
    await archive.take([ping(o) for o in range(3, 8)])
    await archive.write_due(now=10**9)
    assert offsets(tmp_path) == list(range(8))


async def test_a_malformed_record_is_counted_and_the_rest_archived(tmp_path: Path) -> None:
    metrics = Metrics(["airwave.pings"])
    archive = service(tmp_path, metrics)
    await archive.assigned([PINGS])
    broken = ReadRecord("airwave.pings", 0, 1, 0, b"2350017", b"{not json")
    await archive.take([ping(0), broken, ping(2)])
    await archive.write_due(now=10**9)
    assert offsets(tmp_path) == [0, 2]
    labels = {"table": "fixes", "reason": "invalid_json"}
    assert metrics.registry.get_sample_value("coverwatch_archive_skipped_total", labels) == 1


async def test_maintenance_compacts_closed_days_of_the_partitions_held_and_drops_old_ones(
    tmp_path: Path,
) -> None:
    archive = service(tmp_path)
    await archive.assigned([PINGS])
    await archive.take([ping(o) for o in range(13)])  # block 0 written whole, then 10-12
    await archive.write_due(now=10**9)
    old_day = tmp_path / "table=fixes" / "day=2025-01-01"
    old_day.mkdir()
    (old_day / "airwave.pings-0-000000000000-000000000001.parquet").write_bytes(b"")
    archive.maintain({("airwave.pings", 1)}, date(2026, 11, 22))
    assert len(data_files(tmp_path)) == 2  # partition 0 is not held: only the retention ran
    assert not old_day.exists()
    archive.maintain({("airwave.pings", 0)}, date(2026, 11, 22))
    assert data_files(tmp_path) == ["airwave.pings-0-000000000000-000000000012.parquet"]


async def test_a_new_owner_that_reads_a_block_as_far_as_its_last_write_writes_no_file_again(
    tmp_path: Path,
) -> None:
    counted = [Metrics(["airwave.pings"]), Metrics(["airwave.pings"])]
    for metrics in counted:  # the second owner after a rebalance, the input having stopped
        owner = service(tmp_path, metrics)
        await owner.assigned([PINGS])
        await owner.take([ping(o) for o in range(5)])
        await owner.write_due(now=10**9)
    written = [m.registry.get_sample_value("coverwatch_archive_files_total") for m in counted]
    assert written == [1, 0]
    assert data_files(tmp_path) == ["airwave.pings-0-000000000000-000000000004.parquet"]
