"""The archive's Parquet: one fixed Arrow schema per table and fixed writer options, so the same
rows always make the same bytes (no wall-clock metadata is written; ``created_by`` names the
pyarrow version, which the lock pins)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from streams.domain.archive import ColumnType, Table, columns

_ARROW_TYPES: Final[dict[ColumnType, pa.DataType]] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}
FIX_EVERY_KEY: Final = b"coverwatch.fix_every_s"
"""Schema metadata of a ``fixes`` file: the bucket width (s) its fixes were thinned to, which
compaction thins the merged day to again."""
COMPRESSION: Final = "zstd"
COMPRESSION_LEVEL: Final = 3


def schema(table: Table) -> pa.Schema:
    """The Arrow schema of ``table`` (contract A)."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in columns(table)])


def to_arrow(
    table: Table, rows: Sequence[dict[str, object]], fix_every_s: float | None = None
) -> pa.Table:
    """``rows`` (dicts of column values, timestamps in epoch ms) as an Arrow table in source
    offset order; with ``fix_every_s``, the width the fixes among them were thinned to."""
    ordered = sorted(rows, key=lambda row: row["source_offset"])  # type: ignore[arg-type,return-value]
    data = pa.Table.from_pylist(ordered, schema=schema(table))
    return data if fix_every_s is None else thinned_to(data, fix_every_s)


def thinned_to(data: pa.Table, fix_every_s: float) -> pa.Table:
    """``data`` noting that its fixes were thinned to ``fix_every_s`` buckets."""
    return data.replace_schema_metadata({FIX_EVERY_KEY: repr(float(fix_every_s)).encode()})


def fix_every_of(data: pa.Table) -> float:
    """The width ``data``'s fixes were thinned to (0: not noted, as in files written before it
    was, or every fix kept)."""
    noted = (data.schema.metadata or {}).get(FIX_EVERY_KEY)
    return 0.0 if noted is None else float(noted)


def prepare() -> None:
    """Do once what the first conversion of rows does: pyarrow then imports pandas (about half
    a second of CPU, holding the GIL), which a worker should spend at start, not in its first
    block write while pings flow."""
    to_parquet(to_arrow("fixes", []))


def to_parquet(data: pa.Table) -> bytes:
    """The Parquet file of ``data``, always the same bytes for the same table."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        data.combine_chunks(),
        sink,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
    )
    return bytes(sink.getvalue().to_pybytes())


def from_parquet(content: bytes, table: Table) -> pa.Table:
    """A file's rows, cast to ``table``'s schema (with the file's schema metadata)."""
    read = pq.read_table(pa.BufferReader(content))
    return read.cast(schema(table)).replace_schema_metadata(read.schema.metadata)
