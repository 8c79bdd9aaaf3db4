"""The daily refresh: the coverage leader writes the evaluation report of each closed day.

Every :data:`CHECK_EVERY_S` (wall time) the leader looks at which local days are due
(:func:`~streams.domain.report_schedule.due_days`, at the service's watermark: every input has
passed it) and not kept yet; a day is written once it has been seen due for
``COVERWATCH_ARCHIVE_FLUSH_S`` (the archive writers have then written every row they had read
when it became due). For each such day, newest first, in a
thread (the evaluation is heavy; the event loop never waits for it): the day's archive files are
compacted, the report of the period ending on it is written into the reports directory, and the
archive and the reports past the retention are removed. A failed report is logged, counted
(``coverwatch_reports_total{outcome="failed"}``) and tried again at the first check
:data:`RETRY_AFTER_S` later; it never stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from streams import topics
from streams.domain.judging import monitoring_start
from streams.domain.report_schedule import (
    DatePair,
    due_days,
    report_baseline,
    report_period,
)
from streams.engines.runtime import Runtime
from streams.kept_reports import kept_report_days, remove_reports_before, write_kept_report
from streams.settings import Settings, report_baseline_days, reports_location

log = logging.getLogger(__name__)

CHECK_EVERY_S = 15.0
"""How often (wall time) the leader looks for due reports."""
RETRY_AFTER_S = 600.0
"""A day whose report failed is tried again at the first check this long (wall time) after."""


def write_day_report(
    archive_url: str, reports_dir: Path, day: date, period: DatePair, baseline: DatePair, zone: str
) -> Path:
    """Compact the archive's ``day``, then write the report of ``period`` against ``baseline``
    as the kept report of ``day`` (blocking: run it in a thread)."""
    # The evaluation stack (duckdb, pandas, statsmodels, matplotlib) is imported only where a
    # report is written, by the leader, not at every worker's start.
    from streams.archive import compact_day
    from streams.evaluation.report import write_report

    compact_day(archive_url, day)
    return write_kept_report(
        reports_dir,
        day,
        lambda out_dir: write_report(
            archive_url, out_dir, period=period, baseline=baseline, zone=zone
        ),
    )


def apply_retention(settings: Settings, reports_dir: Path, today: date) -> None:
    """Remove the archive days and the reports older than the retention (blocking)."""
    from streams.archive import apply_retention as apply_archive_retention

    keep_days = settings.archive_retention_days
    if keep_days <= 0:
        return
    apply_archive_retention(settings.archive_url, keep_days, today)
    remove_reports_before(reports_dir, today - timedelta(days=keep_days))


class DailyReports:
    """The leader's daily refresh of the evaluation reports."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.reports_dir = reports_location(settings)
        self.zone = ZoneInfo(settings.timezone)
        self._baseline = report_baseline_days(settings)
        self._checked_at = float("-inf")
        self._due_since: dict[date, float] = {}
        """Wall time (monotonic) each due day was first seen due."""
        self._failed_at: dict[date, float] = {}
        """Wall time (monotonic) each day's report last failed."""
        self._task: asyncio.Task[None] | None = None

    @property
    def writing(self) -> bool:
        """Whether a refresh is under way."""
        return self._task is not None and not self._task.done()

    async def check(self, watermark: float | None) -> None:
        """On the leader's tick: at most every :data:`CHECK_EVERY_S`, start writing the days due
        at ``watermark`` that have been due long enough (:meth:`_ready`; none while a refresh
        runs, without a reports directory or before any data)."""
        wall = time.monotonic()
        if self.reports_dir is None or watermark is None or self.writing:
            return
        if wall - self._checked_at < CHECK_EVERY_S:
            return
        self._checked_at = wall
        settings = self.runtime.settings
        _, began = await self.runtime.state.pings_progress(topics.BY_NAME[topics.PINGS].partitions)
        first = monitoring_start(began)
        due = due_days(
            watermark,
            self.zone,
            settings.report_hour,
            set(kept_report_days(self.reports_dir)),
            settings.report_catch_up_days,
            None if first is None else _local_date(first, self.zone),
        )
        self._due_since = {day: self._due_since.get(day, wall) for day in due}
        ready = [day for day in due if self._ready(day, wall)]
        if ready:
            self._task = asyncio.create_task(
                self._refresh(ready, _local_date(watermark, self.zone))
            )

    def _ready(self, day: date, wall: float) -> bool:
        """Whether a due day has been due long enough for the archive writers to have flushed
        it, and did not fail less than :data:`RETRY_AFTER_S` ago."""
        settled = wall - self._due_since[day] >= self.runtime.settings.archive_flush_s
        failed = self._failed_at.get(day)
        return settled and (failed is None or wall - failed >= RETRY_AFTER_S)

    async def _refresh(self, days: list[date], today: date) -> None:
        """Write each day's report in turn (a failure is counted and the next day tried), then
        apply the retention."""
        assert self.reports_dir is not None
        settings, metrics = self.runtime.settings, self.runtime.metrics
        for day in days:
            period = report_period(day, settings.report_period_days)
            baseline = report_baseline(period, *(self._baseline or (None, None)))
            started = time.monotonic()
            try:
                path = await asyncio.to_thread(
                    write_day_report,
                    settings.archive_url,
                    self.reports_dir,
                    day,
                    period,
                    baseline,
                    settings.timezone,
                )
            except Exception:
                log.exception("daily report of %s failed; it is tried again later", day)
                metrics.reports.labels("failed").inc()
                self._failed_at[day] = time.monotonic()
                continue
            self._failed_at.pop(day, None)
            metrics.reports.labels("written").inc()
            log.info(
                "daily report of %s written in %.1f s: %s", day, time.monotonic() - started, path
            )
        try:
            await asyncio.to_thread(apply_retention, settings, self.reports_dir, today)
        except Exception:
            log.exception("applying the archive and report retention failed")


def _local_date(ts: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz=zone).date()
