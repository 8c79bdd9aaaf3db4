"""The archive's blocks and file names: which files a block writes, which older files a new one
supersedes, where a new owner of a partition starts, and the thinning of fixes.

Records are grouped in *blocks* of offsets per (topic, partition): block ``k`` holds offsets
``[k*B, (k+1)*B)``. A block's rows are written as one file per (table, day) it has rows for,
named by the first and last offset of the block *read* (not of its rows), so a table and day
with few rows is still named by the whole block and every file of one block write shares one
range. A time flush writes the block read so far; a later write of the same block covers a
wider range and supersedes (replaces) the smaller files. Once a block is read to its end its
files are written and then a *block mark* (``_blocks/<topic>-<partition>-<first>-<last>``) says
so; a partition's new owner starts at the block after the last marked one, so a restart or a
rebalance reads and writes the same blocks again, giving the same files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from streams.domain.archive.rows import Row
from streams.domain.archive.tables import Table

OFFSET_DIGITS: Final = 12
_NAME: Final = re.compile(r"(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d{12})-(?P<last>\d{12})")
PARQUET_SUFFIX: Final = ".parquet"
BLOCKS_DIR: Final = "_blocks"
"""Where block marks live, beside the ``table=`` directories (readers skip ``_`` names)."""


@dataclass(frozen=True, slots=True, order=True)
class OffsetRange:
    """The records ``first..last`` (inclusive) of one topic partition that a file covers."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def stem(self) -> str:
        """``<topic>-<partition>-<first>-<last>``, offsets zero-padded to 12 digits."""
        return (
            f"{self.topic}-{self.partition}-"
            f"{self.first:0{OFFSET_DIGITS}d}-{self.last:0{OFFSET_DIGITS}d}"
        )

    def covers(self, other: OffsetRange) -> bool:
        """Whether ``other`` is of the same partition and within this range."""
        return (
            (self.topic, self.partition) == (other.topic, other.partition)
            and self.first <= other.first
            and other.last <= self.last
        )


def file_name(covered: OffsetRange) -> str:
    """The data file name of ``covered``: ``<topic>-<partition>-<first>-<last>.parquet``."""
    return covered.stem + PARQUET_SUFFIX


def table_day_dir(table: Table, day: str) -> str:
    """The directory of one table and day, relative to the archive root."""
    return f"table={table}/day={day}"


def parse_stem(stem: str) -> OffsetRange | None:
    """The range a file stem names; None for a name that is not an archive file's."""
    match = _NAME.fullmatch(stem)
    if match is None:
        return None
    return OffsetRange(
        match["topic"], int(match["partition"]), int(match["first"]), int(match["last"])
    )


def parse_file_name(name: str) -> OffsetRange | None:
    """The range a data file name names; None for anything else (temporary files included)."""
    if not name.endswith(PARQUET_SUFFIX):
        return None
    return parse_stem(name.removesuffix(PARQUET_SUFFIX))


def superseded(written: OffsetRange, existing: Iterable[OffsetRange]) -> list[OffsetRange]:
    """The files among ``existing`` (of one table and day) that ``written`` replaces: the
    others of its partition within its range."""
    return sorted(e for e in existing if e != written and written.covers(e))


def block_of(offset: int, block_records: int) -> int:
    """The block index of ``offset``."""
    return offset // block_records


def block_start(block: int, block_records: int) -> int:
    """The first offset of block ``block``."""
    return block * block_records


def resume_offset(
    marks: Iterable[OffsetRange], topic: str, partition: int, block_records: int
) -> int:
    """Where a new owner of ``topic``/``partition`` starts reading: the first offset of the
    block after the last one marked complete (0 when none is)."""
    lasts = [m.last for m in marks if (m.topic, m.partition) == (topic, partition)]
    if not lasts:
        return 0
    return block_start(block_of(max(lasts), block_records) + 1, block_records)


def older_marks(mark: OffsetRange, marks: Iterable[OffsetRange]) -> list[OffsetRange]:
    """The marks of ``mark``'s partition before it (one mark per partition is enough)."""
    return sorted(
        m
        for m in marks
        if (m.topic, m.partition) == (mark.topic, mark.partition) and m.last < mark.first
    )


def fix_bucket(ts_ms: int, every_s: float) -> int:
    """The thinning bucket of a fix at ``ts_ms``: ``floor(ts / every_s)``."""
    return math.floor(ts_ms / (every_s * 1000))


def first_fix_of_each_bucket(
    officers: Sequence[object], ts_ms: Sequence[int], every_s: float
) -> list[bool]:
    """Which fixes (given in offset order) are the first of their radio's (officer pseudonym)
    ``every_s`` bucket of event time: the fixes the archive keeps (0: every one). Applied to a
    block as it is read (:class:`BlockRows`) and again when a day's files are merged, so that a
    compacted day keeps the first fix of each bucket of the whole partition and day, wherever
    the blocks' offset boundaries fell."""
    if every_s <= 0:
        return [True] * len(ts_ms)
    seen: set[tuple[object, int]] = set()
    kept = []
    for officer, ts in zip(officers, ts_ms, strict=True):
        bucket = (officer, fix_bucket(ts, every_s))
        kept.append(bucket not in seen)
        seen.add(bucket)
    return kept


@dataclass(slots=True)
class BlockRows:
    """The rows of one partition's open block, as read so far.

    ``add`` takes the block's records in offset order. Fixes are thinned to the first of each
    radio (officer pseudonym) per ``fix_every_s`` bucket of event time (0: all kept,
    :func:`first_fix_of_each_bucket`); what was kept depends only on the block's records, so
    rereading a block keeps the same fixes. A bucket whose fixes fall in two blocks keeps one in
    each until the day is compacted.
    """

    topic: str
    partition: int
    block: int
    fix_every_s: float
    first: int | None = None
    last: int | None = None
    rows: dict[tuple[Table, str], list[dict[str, object]]] = field(default_factory=dict)
    fix_buckets: set[tuple[object, int]] = field(default_factory=set)
    thinned: int = 0

    def read(self, offset: int) -> None:
        """Note that the record at ``offset`` was read (rows or not)."""
        if self.first is None:
            self.first = offset
        self.last = offset

    def add(self, row: Row) -> bool:
        """Add ``row`` (of the last record read); False when it is a fix thinned away."""
        if row.table == "fixes" and self.fix_every_s > 0:
            ts_ms = row.values["ts"]
            assert isinstance(ts_ms, int)
            bucket = (row.values["officer"], fix_bucket(ts_ms, self.fix_every_s))
            if bucket in self.fix_buckets:
                self.thinned += 1
                return False
            self.fix_buckets.add(bucket)
        self.rows.setdefault((row.table, row.day), []).append(row.values)
        return True

    def covered(self) -> OffsetRange | None:
        """The range read so far; None before the first record."""
        if self.first is None or self.last is None:
            return None
        return OffsetRange(self.topic, self.partition, self.first, self.last)
