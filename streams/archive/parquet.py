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
COMPRESSION: Final = "zstd"
COMPRESSION_LEVEL: Final = 3


def schema(table: Table) -> pa.Schema:
    """The Arrow schema of ``table`` (contract A)."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in columns(table)])


def to_arrow(table: Table, rows: Sequence[dict[str, object]]) -> pa.Table:
    """``rows`` (dicts of column values, timestamps in epoch ms) as an Arrow table in source
    offset order."""
    ordered = sorted(rows, key=lambda row: row["source_offset"])  # type: ignore[arg-type,return-value]
    return pa.Table.from_pylist(ordered, schema=schema(table))


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
    """A file's rows, cast to ``table``'s schema."""
    return pq.read_table(pa.BufferReader(content)).cast(schema(table))
