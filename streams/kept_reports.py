"""The kept daily evaluation reports on local disk: ``<reports dir>/<YYYY-MM-DD>/index.html``
and ``tables/*.csv`` (:mod:`streams.evaluation.report` writes them).

A report is written into a hidden ``.<day>.<id>.partial`` directory and renamed into place once
complete, so a day's directory with an ``index.html`` is a whole report: that is how the coverage
leader knows a day is written (a restart does not write it again) and what ``/reports/`` lists.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

INDEX = "index.html"
PARTIAL_SUFFIX = ".partial"
ABANDONED_AFTER_S = 3600.0
"""A partial report this old (by its directory's modification time) belongs to a writer that
died: the next refresh removes it."""
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def kept_report_days(reports_dir: Path) -> list[date]:
    """The days with a whole report in ``reports_dir``, newest first (none if it is missing)."""
    if not reports_dir.is_dir():
        return []
    days = []
    for entry in reports_dir.iterdir():
        day = report_day(entry.name)
        if day is not None and (entry / INDEX).is_file():
            days.append(day)
    return sorted(days, reverse=True)


def report_day(name: str) -> date | None:
    """The day a report directory's name stands for, or None (not a report's name)."""
    if _DAY.fullmatch(name) is None:
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def write_kept_report(reports_dir: Path, day: date, write: Callable[[Path], Path]) -> Path:
    """Run ``write(out_dir)`` into a fresh partial directory, then move it into place as the
    report of ``day`` (replacing an older one); the kept report's directory. A failed write
    leaves no partial directory behind."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    partial = reports_dir / f".{day.isoformat()}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    final = reports_dir / day.isoformat()
    try:
        write(partial)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def remove_reports_before(reports_dir: Path, first_kept: date) -> int:
    """Remove every report of a day before ``first_kept`` and every abandoned partial report;
    how many reports were removed."""
    removed = 0
    if not reports_dir.is_dir():
        return removed
    for entry in reports_dir.iterdir():
        day = report_day(entry.name)
        if day is not None and day < first_kept and entry.is_dir():
            shutil.rmtree(entry)
            removed += 1
        elif entry.name.endswith(PARTIAL_SUFFIX) and _abandoned(entry):
            shutil.rmtree(entry, ignore_errors=True)
    return removed


def _abandoned(partial: Path) -> bool:
    try:
        return time.time() - partial.stat().st_mtime > ABANDONED_AFTER_S
    except FileNotFoundError:
        return False
