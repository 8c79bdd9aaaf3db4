"""The leader's daily refresh: due days written once each, newest first, a failure counted and
retried, nothing redone after a restart, and the event loop never blocked by a report."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from streams.engines.coverage import reports
from streams.engines.coverage.reports import DailyReports
from streams.engines.runtime import Runtime
from streams.kept_reports import kept_report_days, write_kept_report
from streams.metrics import Metrics
from streams.settings import Settings


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


BEGAN = at("2026-12-03T15:00:00")


class Writer:
    """Stands in for the evaluation (the report helper's): records what it was asked."""

    def __init__(self, failing: set[date] | None = None) -> None:
        self.asked: list[tuple[date, tuple[date, date], tuple[date, date]]] = []
        self.failing = failing or set()
        self.threads: set[str] = set()

    def __call__(
        self,
        archive_url: str,
        reports_dir: Path,
        day: date,
        period: tuple[date, date],
        baseline: tuple[date, date],
        zone: str,
    ) -> Path:
        self.asked.append((day, period, baseline))
        self.threads.add(threading.current_thread().name)
        if day in self.failing:
            raise RuntimeError("the archive could not be read")

        def write(out_dir: Path) -> Path:
            out_dir.mkdir(parents=True)
            (out_dir / "index.html").write_text(f"{period} vs {baseline}")
            return out_dir / "index.html"

        return write_kept_report(reports_dir, day, write)


def refresher(tmp_path: Path, **overrides: Any) -> tuple[DailyReports, Metrics]:
    async def pings_progress(partitions: int) -> tuple[list[float | None], list[float | None]]:
        return [None] * partitions, [BEGAN] + [None] * (partitions - 1)

    chosen: dict[str, Any] = {
        "archive_url": f"file://{tmp_path}/archive",
        "archive_flush_s": 0.0,
        "report_period_days": 2,
        **overrides,
    }
    settings = Settings(**chosen)
    metrics = Metrics([])
    runtime = SimpleNamespace(
        settings=settings, metrics=metrics, state=SimpleNamespace(pings_progress=pings_progress)
    )
    return DailyReports(cast(Runtime, runtime)), metrics


async def refresh(daily: DailyReports, watermark: float) -> None:
    await daily.check(watermark)
    if daily._task is not None:
        await daily._task


@pytest.fixture(autouse=True)
def every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(reports, "RETRY_AFTER_S", 0.0)
    monkeypatch.setattr(reports, "apply_retention", lambda *args: None)


def count(metrics: Metrics, outcome: str) -> float:
    return metrics.reports.labels(outcome)._value.get()


async def test_due_days_are_written_newest_first_and_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer()
    monkeypatch.setattr(reports, "write_day_report", writer)
    daily, metrics = refresher(tmp_path)
    assert daily.reports_dir == tmp_path / "reports"
    now = at("2026-12-05T18:00:00")  # the 3rd (the data began) and the 4th are due
    await refresh(daily, now)
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 4), date(2026, 12, 3)]
    assert writer.asked[0][1:] == (
        (date(2026, 12, 3), date(2026, 12, 4)),
        (date(2026, 12, 1), date(2026, 12, 2)),
    )
    assert "MainThread" not in writer.threads
    assert kept_report_days(tmp_path / "reports") == [date(2026, 12, 4), date(2026, 12, 3)]
    assert count(metrics, "written") == 2
    await refresh(daily, now)
    restarted, _ = refresher(tmp_path)
    await refresh(restarted, now)
    await refresh(restarted, now)
    assert len(writer.asked) == 2  # nothing written twice, before or after a restart


async def test_a_due_day_waits_for_the_archive_writers_to_flush_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer()
    monkeypatch.setattr(reports, "write_day_report", writer)
    daily, _ = refresher(tmp_path, report_catch_up_days=1, archive_flush_s=3600.0)
    for _ in range(3):
        await refresh(daily, at("2026-12-05T18:00:00"))
    assert writer.asked == []
    patient, _ = refresher(tmp_path, report_catch_up_days=1, archive_flush_s=0.2)
    await refresh(patient, at("2026-12-05T18:00:00"))
    assert writer.asked == []
    await asyncio.sleep(0.25)
    await refresh(patient, at("2026-12-05T18:00:10"))
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 4)]


async def test_a_failed_report_is_counted_and_tried_again_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer(failing={date(2026, 12, 4)})
    monkeypatch.setattr(reports, "write_day_report", writer)
    monkeypatch.setattr(reports, "RETRY_AFTER_S", 3600.0)
    daily, metrics = refresher(tmp_path, report_catch_up_days=1)
    now = at("2026-12-05T06:30:00")
    for _ in range(4):
        await refresh(daily, now)
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 4)]  # not at every check
    assert count(metrics, "failed") == 1
    monkeypatch.setattr(reports, "RETRY_AFTER_S", 0.0)
    await refresh(daily, now)
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 4), date(2026, 12, 4)]
    assert count(metrics, "failed") == 2
    writer.failing.clear()
    await refresh(daily, now)
    assert kept_report_days(tmp_path / "reports") == [date(2026, 12, 4)]
    assert count(metrics, "written") == 1


async def test_a_day_is_written_after_the_refresh_hour_and_not_without_an_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer()
    monkeypatch.setattr(reports, "write_day_report", writer)
    daily, _ = refresher(tmp_path, report_hour=7, report_catch_up_days=1)
    await refresh(daily, at("2026-12-05T06:59:00"))
    await refresh(daily, at("2026-12-05T06:59:30"))
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 3)]
    await refresh(daily, at("2026-12-05T07:00:00"))
    await refresh(daily, at("2026-12-05T07:00:30"))
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 3), date(2026, 12, 4)]
    off = DailyReports(
        cast(Runtime, SimpleNamespace(settings=Settings(), metrics=Metrics([]), state=None))
    )
    assert off.reports_dir is None
    await refresh(off, at("2026-12-05T18:00:00"))


async def test_the_event_loop_runs_while_a_report_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    writer = Writer()

    def slow(*args: Any) -> Path:
        release.wait(5)
        return writer(*args)

    monkeypatch.setattr(reports, "write_day_report", slow)
    daily, _ = refresher(tmp_path, report_catch_up_days=1)
    now = at("2026-12-05T18:00:00")
    await daily.check(now)
    await daily.check(now)
    assert daily.writing
    await asyncio.sleep(0.05)  # the loop is free while the thread writes
    await daily.check(now)  # no second refresh while one runs
    release.set()
    assert daily._task is not None
    await daily._task
    assert [day for day, _, _ in writer.asked] == [date(2026, 12, 4)]
