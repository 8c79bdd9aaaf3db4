"""Dose accounting: dose segments into UTC minute buckets for the rolling windows.

A bucket key is ``(area_id, minute, role, mode, activity, unit)`` where ``minute`` is
``int(ts // 60)``, the UTC minute since the epoch. Buckets hold officer-seconds; corrections
(negative :class:`~streams.domain.tracks.DoseAccrued`) subtract from the same buckets.

Rolling windows (15 min, 1 h, 8 h, 24 h) follow :mod:`streams.domain.windows`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeAlias

from streams.domain.tracks import Activity, DoseAccrued, Mode
from streams.domain.windows import SECONDS_PER_MINUTE, minute_of

AreaBucketKey: TypeAlias = tuple[str, int, str, Mode, Activity, str]
"""(area_id, minute, role, mode, activity, unit)."""


class RollingWindows(IntEnum):
    """The rolling windows reported per area, by length in seconds."""

    MINUTES_15 = 15 * 60
    HOURS_1 = 60 * 60
    HOURS_8 = 8 * 60 * 60
    HOURS_24 = 24 * 60 * 60


def minute_buckets(dose: DoseAccrued) -> dict[AreaBucketKey, float]:
    """Split a dose segment across the UTC minutes it spans, keeping its sign.

    Each minute gets ``seconds`` times the share of ``[start, end]`` inside it, so the buckets
    sum to ``seconds`` (exactly so to well under a millisecond). A zero-length segment goes to the
    minute of its start.
    """
    first = minute_of(dose.start)
    last = minute_of(dose.end)
    area_id, role, mode, activity, unit = (
        dose.area_id,
        dose.role,
        dose.mode,
        dose.activity,
        dose.unit,
    )
    duration = dose.end - dose.start
    if first == last or duration <= 0:
        return {(area_id, first, role, mode, activity, unit): dose.seconds}
    per_second = dose.seconds / duration
    buckets: dict[AreaBucketKey, float] = {}
    for minute in range(first, last + 1):
        lower = max(dose.start, minute * SECONDS_PER_MINUTE)
        upper = min(dose.end, (minute + 1) * SECONDS_PER_MINUTE)
        if upper > lower:
            buckets[(area_id, minute, role, mode, activity, unit)] = (upper - lower) * per_second
    return buckets
