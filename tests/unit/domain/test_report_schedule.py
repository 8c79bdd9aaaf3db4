"""When a day's report is due, which days a refresh writes, and what they cover."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from streams.domain.report_schedule import (
    due_days,
    latest_due_day,
    report_baseline,
    report_due_at,
    report_period,
)

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> float:
    """An instant written in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_day_is_due_at_the_refresh_hour_of_the_next_local_day() -> None:
    # winter: London is UTC
    assert report_due_at(date(2026, 12, 5), 6, LONDON) == at("2026-12-06T06:00:00")
    # summer: 06:00 BST is 05:00 UTC
    assert report_due_at(date(2026, 7, 5), 6, LONDON) == at("2026-07-06T05:00:00")
    assert latest_due_day(at("2026-12-06T05:59:59"), 6, LONDON) == date(2026, 12, 4)
    assert latest_due_day(at("2026-12-06T06:00:00"), 6, LONDON) == date(2026, 12, 5)
    assert latest_due_day(at("2026-12-06T23:59:00"), 6, LONDON) == date(2026, 12, 5)


def test_the_day_the_clocks_change_is_due_at_the_local_hour_all_the_same() -> None:
    # spring forward on 2026-03-29 (01:00 UTC), fall back on 2026-10-25 (01:00 UTC)
    assert report_due_at(date(2026, 3, 28), 6, LONDON) == at("2026-03-29T05:00:00")
    assert report_due_at(date(2026, 3, 29), 6, LONDON) == at("2026-03-30T05:00:00")
    assert report_due_at(date(2026, 10, 24), 6, LONDON) == at("2026-10-25T06:00:00")
    assert latest_due_day(at("2026-10-25T05:30:00"), 6, LONDON) == date(2026, 10, 23)
    # an hour the clocks skip (01:00 on 2026-03-29 does not exist) is due right after the gap
    assert report_due_at(date(2026, 3, 28), 1, LONDON) == at("2026-03-29T01:00:00")


def test_a_refresh_writes_the_due_days_not_written_newest_first_within_the_catch_up() -> None:
    now = at("2026-12-06T07:00:00")
    assert due_days(now, LONDON, 6, set(), 3) == [
        date(2026, 12, 5),
        date(2026, 12, 4),
        date(2026, 12, 3),
    ]
    written = {date(2026, 12, 5), date(2026, 12, 3)}
    assert due_days(now, LONDON, 6, written, 3) == [date(2026, 12, 4)]
    assert due_days(now, LONDON, 6, set(), 7, not_before=date(2026, 12, 4)) == [
        date(2026, 12, 5),
        date(2026, 12, 4),
    ]
    assert due_days(at("2026-12-06T05:00:00"), LONDON, 6, {date(2026, 12, 4)}, 1) == []
    assert due_days(now, LONDON, 6, set(), 0) == []


def test_a_report_covers_the_period_ending_on_its_day_against_the_days_before() -> None:
    period = report_period(date(2026, 12, 5), 7)
    assert period == (date(2026, 11, 29), date(2026, 12, 5))
    assert report_baseline(period) == (date(2026, 11, 22), date(2026, 11, 28))
    assert report_period(date(2026, 12, 5), 1) == (date(2026, 12, 5), date(2026, 12, 5))
    assert report_baseline((date(2026, 12, 5), date(2026, 12, 5))) == (
        date(2026, 12, 4),
        date(2026, 12, 4),
    )
    fixed = (date(2026, 10, 1), date(2026, 10, 31))
    assert report_baseline(period, *fixed) == fixed
