"""Reading the archive (contract A): a table's Parquet files for a range of local days, one row
per source record, into DuckDB.

The archive root is a ``file://`` or ``s3://`` URL opened with ``pyarrow.fs`` (as the writer
opens it), so the same code reads a local directory and object storage. Files are found by
their Hive partitions (``table=<table>/day=<YYYY-MM-DD>/``): only the day directories in the
range asked for are listed and read. Files can overlap (a bigger file superseding smaller ones,
before and after compaction), so rows are de-duplicated on (source_topic, source_partition,
source_offset), which the contract makes unique per table. Queries then run in DuckDB over the
de-duplicated Arrow table, registered under the table's name.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

SOURCE_KEY: Final = ("source_topic", "source_partition", "source_offset")
_DAY_DIRECTORY: Final = re.compile(r"day=(\d{4}-\d{2}-\d{2})$")


class ArchiveError(ValueError):
    """The archive cannot be read: the message says where and why."""


class Archive:
    """One archive root, read table by table into a DuckDB connection."""

    def __init__(self, archive_url: str, connection: duckdb.DuckDBPyConnection) -> None:
        if not archive_url:
            raise ArchiveError("no archive: COVERWATCH_ARCHIVE_URL is empty")
        try:
            self.filesystem, root = pafs.FileSystem.from_uri(archive_url)
        except (pa.ArrowInvalid, OSError) as error:
            scheme = urlparse(archive_url).scheme
            raise ArchiveError(f"cannot open the {scheme} archive: {error}") from None
        self.root = root.rstrip("/")
        self.connection = connection

    def day_files(self, table: str, first: date | None, last: date | None) -> list[str]:
        """The Parquet files of ``table`` in the day partitions from ``first`` to ``last``
        (inclusive; None: unbounded), in path order."""
        base = f"{self.root}/table={table}"
        if self.filesystem.get_file_info(base).type != pafs.FileType.Directory:
            return []
        files: list[str] = []
        for entry in self.filesystem.get_file_info(pafs.FileSelector(base)):
            found = _DAY_DIRECTORY.search(entry.path)
            if entry.type != pafs.FileType.Directory or found is None:
                continue
            day = date.fromisoformat(found.group(1))
            if (first is None or day >= first) and (last is None or day <= last):
                inside = self.filesystem.get_file_info(pafs.FileSelector(entry.path))
                files += [info.path for info in inside if info.path.endswith(".parquet")]
        return sorted(files)

    def load(self, table: str, first: date | None, last: date | None, columns: pa.Schema) -> int:
        """Register ``table`` in DuckDB: its rows from the days ``first`` to ``last``,
        de-duplicated on the source key, with at least the ``columns`` given (a missing column
        or table reads as nulls / no rows). Returns the number of rows."""
        parts = [
            pq.read_table(path, filesystem=self.filesystem)
            for path in self.day_files(table, first, last)
        ]
        arrow = pa.concat_tables([*parts, columns.empty_table()], promote_options="permissive")
        self.connection.register(f"{table}_files", arrow)
        key = ", ".join(SOURCE_KEY)
        self.connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_files "  # noqa: S608
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {key}) = 1"
        ).fetchall()
        self.connection.unregister(f"{table}_files")
        ((count,),) = self.connection.execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608
        return int(count)
