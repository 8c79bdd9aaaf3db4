"""The daily dosage ledger of an area: visits, dose, the longest gap and policy fidelity.

Kept for every area kind, so that Impact Areas can be compared with comparison areas. A day is a
local calendar day in the configured time zone (23 or 25 hours long on DST change days).

Policy windows (:func:`policy_windows`)
    The day is cut where the policy band in force changes (including midnight), and each piece
    is split into consecutive windows of its max gap from the piece's start, the last one
    shorter when the piece is not a whole number of gaps. For the default Impact policy
    (2 h in 18:00-02:00, 4 h otherwise): 00:00-02:00, 02:00-06:00, 06:00-10:00, 10:00-14:00,
    14:00-18:00, 18:00-20:00, 20:00-22:00, 22:00-24:00. The split is in elapsed time, since the
    policy is about elapsed time: on the autumn change day 00:00-02:00 lasts three hours and
    holds two windows (2 h and 1 h); on the spring change day it lasts one hour.

Fidelity (:func:`fidelity`)
    A window is *met* when a qualifying visit took place during it: the visit's ``[start, end]``
    overlaps the window ``[start, end)`` by more than an instant. So a long stand meets every
    window it spans, and a visit that straddles a window boundary meets both windows. A window
    is *due* once it has ended, or earlier as soon as it is met, or, not met, while the area is
    *uncovered*: an area past its limit has missed the window it is in, so fidelity never reads
    100 % while the area is uncovered. A running window is otherwise not counted against the
    area. Fidelity is ``met / due``.

Longest gap (:func:`longest_gap`)
    The longest time without the end of a qualifying visit between the day's start and ``now``
    (or the day's end, if earlier), counting the stretch from the day's start to the first
    visit end and from the last one to ``now``: the same quantity coverage alerts measure, cut
    at the day's edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from streams.domain import timefmt
from streams.domain.coverage import CoveragePolicy, band_at, limit_at
from streams.domain.tracks import Activity, Mode

Window: TypeAlias = tuple[float, float]
"""``(start_ts, end_ts)``: a policy window, start included, end excluded."""
DoseKey: TypeAlias = tuple[str, Mode, Activity]
"""``(role, mode, activity)``: how dose seconds are split."""

SECONDS_PER_MINUTE: Final = 60


@dataclass(frozen=True, slots=True)
class DailyLedger:
    """One area's dosage for one local day, up to the moment it was computed."""

    area_id: str
    day: str
    qualifying_visits: int
    drive_throughs: int
    dose_seconds: Mapping[DoseKey, float]
    longest_gap_s: float
    fidelity_met: int
    fidelity_due: int
    inferred_seconds: float = 0.0
    """The part of ``dose_seconds`` from inferred visits."""
    patrol_seconds: float = 0.0
    """Seconds of the day with at least one officer present (:mod:`streams.domain.patrol`)."""


def local_day(ts: float, timezone: str) -> str:
    """The local calendar day of ``ts`` in the time zone named ``timezone``, as ``YYYY-MM-DD``."""
    return timefmt.local_day(ts, ZoneInfo(timezone))


@lru_cache(maxsize=64)
def day_bounds(day: str, timezone: str) -> tuple[float, float]:
    """The start and end (exclusive) of a local day, in seconds since the epoch.

    Both are local midnights, so DST change days are 23 or 25 hours long.

    ``day`` must have a following day (``datetime`` ends at 9999-12-31). That is checked where
    times enter the service, not here: an input's time, a clock tick and the event clock stored
    in Redis are refused outside 2000-01-01..2100-01-01 (:mod:`streams.domain.validation`,
    :func:`streams.domain.ticks.stored_clock`), so every day the service computes is far inside
    the range. One gate at the boundary keeps the reason on the ``deadletter`` record of the
    input that was absurd; an error type raised here would surface in the clock-driven evaluator,
    long after, with no input to blame, and every caller of the calendar would need to handle it.
    """
    zone = ZoneInfo(timezone)
    first = date.fromisoformat(day)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    following = first + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start.timestamp(), end.timestamp()


@lru_cache(maxsize=1024)
def policy_windows(policy: CoveragePolicy, day: str) -> tuple[Window, ...]:
    """The policy windows of a local day in the policy's time zone (module rules), in order."""
    day_start, day_end = day_bounds(day, policy.timezone)
    windows: list[Window] = []
    for piece_start, piece_end in _band_pieces(policy, day_start, day_end):
        max_gap_s = limit_at(policy, piece_start)
        window_start = piece_start
        while window_start < piece_end:
            window_end = min(window_start + max_gap_s, piece_end)
            windows.append((window_start, window_end))
            window_start = window_end
    return tuple(windows)


def fidelity(
    windows: Iterable[Window],
    qualifying_visits: Iterable[tuple[float, float]],
    now: float,
    monitored_since: float | None = None,
    uncovered: bool = False,
) -> tuple[int, int]:
    """``(met, due)`` windows at ``now`` given the qualifying visits' ``(start, end)`` times.

    A qualifying visit still in progress should be passed with ``end = now``. Windows that ended
    before ``monitored_since`` (the service was not watching the area yet) are not due. While
    the area is ``uncovered``, the window running at ``now`` is due (missed, unless met).
    """
    visits = list(qualifying_visits)
    met = due = 0
    for window_start, window_end in windows:
        if window_start > now or (monitored_since is not None and window_end <= monitored_since):
            continue
        upto = min(window_end, now)
        is_met = any(start < upto and end > window_start for start, end in visits)
        if is_met or window_end <= now or (uncovered and window_start < now):
            due += 1
            met += 1 if is_met else 0
    return met, due


def longest_gap(qualifying_visit_ends: Iterable[float], day_start: float, now: float) -> float:
    """The longest stretch in ``[day_start, now]`` without a qualifying visit end (module rules).

    Visit ends outside ``[day_start, now]`` are ignored.
    """
    ends = sorted(end for end in qualifying_visit_ends if day_start <= end <= now)
    marks = [day_start, *ends, max(now, day_start)]
    return max(later - earlier for earlier, later in pairwise(marks))


def daily_ledger(
    area_id: str,
    day: str,
    policy: CoveragePolicy,
    qualifying_visits: Iterable[tuple[float, float]],
    drive_throughs: int,
    dose_seconds: Mapping[DoseKey, float],
    now: float,
    monitored_since: float | None = None,
    inferred_seconds: float = 0.0,
    patrol_seconds: float = 0.0,
    uncovered: bool = False,
) -> DailyLedger:
    """The ledger of ``day`` at ``now`` from the day's visits and dose.

    ``qualifying_visits`` are the ``(start, end)`` of the qualifying visits that touch the day
    (one in progress with ``end = now``); those ending within the day by ``now`` are counted.
    ``drive_throughs``, ``dose_seconds``, ``inferred_seconds`` (the part of the dose from
    inferred visits) and ``patrol_seconds`` are the day's totals, passed through. Before
    ``monitored_since`` nothing was watched: no window is due and no gap is counted there.
    ``uncovered``: the area is uncovered at ``now`` (the window running then is missed).
    """
    day_start, day_end = day_bounds(day, policy.timezone)
    until = min(now, day_end)
    visits = list(qualifying_visits)
    ends = [end for _, end in visits if day_start <= end <= until]
    running_uncovered = uncovered and until == now  # a day already over has no running window
    met, due = fidelity(
        policy_windows(policy, day), visits, until, monitored_since, running_uncovered
    )
    watched_from = day_start if monitored_since is None else max(day_start, monitored_since)
    return DailyLedger(
        area_id=area_id,
        day=day,
        qualifying_visits=len(ends),
        drive_throughs=drive_throughs,
        dose_seconds=dict(dose_seconds),
        longest_gap_s=longest_gap(ends, min(watched_from, until), until),
        fidelity_met=met,
        fidelity_due=due,
        inferred_seconds=inferred_seconds,
        patrol_seconds=patrol_seconds,
    )


def ledger_value(ledger: DailyLedger) -> dict[str, object]:
    """The ledger as a JSON-safe object of numbers, strings, null and objects (no arrays).

    It fits a state group of ``area.snapshots`` (e.g. ``coverage.ledger``). Dose is given in
    total, by role, by mode, by activity, by evidence (``observed``, ``inferred``: from
    inferred visits; the total and other splits include both) and split
    ``role -> mode -> activity``; patrol seconds (time with at least one officer present)
    beside it.
    """
    by_role: dict[str, float] = {}
    by_mode: dict[str, float] = {}
    by_activity: dict[str, float] = {}
    split: dict[str, dict[str, dict[str, float]]] = {}
    for (role, mode, activity), seconds in sorted(ledger.dose_seconds.items()):
        by_role[role] = by_role.get(role, 0.0) + seconds
        by_mode[mode] = by_mode.get(mode, 0.0) + seconds
        by_activity[activity] = by_activity.get(activity, 0.0) + seconds
        split.setdefault(role, {}).setdefault(mode, {})[activity] = seconds
    due = ledger.fidelity_due
    total = sum(ledger.dose_seconds.values(), 0.0)
    return {
        "day": ledger.day,
        "qualifying_visits": ledger.qualifying_visits,
        "drive_throughs": ledger.drive_throughs,
        "dose_seconds": {
            "total": total,
            "by_role": by_role,
            "by_mode": by_mode,
            "by_activity": by_activity,
            "by_evidence": {
                "observed": total - ledger.inferred_seconds,
                "inferred": ledger.inferred_seconds,
            },
            "split": split,
        },
        "patrol_seconds": round(ledger.patrol_seconds, 3),
        "longest_gap_s": ledger.longest_gap_s,
        "fidelity": {
            "met": ledger.fidelity_met,
            "due": due,
            "share": None if due == 0 else ledger.fidelity_met / due,
        },
    }


def _band_pieces(policy: CoveragePolicy, day_start: float, day_end: float) -> list[Window]:
    """``[day_start, day_end)`` cut where the band in force changes.

    Bands change only at whole local minutes, and local time zone offsets are whole minutes, so
    stepping through the day minute by minute from its (local midnight) start finds every cut,
    across DST jumps too.
    """
    pieces: list[Window] = []
    piece_start = day_start
    piece_band = band_at(policy, day_start)
    minute = day_start + SECONDS_PER_MINUTE
    while minute < day_end:
        band = band_at(policy, minute)
        if band != piece_band:
            pieces.append((piece_start, minute))
            piece_start, piece_band = minute, band
        minute += SECONDS_PER_MINUTE
    pieces.append((piece_start, day_end))
    return pieces
