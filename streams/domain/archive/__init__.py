"""The archive's pure rules (contract A, docs/archive.md): tables and columns
(:mod:`.tables`), rows from records (:mod:`.rows`, with the output topics' decoders in
:mod:`.outputs`), blocks, file names, supersession and the thinning of fixes (:mod:`.blocks`).
The writer that applies them is :mod:`streams.archive`."""

from streams.domain.archive.blocks import (
    BLOCKS_DIR,
    BlockRows,
    OffsetRange,
    block_of,
    block_start,
    file_name,
    first_fix_of_each_bucket,
    fix_bucket,
    older_marks,
    parse_file_name,
    parse_stem,
    resume_offset,
    superseded,
    table_day_dir,
)
from streams.domain.archive.rows import (
    SKIP_REASONS,
    Row,
    RowContext,
    Skipped,
    Source,
    archive_row,
)
from streams.domain.archive.tables import (
    ARCHIVED_TOPICS,
    DAY_COLUMN,
    TABLE_OF_TOPIC,
    TABLES,
    ColumnType,
    Table,
    columns,
)

__all__ = [
    "ARCHIVED_TOPICS",
    "BLOCKS_DIR",
    "DAY_COLUMN",
    "SKIP_REASONS",
    "TABLES",
    "TABLE_OF_TOPIC",
    "BlockRows",
    "ColumnType",
    "OffsetRange",
    "Row",
    "RowContext",
    "Skipped",
    "Source",
    "Table",
    "archive_row",
    "block_of",
    "block_start",
    "columns",
    "file_name",
    "first_fix_of_each_bucket",
    "fix_bucket",
    "older_marks",
    "parse_file_name",
    "parse_stem",
    "resume_offset",
    "superseded",
    "table_day_dir",
]
