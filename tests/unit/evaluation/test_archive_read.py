"""Reading a contract-A archive: day partitions pruned, rows de-duplicated on the source key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from streams.archive.parquet import schema
from streams.evaluation.archive_read import Archive, ArchiveError
from tests.helpers.archive_files import write_rows

CRIMES = schema("crimes")


def crime(crime_id: str, day: int) -> dict[str, object]:
    return {"crime_id": crime_id, "ts": datetime(2026, 12, day, 12, tzinfo=UTC)}


def test_only_the_days_asked_for_are_read_and_duplicates_count_once(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        rows = [crime(f"c{day}-{n}", day) for n in range(4)]
        day_name = f"2026-12-0{day}"
        write_rows(
            tmp_path, "crimes", day_name, rows, topic="crimes.recorded", first_offset=10 * day
        )
    # the same source record (offset 20) again, in a second file of day 2
    write_rows(
        tmp_path,
        "crimes",
        "2026-12-02",
        [crime("c2-0", 2)],
        topic="crimes.recorded",
        first_offset=20,
    )
    with duckdb.connect() as connection:
        archive = Archive(tmp_path.as_uri(), connection)
        assert len(archive.day_files("crimes", date(2026, 12, 2), date(2026, 12, 3))) == 3
        assert archive.load("crimes", date(2026, 12, 2), date(2026, 12, 3), CRIMES) == 8


def test_a_table_missing_from_the_archive_reads_as_no_rows_with_its_columns(
    tmp_path: Path,
) -> None:
    with duckdb.connect() as connection:
        assert Archive(tmp_path.as_uri(), connection).load("crimes", None, None, CRIMES) == 0
        columns = [row[0] for row in connection.execute("DESCRIBE crimes").fetchall()]
    assert columns == CRIMES.names


def test_no_archive_url_is_an_error() -> None:
    with duckdb.connect() as connection, pytest.raises(ArchiveError, match="empty"):
        Archive("", connection)
