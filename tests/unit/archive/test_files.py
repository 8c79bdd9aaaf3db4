"""The archive's files on a local disk: block writes, supersession, marks, compaction and
retention (the object-storage path is the same code through pyarrow.fs)."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from streams.archive import apply_retention, compact_day
from streams.archive.maintenance import compact
from streams.archive.parquet import schema, to_arrow, to_parquet
from streams.archive.store import ArchiveStore
from streams.archive.writer import start_offsets, write_block
from streams.domain.archive import BlockRows, Row

DAY = "2026-11-21"


def crime(offset: int, day: str = DAY) -> Row:
    values: dict[str, object] = {
        "crime_id": f"C{offset}",
        "ts": 1_795_271_400_000 + offset,
        "category": "Burglary",
        "lon": -1.9,
        "lat": 52.5,
        "incident_id": None,
        "source_topic": "crimes.recorded",
        "source_partition": 0,
        "source_offset": offset,
    }
    return Row("crimes", day, values)


def block_of_crimes(offsets: range, block: int = 0) -> BlockRows:
    rows = BlockRows("crimes.recorded", 0, block, 60)
    for offset in offsets:
        rows.read(offset)
        rows.add(crime(offset))
    return rows


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_block_write_names_its_file_by_the_block_read(tmp_path: Path) -> None:
    write_block(ArchiveStore(tmp_path.as_uri()), block_of_crimes(range(0, 10)), complete=False)
    assert files(tmp_path) == [
        f"table=crimes/day={DAY}/crimes.recorded-0-000000000000-000000000009.parquet"
    ]


def test_a_wider_write_of_the_block_replaces_the_smaller_file(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path.as_uri())
    write_block(store, block_of_crimes(range(0, 10)), complete=False)
    write_block(store, block_of_crimes(range(0, 20)), complete=False)
    assert files(tmp_path) == [
        f"table=crimes/day={DAY}/crimes.recorded-0-000000000000-000000000019.parquet"
    ]


def test_a_complete_block_is_marked_and_a_new_owner_starts_after_it(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path.as_uri())
    write_block(store, block_of_crimes(range(0, 100)), complete=True)
    write_block(store, block_of_crimes(range(100, 200), block=1), complete=True)
    assert start_offsets(store, [("crimes.recorded", 0), ("crimes.recorded", 1)], 100) == {
        ("crimes.recorded", 0): 200,
        ("crimes.recorded", 1): 0,
    }
    assert [p for p in files(tmp_path) if p.startswith("_blocks")] == [
        "_blocks/crimes.recorded-0-000000000100-000000000199"
    ]


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    write_block(ArchiveStore(tmp_path.as_uri()), block_of_crimes(range(0, 5)), complete=True)
    assert not [p for p in files(tmp_path) if ".tmp" in p]


def test_the_same_rows_make_the_same_bytes_whatever_their_order() -> None:
    rows = [crime(o).values for o in range(50)]
    assert to_parquet(to_arrow("crimes", rows)) == to_parquet(to_arrow("crimes", rows[::-1]))


def test_files_have_the_fixed_schema(tmp_path: Path) -> None:
    write_block(ArchiveStore(tmp_path.as_uri()), block_of_crimes(range(0, 3)), complete=False)
    (path,) = tmp_path.rglob("*.parquet")
    assert pq.read_schema(path).remove_metadata() == schema("crimes")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_compaction_merges_a_partitions_files_byte_identical_to_one_write(tmp_path: Path) -> None:
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    for offsets in (range(0, 100), range(100, 200), range(150, 250)):  # overlapping on purpose
        write_block(
            ArchiveStore(cut.as_uri()),
            block_of_crimes(offsets, offsets.start // 100),
            complete=False,
        )
    write_block(ArchiveStore(whole.as_uri()), block_of_crimes(range(0, 250)), complete=False)
    removed = compact_day(cut.as_uri(), date.fromisoformat(DAY))
    assert removed == 3
    assert files(cut) == files(whole)
    (merged,) = cut.rglob("*.parquet")
    (written,) = whole.rglob("*.parquet")
    assert merged.read_bytes() == written.read_bytes()
    assert pq.read_table(merged).num_rows == 250


def pings_fix(offset: int) -> Row:
    """A fix every 7 s of one of three officers, one in five a second late."""
    values: dict[str, object] = {
        "ts": 1_795_271_400_000 + (offset * 7_000) - (offset % 5 == 4) * 1_000,
        "officer": f"o_{offset % 3}",
        "lon": -1.9,
        "lat": 52.5,
        "speed_mps": None,
        "heading_deg": None,
        "accuracy_m": None,
        "source_topic": "airwave.pings",
        "source_partition": 0,
        "source_offset": offset,
    }
    return Row("fixes", DAY, values)


def archive_fixes(root: Path, cuts: list[int], every_s: float = 60) -> Path:
    """Fixes 0..199 of one partition archived in blocks cut at ``cuts``, the day compacted."""
    store = ArchiveStore(root.as_uri())
    bounds = [0, *cuts, 200]
    for block, (first, last) in enumerate(itertools.pairwise(bounds)):
        rows = BlockRows("airwave.pings", 0, block, every_s)
        for offset in range(first, last):
            rows.read(offset)
            rows.add(pings_fix(offset))
        write_block(store, rows, complete=False)
    compact_day(root.as_uri(), date.fromisoformat(DAY))
    (path,) = root.rglob("*.parquet")
    return path


def test_a_compacted_day_keeps_the_same_fixes_wherever_its_blocks_were_cut(
    tmp_path: Path,
) -> None:
    whole = archive_fixes(tmp_path / "whole", [])
    kept = pq.read_table(whole).num_rows
    assert 0 < kept < 200
    for cuts in ([100], [37, 38, 150], [9 * k for k in range(1, 22)]):
        cut = archive_fixes(tmp_path / "-".join(map(str, cuts))[:60], cuts)
        assert cut.read_bytes() == whole.read_bytes(), cuts


def test_a_compacted_day_of_unthinned_fixes_keeps_every_fix(tmp_path: Path) -> None:
    path = archive_fixes(tmp_path, [50, 120], every_s=0)
    assert pq.read_table(path).num_rows == 200


def test_compacting_a_compacted_day_changes_nothing(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path.as_uri())
    write_block(store, block_of_crimes(range(0, 10)), complete=False)
    before = {p: (tmp_path / p).read_bytes() for p in files(tmp_path)}
    assert compact_day(tmp_path.as_uri(), date.fromisoformat(DAY)) == 0
    assert {p: (tmp_path / p).read_bytes() for p in files(tmp_path)} == before


def test_retention_deletes_the_days_before_the_kept_ones(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path.as_uri())
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        rows = BlockRows("crimes.recorded", 0, 0, 60)
        rows.read(1)
        rows.add(crime(1, day))
        write_block(store, rows, complete=False)
    assert apply_retention(tmp_path.as_uri(), 1, date(2026, 11, 21)) == 1
    assert [p.split("/")[1] for p in files(tmp_path)] == ["day=2026-11-20", "day=2026-11-21"]


def test_a_worker_compacts_only_the_partitions_it_holds(tmp_path: Path) -> None:
    store = ArchiveStore(tmp_path.as_uri())
    write_block(store, block_of_crimes(range(0, 10)), complete=True)
    write_block(store, block_of_crimes(range(10, 20), block=1), complete=False)
    day = date.fromisoformat(DAY)
    assert compact(store, [day], {("crimes.recorded", 1)}) == 0
    assert compact(store, [day], {("crimes.recorded", 0)}) == 2
    assert [p for p in files(tmp_path) if p.startswith("table=")] == [
        f"table=crimes/day={DAY}/crimes.recorded-0-000000000000-000000000019.parquet"
    ]
