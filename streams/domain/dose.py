"""Dose accounting: dose segments into UTC minute buckets for the rolling windows.

A bucket key is ``(area_id, minute, role, mode, activity, unit, inferred)`` where ``minute`` is
``int(ts // 60)``, the UTC minute since the epoch. Buckets hold officer-seconds; corrections
(negative :class:`~streams.domain.tracks.DoseAccrued`) subtract from the same buckets.

Dose is kept by split in two forms, each with its own functions:

- the rolling windows and totals in Redis (window fields, dose totals):
  ``role|mode|activity|unit``, then ``|inferred`` for the dose of inferred visits
  (:mod:`streams.domain.tracks.crossings`), which is so kept apart (:func:`dose_split`,
  :func:`parse_split`); a split stored before units were kept (``role|mode|activity``) reads as
  the unknown unit, observed;
- the day's visit summaries (:mod:`streams.domain.dayvisits`): ``role|mode|activity``, then
  ``|inferred`` for an inferred visit, no unit (:func:`visit_split`, :func:`parse_visit_split`).

Roles, modes and activities hold no ``|``; a unit is roster text and may: it is everything
after the activity, up to a final ``|inferred``.

Rolling windows (15 min, 1 h, 8 h, 24 h) follow :mod:`streams.domain.windows`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, TypeAlias

from streams.domain.tracks import UNKNOWN_UNIT, Activity, DoseAccrued, Mode
from streams.domain.windows import SECONDS_PER_MINUTE, minute_of

AreaBucketKey: TypeAlias = tuple[str, int, str, Mode, Activity, str, bool]
"""(area_id, minute, role, mode, activity, unit, inferred): the area, minute and split."""


INFERRED: Final = "inferred"
"""The last part of the split of inferred dose."""
_INFERRED_SUFFIX: Final = "|" + INFERRED


def dose_split(role: str, mode: str, activity: str, unit: str, inferred: bool) -> str:
    """The split window dose is kept under: ``role|mode|activity|unit``, then ``|inferred`` if
    inferred."""
    split = f"{role}|{mode}|{activity}|{unit}"
    return split + _INFERRED_SUFFIX if inferred else split


def parse_split(split: str) -> tuple[str, str, str, str, bool]:
    """``(role, mode, activity, unit, inferred)`` of a split made by :func:`dose_split`; one
    stored before units were kept (``role|mode|activity``) has the unknown unit and is
    observed."""
    role, mode, activity, *rest = split.split("|", 3)
    if not rest:
        return role, mode, activity, UNKNOWN_UNIT, False
    unit = rest[0]
    if unit.endswith(_INFERRED_SUFFIX):
        return role, mode, activity, unit[: -len(_INFERRED_SUFFIX)], True
    return role, mode, activity, unit, False


def visit_split(role: str, mode: str, activity: str, inferred: bool) -> str:
    """The split a day's visit summary keeps a visit's seconds under: ``role|mode|activity``,
    then ``|inferred`` if the visit is inferred (no unit)."""
    split = f"{role}|{mode}|{activity}"
    return split + _INFERRED_SUFFIX if inferred else split


def parse_visit_split(split: str) -> tuple[str, str, str, bool]:
    """``(role, mode, activity, inferred)`` of a split made by :func:`visit_split`."""
    role, mode, activity, *rest = split.split("|")
    return role, mode, activity, rest == [INFERRED]


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
    area_id, role, mode, activity, unit, inferred = (
        dose.area_id,
        dose.role,
        dose.mode,
        dose.activity,
        dose.unit,
        dose.inferred,
    )
    duration = dose.end - dose.start
    if first == last or duration <= 0:
        return {(area_id, first, role, mode, activity, unit, inferred): dose.seconds}
    per_second = dose.seconds / duration
    buckets: dict[AreaBucketKey, float] = {}
    for minute in range(first, last + 1):
        lower = max(dose.start, minute * SECONDS_PER_MINUTE)
        upper = min(dose.end, (minute + 1) * SECONDS_PER_MINUTE)
        if upper > lower:
            key = (area_id, minute, role, mode, activity, unit, inferred)
            buckets[key] = (upper - lower) * per_second
    return buckets
