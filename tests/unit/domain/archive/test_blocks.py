"""Blocks, file names, supersession, where a new owner starts, and the thinning of fixes."""

from __future__ import annotations

from streams.domain.archive import (
    BlockRows,
    OffsetRange,
    Row,
    block_of,
    block_start,
    file_name,
    first_fix_of_each_bucket,
    fix_bucket,
    older_marks,
    parse_file_name,
    resume_offset,
    superseded,
)


def span(first: int, last: int, topic: str = "airwave.pings", partition: int = 2) -> OffsetRange:
    return OffsetRange(topic, partition, first, last)


def test_a_file_is_named_by_topic_partition_and_zero_padded_offsets() -> None:
    assert file_name(span(0, 19999)) == "airwave.pings-2-000000000000-000000019999.parquet"


def test_a_name_reads_back_as_its_range() -> None:
    written = span(40000, 45123, topic="presence.visits", partition=1)
    assert parse_file_name(file_name(written)) == written


def test_temporary_and_foreign_names_are_not_archive_files() -> None:
    name = file_name(span(0, 9))
    assert parse_file_name(f".{name}.0123abcd.tmp") is None
    assert parse_file_name("notes.parquet") is None
    assert parse_file_name("airwave.pings-2-0-9.parquet") is None


def test_a_wider_write_of_a_block_supersedes_the_smaller_files_of_its_partition() -> None:
    existing = [
        span(0, 499),
        span(0, 999),
        span(0, 1499),
        span(0, 999, partition=3),
        span(0, 999, topic="cad.incidents"),
        span(20000, 20500),
    ]
    assert superseded(span(0, 999), existing) == [span(0, 499)]


def test_a_narrower_or_overlapping_write_supersedes_nothing_wider() -> None:
    assert superseded(span(0, 500), [span(0, 999)]) == []
    assert superseded(span(100, 999), [span(0, 500)]) == []


def test_blocks_are_fixed_ranges_of_offsets() -> None:
    assert [block_of(o, 1000) for o in (0, 999, 1000, 2500)] == [0, 0, 1, 2]
    assert block_start(3, 1000) == 3000


def test_a_new_owner_starts_after_the_last_marked_block_of_its_partition() -> None:
    marks = [span(0, 999), span(1000, 1999), span(0, 999, partition=3)]
    assert resume_offset(marks, "airwave.pings", 2, 1000) == 2000
    assert resume_offset(marks, "airwave.pings", 3, 1000) == 1000


def test_a_partition_without_marks_starts_at_the_beginning() -> None:
    assert resume_offset([span(0, 999, partition=3)], "airwave.pings", 2, 1000) == 0


def test_a_block_that_began_after_its_start_still_resumes_at_the_next_block() -> None:
    assert resume_offset([span(1234, 1990)], "airwave.pings", 2, 1000) == 2000


def test_only_the_last_mark_of_a_partition_is_kept() -> None:
    marks = [span(0, 999), span(1000, 1999), span(0, 999, partition=3)]
    assert older_marks(span(2000, 2999), marks) == [span(0, 999), span(1000, 1999)]


def fix(officer: str, ts_ms: int, offset: int) -> Row:
    values: dict[str, object] = {"ts": ts_ms, "officer": officer, "source_offset": offset}
    return Row("fixes", "2026-11-21", values)


def read_block(rows: list[Row], every_s: float) -> BlockRows:
    block = BlockRows("airwave.pings", 0, 0, every_s)
    for row in rows:
        block.read(row.values["source_offset"])  # type: ignore[arg-type]
        block.add(row)
    return block


def kept_offsets(block: BlockRows) -> list[object]:
    return [values["source_offset"] for values in block.rows.get(("fixes", "2026-11-21"), [])]


def test_fixes_are_thinned_to_the_first_per_radio_per_bucket() -> None:
    rows = [
        fix("o_a", 0, 0),
        fix("o_a", 30_000, 1),
        fix("o_b", 30_000, 2),
        fix("o_a", 59_999, 3),
        fix("o_a", 60_000, 4),
        fix("o_a", 10_000, 5),  # late, in a bucket already kept
    ]
    block = read_block(rows, 60)
    assert kept_offsets(block) == [0, 2, 4]
    assert block.thinned == 3


def test_thinning_zero_keeps_every_fix() -> None:
    assert kept_offsets(read_block([fix("o_a", 0, 0), fix("o_a", 1, 1)], 0)) == [0, 1]


def test_buckets_are_floors_of_event_time() -> None:
    assert [fix_bucket(ms, 60) for ms in (-1, 0, 59_999, 60_000)] == [-1, 0, 0, 1]


def test_rereading_a_block_keeps_the_same_fixes() -> None:
    rows = [fix(f"o_{i % 3}", i * 7_000, i) for i in range(100)]
    assert kept_offsets(read_block(rows, 60)) == kept_offsets(read_block(rows, 60))


def test_the_fixes_kept_over_a_whole_day_are_those_one_block_of_it_keeps() -> None:
    rows = [fix(f"o_{i % 3}", (i * 7_000) ^ (i % 5) * 1_000, i) for i in range(100)]
    kept = first_fix_of_each_bucket(
        [row.values["officer"] for row in rows],
        [row.values["ts"] for row in rows],  # type: ignore[misc]
        60,
    )
    assert [i for i, keep in enumerate(kept) if keep] == kept_offsets(read_block(rows, 60))
    assert first_fix_of_each_bucket(["o_a", "o_a"], [0, 1], 0) == [True, True]


def test_a_block_covers_the_offsets_it_read_rows_or_not() -> None:
    block = BlockRows("airwave.pings", 0, 0, 60)
    assert block.covered() is None
    for offset in (5, 6, 9):
        block.read(offset)
    assert block.covered() == OffsetRange("airwave.pings", 0, 5, 9)
