"""Archive maintenance (contract E): compacting a day's files and keeping the retention.

Compaction merges each (table, day, topic, partition)'s files into one, named by the merged
offset range, with the rows de-duplicated on their source offset and in offset order, and the
fixes thinned again over the whole day: the same rows give the same bytes however the files
were cut. It is meant for closed days; on a day
still being written a later block write may overlap the merged file, which readers de-duplicate
(contract A), and the next compaction merges again.

The archive service compacts the recently closed days of the partitions it holds, under the
same lock as its block writes (:mod:`streams.archive.service`), so no two workers write one
merged file; :func:`compact_day` compacts every partition of a day, for a job run by hand or on
a schedule while no worker writes that day.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from streams.archive.parquet import fix_every_of, from_parquet, thinned_to, to_parquet
from streams.archive.store import ArchiveStore
from streams.domain.archive import TABLES, OffsetRange, Table, file_name, parse_file_name
from streams.domain.archive.blocks import first_fix_of_each_bucket, table_day_dir

_DAY_DIR = re.compile(r"day=(\d{4}-\d{2}-\d{2})")


def compact_day(archive_url: str, day: date) -> int:
    """Merge each (table, ``day``, topic, partition)'s files into one; return files removed."""
    return compact(ArchiveStore(archive_url), [day], partitions=None)


def compact(
    store: ArchiveStore, days: Iterable[date], partitions: Collection[tuple[str, int]] | None
) -> int:
    """Merge each (table, day, topic, partition)'s files of ``days`` into one, for the
    (contract topic, partition) pairs of ``partitions`` (None: every one); return files
    removed."""
    removed = 0
    for day in days:
        for table in TABLES:
            directory = table_day_dir(table, day.isoformat())
            groups: dict[tuple[str, int], list[OffsetRange]] = defaultdict(list)
            for found in (parse_file_name(name) for name in store.names(directory)):
                if found is not None:
                    groups[(found.topic, found.partition)].append(found)
            for held, files in sorted(groups.items()):
                if len(files) > 1 and (partitions is None or held in partitions):
                    removed += _merge(store, table, directory, sorted(files))
    return removed


def _merge(store: ArchiveStore, table: Table, directory: str, files: list[OffsetRange]) -> int:
    """Write ``files``' rows as one file and delete them; return how many were deleted. Fixes
    are thinned again over the merged rows, to the widest bucket their files were thinned to: a
    bucket whose fixes fell in two blocks keeps its first alone, as one write of the whole
    range would have (:func:`~streams.domain.archive.blocks.first_fix_of_each_bucket`)."""
    parts = [from_parquet(store.read(f"{directory}/{file_name(f)}"), table) for f in files]
    merged = OffsetRange(
        files[0].topic, files[0].partition, min(f.first for f in files), max(f.last for f in files)
    )
    rows = _distinct_by_offset([part.replace_schema_metadata(None) for part in parts])
    if table == "fixes":
        every_s = max(fix_every_of(part) for part in parts)
        kept = first_fix_of_each_bucket(
            rows.column("officer").to_pylist(),
            pc.cast(rows.column("ts"), pa.int64()).to_pylist(),
            every_s,
        )
        rows = thinned_to(rows.filter(pa.array(kept, type=pa.bool_())), every_s)
    store.write(f"{directory}/{file_name(merged)}", to_parquet(rows))
    for old in files:
        if old != merged:
            store.delete(f"{directory}/{file_name(old)}")
    return sum(old != merged for old in files)


def _distinct_by_offset(parts: list[pa.Table]) -> pa.Table:
    """The rows of ``parts`` in source offset order, the first of each offset kept."""
    rows = pa.concat_tables(parts).combine_chunks()
    rows = rows.take(pc.sort_indices(rows, sort_keys=[("source_offset", "ascending")]))
    offsets = rows.column("source_offset").to_numpy()
    keep = [True] + [bool(a != b) for a, b in zip(offsets[1:], offsets[:-1], strict=True)]
    return rows.filter(pa.array(keep, type=pa.bool_()))


def apply_retention(archive_url: str, keep_days: int, today: date) -> int:
    """Delete every table's days before ``today - keep_days``; return the files removed."""
    return remove_old_days(ArchiveStore(archive_url), keep_days, today)


def remove_old_days(store: ArchiveStore, keep_days: int, today: date) -> int:
    """:func:`apply_retention` on an open store."""
    oldest_kept = today - timedelta(days=keep_days)
    removed = 0
    for table in TABLES:
        for name in store.names(f"table={table}"):
            match = _DAY_DIR.fullmatch(name)
            if match and date.fromisoformat(match[1]) < oldest_kept:
                removed += store.delete_dir(f"table={table}/{name}")
    return removed
