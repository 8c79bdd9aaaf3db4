"""Dose accounting: dose segments into UTC minute buckets, and rolling-window totals.

A bucket key is ``(area_id, minute, role, mode, activity)`` where ``minute`` is
``int(ts // 60)``, the UTC minute since the epoch. Buckets hold officer-seconds; corrections
(negative :class:`~streams.domain.tracks.DoseAccrued`) subtract from the same buckets.

Window rule: at ``now``, the window of length ``w`` holds the whole minutes from the minute
containing ``now - w`` up to the minute containing ``now``, both included; i.e. a bucket belongs
when ``floor((now - w) / 60) <= minute <= floor(now / 60)``. So a window is ``w`` plus at most one
partial minute at its old end; at ``now = 3600`` the 15-minute window holds minutes 45..60.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import TypeAlias, TypeVar

from streams.domain.tracks import Activity, DoseAccrued, Mode

SECONDS_PER_MINUTE = 60

K = TypeVar("K")

AreaBucketKey: TypeAlias = tuple[str, int, str, Mode, Activity]
"""(area_id, minute, role, mode, activity)."""
BucketKey: TypeAlias = tuple[int, str, Mode, Activity]
"""(minute, role, mode, activity): one area's bucket."""
SplitKey: TypeAlias = tuple[str, Mode, Activity]
"""(role, mode, activity): how window totals are split."""


class RollingWindows(IntEnum):
    """The rolling windows reported per area, by length in seconds."""

    MINUTES_15 = 15 * 60
    HOURS_1 = 60 * 60
    HOURS_8 = 8 * 60 * 60
    HOURS_24 = 24 * 60 * 60


def minute_of(ts: float) -> int:
    """The UTC minute since the epoch that contains ``ts``."""
    return int(ts // SECONDS_PER_MINUTE)


def minute_buckets(dose: DoseAccrued) -> dict[AreaBucketKey, float]:
    """Split a dose segment across the UTC minutes it spans, keeping its sign.

    Each minute gets ``seconds`` times the share of ``[start, end]`` inside it, so the buckets
    sum to ``seconds`` (exactly so to well under a millisecond). A zero-length segment goes to the
    minute of its start.
    """
    first = minute_of(dose.start)
    last = minute_of(dose.end)
    area_id, role, mode, activity = dose.area_id, dose.role, dose.mode, dose.activity
    duration = dose.end - dose.start
    if first == last or duration <= 0:
        return {(area_id, first, role, mode, activity): dose.seconds}
    per_second = dose.seconds / duration
    buckets: dict[AreaBucketKey, float] = {}
    for minute in range(first, last + 1):
        lower = max(dose.start, minute * SECONDS_PER_MINUTE)
        upper = min(dose.end, (minute + 1) * SECONDS_PER_MINUTE)
        if upper > lower:
            buckets[(area_id, minute, role, mode, activity)] = (upper - lower) * per_second
    return buckets


def merge_buckets(*parts: Mapping[K, float]) -> dict[K, float]:
    """The key-wise sum of bucket mappings (a new dict; the parts are unchanged)."""
    merged: dict[K, float] = {}
    for part in parts:
        for key, seconds in part.items():
            merged[key] = merged.get(key, 0.0) + seconds
    return merged


def buckets_by_area(
    buckets: Iterable[tuple[AreaBucketKey, float]],
) -> dict[str, dict[BucketKey, float]]:
    """Group ``(area bucket key, seconds)`` pairs per area, summing equal keys."""
    by_area: dict[str, dict[BucketKey, float]] = {}
    for (area_id, minute, role, mode, activity), seconds in buckets:
        area = by_area.setdefault(area_id, {})
        key = (minute, role, mode, activity)
        area[key] = area.get(key, 0.0) + seconds
    return by_area


def window_totals(
    buckets: Mapping[BucketKey, float], now: float
) -> dict[RollingWindows, dict[SplitKey, float]]:
    """Seconds per (role, mode, activity) in each rolling window at ``now`` (module rule)."""
    last_minute = minute_of(now)
    first_minutes = {window: minute_of(now - window) for window in RollingWindows}
    totals: dict[RollingWindows, dict[SplitKey, float]] = {window: {} for window in RollingWindows}
    for (minute, role, mode, activity), seconds in buckets.items():
        if minute > last_minute:
            continue
        split = (role, mode, activity)
        for window, first_minute in first_minutes.items():
            if minute >= first_minute:
                window_total = totals[window]
                window_total[split] = window_total.get(split, 0.0) + seconds
    return totals


def drop_buckets_before(buckets: Mapping[BucketKey, float], minute: int) -> dict[BucketKey, float]:
    """The buckets from ``minute`` on (to bound storage beyond the longest window)."""
    return {key: seconds for key, seconds in buckets.items() if key[0] >= minute}
