"""Pure interval arithmetic for presence facts: local day and hour-band edges, clipping visit
intervals to them, the union of intervals, the gaps between them, and whether an area-day met
its coverage policy.

Times are seconds since the Unix epoch (float64 arrays). Local days and hour bands come from the
zone's wall clock (zoneinfo through pandas), so a day is 23, 24 or 25 hours long and the band
holding the clock change (``00-04`` in Europe/London) 3 or 5 hours long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.domain.coverage import CoveragePolicy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUR_BANDS: Final = ("00-04", "04-08", "08-12", "12-16", "16-20", "20-24")
"""Local hour bands, in order; each starts at a whole local hour 0, 4, ... 20."""
_BAND_HOURS: Final = 4
SECONDS_PER_MINUTE: Final = 60.0


@dataclass(frozen=True, slots=True)
class BandEdges:
    """The edges of every hour band of the local days ``days`` (in order): ``edges[i]`` to
    ``edges[i + 1]`` is band ``HOUR_BANDS[i % 6]`` of ``days[i // 6]``; the last edge is the end
    of the last day."""

    days: tuple[date, ...]
    edges: FloatArray

    def day_start(self, index: int) -> float:
        """When local day ``days[index]`` begins."""
        return float(self.edges[index * len(HOUR_BANDS)])

    def day_end(self, index: int) -> float:
        """When local day ``days[index]`` ends (the next day's start)."""
        return float(self.edges[(index + 1) * len(HOUR_BANDS)])


def band_edges(first: date, last: date, zone: str) -> BandEdges:
    """The hour-band edges of the local days ``first`` to ``last`` (inclusive) in ``zone``."""
    days = tuple(first + timedelta(days=offset) for offset in range((last - first).days + 1))
    wall = [
        pd.Timestamp(day) + pd.Timedelta(hours=hour)
        for day in (*days, last + timedelta(days=1))
        for hour in range(0, 24, _BAND_HOURS)
    ][: len(days) * len(HOUR_BANDS) + 1]
    local = pd.DatetimeIndex(wall).tz_localize(zone, ambiguous=False, nonexistent="shift_forward")
    seconds = (local - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return BandEdges(days, np.asarray(seconds, dtype=np.float64))


def clip_to_edges(
    starts: FloatArray, ends: FloatArray, edges: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Every interval ``[starts[k], ends[k]]`` cut at ``edges``: for each piece inside
    ``[edges[0], edges[-1]]`` of positive length, the interval's index ``k``, the slot ``i``
    (between ``edges[i]`` and ``edges[i + 1]``), and the piece's start and end. Parts outside
    the edges are dropped; pieces come in interval order, then slot order."""
    starts = np.maximum(np.asarray(starts, np.float64), edges[0])
    ends = np.minimum(np.asarray(ends, np.float64), edges[-1])
    inside = np.flatnonzero(ends > starts)
    first = np.searchsorted(edges, starts[inside], side="right") - 1
    last = np.searchsorted(edges, ends[inside], side="left") - 1
    counts = last - first + 1
    interval = np.repeat(inside, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = np.repeat(first, counts) + offsets
    piece_start = np.maximum(starts[interval], edges[slot])
    piece_end = np.minimum(ends[interval], edges[slot + 1])
    keep = piece_end > piece_start
    return (
        interval[keep].astype(np.int64),
        slot[keep].astype(np.int64),
        piece_start[keep],
        piece_end[keep],
    )


def union_intervals(starts: FloatArray, ends: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The union of intervals as disjoint intervals in time order (touching ones merged)."""
    order = np.argsort(starts, kind="stable")
    starts, ends = np.asarray(starts)[order], np.asarray(ends)[order]
    if starts.size == 0:
        return starts.astype(np.float64), ends.astype(np.float64)
    reach = np.maximum.accumulate(ends)
    begins = np.ones(starts.size, dtype=bool)
    begins[1:] = starts[1:] > reach[:-1]
    group = np.cumsum(begins) - 1
    union_starts = starts[begins]
    union_ends = np.full(union_starts.size, -np.inf)
    np.maximum.at(union_ends, group, reach)
    return union_starts.astype(np.float64), union_ends


def gaps_between(starts: FloatArray, ends: FloatArray) -> FloatArray:
    """The seconds between consecutive disjoint intervals (in time order): one fewer than the
    intervals, none for fewer than two."""
    if len(starts) < 2:
        return np.zeros(0)
    return np.asarray(starts[1:], np.float64) - np.asarray(ends[:-1], np.float64)


def minute_limits(day_start: float, day_end: float, policy: CoveragePolicy) -> FloatArray:
    """The policy's max gap (seconds) at each whole minute from ``day_start`` (a local
    midnight, a whole minute) to before ``day_end``: the band in force at the minute's local
    wall-clock time, else the default (as :func:`streams.domain.coverage.limit_at`)."""
    instants = pd.date_range(
        pd.Timestamp(day_start, unit="s", tz="UTC"),
        pd.Timestamp(day_end, unit="s", tz="UTC"),
        freq="min",
        inclusive="left",
    ).tz_convert(policy.timezone)
    minute_of_day = np.asarray(instants.hour * 60 + instants.minute)
    limits = np.full(minute_of_day.size, policy.default_max_gap_s)
    decided = np.zeros(minute_of_day.size, dtype=bool)
    for band in policy.bands:  # where bands overlap the first listed wins
        if band.start_minute < band.end_minute:
            inside = (minute_of_day >= band.start_minute) & (minute_of_day < band.end_minute)
        elif band.start_minute > band.end_minute:
            inside = (minute_of_day >= band.start_minute) | (minute_of_day < band.end_minute)
        else:
            inside = np.ones(minute_of_day.size, dtype=bool)
        limits[inside & ~decided] = band.max_gap_s
        decided |= inside
    return limits


def met_policy(
    covering_starts: FloatArray,
    covering_ends: FloatArray,
    day_start: float,
    limits: FloatArray,
    gap_began: float,
) -> bool:
    """Whether an area-day met its policy: at every whole minute ``t`` of the day (the instants
    the live service judges coverage at), the time since the area was last covered is below the
    policy's limit at ``t`` (``limits``, one per minute from ``day_start``).

    The area is covered at ``t`` while a qualifying visit is going on (``covering_starts[k] <=
    t <= covering_ends[k]``); otherwise the time since it was last covered is ``t`` minus the
    latest end of a qualifying visit before ``t``, or minus ``gap_began`` when there is none
    (the caller passes the end of the last qualifying visit before the day, or where it stopped
    looking for one)."""
    instants = day_start + SECONDS_PER_MINUTE * np.arange(limits.size)
    order = np.argsort(covering_starts, kind="stable")
    starts = np.asarray(covering_starts, np.float64)[order]
    reach = np.maximum.accumulate(np.asarray(covering_ends, np.float64)[order])
    latest = np.searchsorted(starts, instants, side="right") - 1
    last_covered = np.full(instants.size, gap_began, dtype=np.float64)
    begun = latest >= 0
    last_covered[begun] = np.maximum(np.minimum(reach[latest[begun]], instants[begun]), gap_began)
    return bool(np.all(instants - last_covered < limits))
