"""Contract D: ``write_report`` loads the facts of the period and of its baseline from the
archive (contract C's ``load_facts``) and writes the offline report (docs/report.md)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from streams.evaluation.facts import load_facts
from streams.evaluation.page import write_report_files
from streams.evaluation.questions import Window


def default_baseline(period: tuple[date, date]) -> tuple[date, date]:
    """The same number of days immediately before the period."""
    first, last = period
    days = (last - first).days + 1
    return first - timedelta(days=days), first - timedelta(days=1)


def write_report(
    archive_url: str,
    out_dir: Path,
    *,
    period: tuple[date, date],
    baseline: tuple[date, date] | None = None,
    zone: str = "Europe/London",
) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/tables/*.csv`` for ``period`` (local days,
    inclusive) against ``baseline`` (default: :func:`default_baseline`); return the page's
    path."""
    if period[1] < period[0]:
        raise ValueError(f"the period ends ({period[1]}) before it starts ({period[0]})")
    chosen = baseline or default_baseline(period)
    if chosen[1] < chosen[0]:
        raise ValueError(f"the baseline ends ({chosen[1]}) before it starts ({chosen[0]})")
    windows = [
        Window(name, first, last, load_facts(archive_url, first, last, zone))
        for name, (first, last) in (("baseline", chosen), ("period", period))
    ]
    return write_report_files(windows[0], windows[1], out_dir, zone)
