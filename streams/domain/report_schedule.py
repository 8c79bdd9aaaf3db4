"""When the daily evaluation report of a local day is due, and which days it covers.

A local day ``D`` is closed once its last event can no longer arrive; its report is due once the
local time passes ``D + 1`` at the refresh hour (``COVERWATCH_REPORT_HOUR``): by then late data
and the night's compaction of ``D`` are in. The instant is taken in the zone, so a report is due
at 06:00 local on the day after the clocks change as on any other day. The report of ``D``
covers the ``period_days`` days ending on ``D``; its baseline is the configured one, else the as
many days immediately before the period.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta, tzinfo

DatePair = tuple[date, date]


def report_due_at(day: date, hour: int, zone: tzinfo) -> float:
    """The instant (seconds since the epoch) the report of local ``day`` becomes due: ``hour``
    o'clock local on the next day. An hour the clocks skip that day counts as the first instant
    after the gap (it is read with the offset before it)."""
    return datetime.combine(day + timedelta(days=1), time(hour), tzinfo=zone).timestamp()


def latest_due_day(now: float, hour: int, zone: tzinfo) -> date:
    """The latest local day whose report is due at ``now``."""
    candidate = datetime.fromtimestamp(now, tz=zone).date() - timedelta(days=1)
    if now < report_due_at(candidate, hour, zone):
        candidate -= timedelta(days=1)
    return candidate


def due_days(
    now: float,
    zone: tzinfo,
    hour: int,
    written: Collection[date],
    catch_up_days: int,
    not_before: date | None = None,
) -> list[date]:
    """The days whose report is due at ``now`` and not ``written`` yet, newest first: at most
    the ``catch_up_days`` latest due days are looked at (a service down for a month writes the
    last ones, not thirty), none before ``not_before`` (e.g. the day the data begins)."""
    latest = latest_due_day(now, hour, zone)
    window = (latest - timedelta(days=back) for back in range(max(catch_up_days, 0)))
    return [
        day for day in window if day not in written and (not_before is None or day >= not_before)
    ]


def report_period(day: date, period_days: int) -> DatePair:
    """The ``period_days`` local days ending on ``day`` (both ends included)."""
    return day - timedelta(days=period_days - 1), day


def report_baseline(
    period: DatePair, baseline_from: date | None = None, baseline_to: date | None = None
) -> DatePair:
    """The baseline a period is compared with: the configured days when both ends are given,
    else as many days as the period immediately before it."""
    if baseline_from is not None and baseline_to is not None:
        return baseline_from, baseline_to
    start, end = period
    length = end - start + timedelta(days=1)
    return start - length, start - timedelta(days=1)
