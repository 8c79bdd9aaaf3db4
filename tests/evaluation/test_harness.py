"""The evaluation harness waits for the archive correctly: a partition is caught up when a file
holds its last record or the archive's group has committed its high-water mark, and not before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evaluation.harness import archive_lag, archive_last_offsets, local_day

pytestmark = pytest.mark.evaluation


def test_the_last_offsets_come_from_the_file_names_of_every_day(tmp_path: Path) -> None:
    for relative in (
        "table=visits/day=2026-11-02/presence.visits-0-000000000000-000000000041.parquet",
        "table=visits/day=2026-11-03/presence.visits-0-000000000042-000000000090.parquet",
        "table=fixes/day=2026-11-02/airwave.pings-3-000000000007-000000000700.parquet",
        "table=fixes/day=2026-11-02/notes.txt",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    assert archive_last_offsets(tmp_path) == {
        ("presence.visits", 0): 90,
        ("airwave.pings", 3): 700,
    }


def test_a_partition_is_caught_up_by_its_files_or_by_the_committed_offset() -> None:
    highwater = {
        ("p.presence.visits", 0): 91,
        ("p.airwave.pings", 3): 705,
        ("p.crimes.recorded", 0): 10,
    }
    files_last = {("presence.visits", 0): 90, ("airwave.pings", 3): 700, ("crimes.recorded", 0): 8}
    committed = {("p.airwave.pings", 3): 705, ("p.crimes.recorded", 0): 9}
    assert archive_lag(highwater, files_last, committed, "p.") == {"crimes.recorded-0": 1}


def test_an_empty_archive_lags_by_every_record() -> None:
    assert archive_lag({("p.areas.definitions", 0): 40}, {}, {}, "p.") == {
        "areas.definitions-0": 40
    }


def test_simulated_days_are_local_days_from_the_start() -> None:
    assert [local_day(day).isoformat() for day in (1, 7, 8, 14)] == [
        "2026-11-02", "2026-11-08", "2026-11-09", "2026-11-15",
    ]  # fmt: skip
