"""Writing one partition's block (the rules are :mod:`streams.domain.archive.blocks`): a file
per (table, day) named by the block read so far, then the files it supersedes removed, then,
for a block read to its end, its mark. Synchronous: the service runs it in a thread."""

from __future__ import annotations

from collections.abc import Iterable

from streams.archive.parquet import to_arrow, to_parquet
from streams.archive.store import ArchiveStore
from streams.domain.archive import (
    BLOCKS_DIR,
    BlockRows,
    OffsetRange,
    file_name,
    older_marks,
    parse_file_name,
    parse_stem,
    resume_offset,
    superseded,
    table_day_dir,
)


def write_block(store: ArchiveStore, block: BlockRows, *, complete: bool) -> list[str]:
    """Write ``block``'s files (and its mark when ``complete``); return the files written
    (paths relative to the archive root). A file already there is not written again: the same
    range of one partition always holds the same rows, so it would be the same bytes (a new
    owner that read a block to where its last owner had written it, after a rebalance)."""
    covered = block.covered()
    if covered is None:
        return []
    written = []
    for (table, day), rows in sorted(block.rows.items()):
        directory = table_day_dir(table, day)
        name = file_name(covered)
        path = f"{directory}/{name}"
        existing = store.names(directory)
        if name not in existing:
            every_s = block.fix_every_s if table == "fixes" else None
            store.write(path, to_parquet(to_arrow(table, rows, every_s)))
            written.append(path)
        replace_superseded(store, directory, covered, existing)
    if complete:
        mark_complete(store, covered)
    return written


def replace_superseded(
    store: ArchiveStore, directory: str, written: OffsetRange, names: Iterable[str]
) -> None:
    """Delete the files among ``names`` (of ``directory``) that ``written`` supersedes."""
    existing = [r for r in (parse_file_name(n) for n in names) if r]
    for old in superseded(written, existing):
        store.delete(f"{directory}/{file_name(old)}")


def block_marks(store: ArchiveStore) -> list[OffsetRange]:
    """Every block mark in the archive."""
    return [r for r in (parse_stem(n) for n in store.names(BLOCKS_DIR)) if r]


def mark_complete(store: ArchiveStore, covered: OffsetRange) -> None:
    """Mark ``covered``'s block written in full, and forget the partition's older marks."""
    marks = block_marks(store)
    store.write(f"{BLOCKS_DIR}/{covered.stem}", b"")
    for old in older_marks(covered, marks):
        store.delete(f"{BLOCKS_DIR}/{old.stem}")


def start_offsets(
    store: ArchiveStore, partitions: Iterable[tuple[str, int]], block_records: int
) -> dict[tuple[str, int], int]:
    """Where each (contract topic, partition) starts: the block after its last marked one."""
    marks = block_marks(store)
    return {
        (topic, partition): resume_offset(marks, topic, partition, block_records)
        for topic, partition in partitions
    }
