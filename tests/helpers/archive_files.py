"""A small archive on disk laid out as contract A says (for reading it without the writer):
``<root>/table=<table>/day=<YYYY-MM-DD>/<topic>-<partition>-<first>-<last>.parquet``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from streams.archive.parquet import schema


def write_rows(
    root: Path,
    table: str,
    day: str,
    rows: Sequence[Mapping[str, object]],
    *,
    topic: str,
    partition: int = 0,
    first_offset: int = 0,
) -> Path:
    """Write ``rows`` as one file of ``table`` in partition ``day``; rows without source keys
    get ``topic``, ``partition`` and consecutive offsets from ``first_offset``."""
    filled = [
        {
            "source_topic": topic,
            "source_partition": partition,
            "source_offset": first_offset + index,
            **row,
        }
        for index, row in enumerate(rows)
    ]
    offsets = [int(str(row["source_offset"])) for row in filled]
    name = f"{topic}-{partition}-{min(offsets):012d}-{max(offsets):012d}.parquet"
    path = root / f"table={table}" / f"day={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(filled, schema=schema(table)), path)
    return path
