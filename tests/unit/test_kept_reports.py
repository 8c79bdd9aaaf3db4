"""Kept reports: whole or absent, listed newest first, removed past the retention."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from streams.kept_reports import (
    kept_report_days,
    remove_reports_before,
    report_day,
    write_kept_report,
)


def writes(text: str) -> Callable[[Path], Path]:
    def write(out_dir: Path) -> Path:
        out_dir.mkdir(parents=True)
        (out_dir / "index.html").write_text(text)
        return out_dir / "index.html"

    return write


def test_a_report_is_whole_or_absent(tmp_path: Path) -> None:
    def fail_halfway(out_dir: Path) -> Path:
        out_dir.mkdir(parents=True)
        (out_dir / "index.html").write_text("half")
        raise RuntimeError("the evaluation failed")

    with pytest.raises(RuntimeError):
        write_kept_report(tmp_path, date(2026, 12, 5), fail_halfway)
    assert list(tmp_path.iterdir()) == []
    assert kept_report_days(tmp_path / "missing") == []
    kept = write_kept_report(tmp_path, date(2026, 12, 5), writes("first"))
    write_kept_report(tmp_path, date(2026, 12, 5), writes("again"))
    assert (kept / "index.html").read_text() == "again"
    write_kept_report(tmp_path, date(2026, 12, 4), writes("older"))
    (tmp_path / "2026-12-06").mkdir()
    (tmp_path / "notes").mkdir()
    assert kept_report_days(tmp_path) == [date(2026, 12, 5), date(2026, 12, 4)]
    assert [report_day(name) for name in ("2026-02-30", "latest", "..")] == [None, None, None]


def test_retention_removes_older_reports_and_abandoned_partials(tmp_path: Path) -> None:
    for day in (date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)):
        write_kept_report(tmp_path, day, writes(day.isoformat()))
    abandoned = tmp_path / ".2026-12-06.dead.partial"
    under_way = tmp_path / ".2026-12-06.live.partial"
    abandoned.mkdir()
    under_way.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    assert remove_reports_before(tmp_path, date(2026, 12, 4)) == 1
    assert kept_report_days(tmp_path) == [date(2026, 12, 5), date(2026, 12, 4)]
    assert not abandoned.exists()
    assert under_way.exists()
