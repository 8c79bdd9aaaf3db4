"""The last hours replayed: what the areas' coverage states and the officers' positions were at a
past instant, for the live page's time control.

**States** come from the day's coverage state changes (each ``{"area_id", "state", "ts"}``, the
instant judged): an area's state at ``at`` is that of its latest change at or before ``at``;
with no change kept by then, its current state if that had begun by ``at``; else it was not
judged then, as far as is kept.

**Positions** come from the **trail**: per radio and minute of event time, its last accepted fix
in that minute (position, role, mode, time), as :class:`TrailPoint`. A radio's position at
``at`` is its latest point at or before ``at``, when not older than ``seen_s``. Within a minute
the fix kept is the last read (a radio's fixes are read in the order of its partition, whatever
the batch sizes), so the trail is a function of the input records.

Everything here is pure; time comes in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

TRAIL_STEP_S: Final = 60
"""Seconds of event time per trail step: one point per radio per minute."""
TRAIL_MARGIN_S: Final = 600
"""A trail minute is kept the replay's hours and this long after its last write."""
REPLAY_SEEN_S: Final = 5 * 60.0
"""A radio is shown at a replayed instant when it had a fix in this long before it."""


@dataclass(frozen=True, slots=True)
class TrailPoint:
    """A radio's last accepted fix in one minute (time to the millisecond, position to five
    decimals: about a metre)."""

    ts: float
    lat: float
    lon: float
    role: str
    mode: str

    def encoded(self) -> str:
        """The point as stored in its minute's hash: ``ms into the minute,lat,lon,role,mode``
        (about 110 bytes a point in Redis)."""
        into = round((self.ts - trail_minute(self.ts) * TRAIL_STEP_S) * 1000)
        return f"{into},{self.lat:.5f},{self.lon:.5f},{self.role},{self.mode}"


def trail_point(ts: float, lat: float, lon: float, role: str, mode: str) -> TrailPoint:
    """The point of a fix, as it reads back from the trail (rounded as stored)."""
    minute = trail_minute(ts)
    into = round((ts - minute * TRAIL_STEP_S) * 1000)
    return TrailPoint(minute * TRAIL_STEP_S + into / 1000, round(lat, 5), round(lon, 5), role, mode)


def trail_kept_s(replay_hours: int) -> int:
    """How long a trail minute is kept after its last write, for a time control that goes back
    ``replay_hours`` hours."""
    return replay_hours * 3600 + TRAIL_MARGIN_S


def trail_minute(ts: float) -> int:
    """The trail step (whole minutes since the epoch) a fix at ``ts`` belongs to."""
    return math.floor(ts / TRAIL_STEP_S)


def decode_point(minute: int, stored: str) -> TrailPoint | None:
    """A point of the trail step ``minute`` stored by :meth:`TrailPoint.encoded` (None: not
    one)."""
    parts = stored.split(",")
    if len(parts) != 5:
        return None
    try:
        into, lat, lon = int(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        return None
    return TrailPoint(minute * TRAIL_STEP_S + into / 1000, lat, lon, parts[3], parts[4])


def trail_minutes(at: float, seen_s: float = REPLAY_SEEN_S) -> list[int]:
    """The trail steps that can hold a radio's position at ``at``, oldest first."""
    return list(range(trail_minute(at - seen_s), trail_minute(at) + 1))


def positions_at(
    trail: Iterable[tuple[int, Mapping[str, str]]], at: float, seen_s: float = REPLAY_SEEN_S
) -> dict[str, TrailPoint]:
    """Each radio's latest point at or before ``at`` and not older than ``seen_s``, from the
    trail steps of :func:`trail_minutes` ((minute, radio -> stored point) per step's hash)."""
    found: dict[str, TrailPoint] = {}
    for minute, step in trail:
        for radio, stored in step.items():
            point = decode_point(minute, stored)
            if point is None or not at - seen_s <= point.ts <= at:
                continue
            known = found.get(radio)
            if known is None or point.ts > known.ts:
                found[radio] = point
    return found


def states_at(
    changes: Iterable[Mapping[str, object]],
    at: float,
    current: Mapping[str, tuple[str, float]] | None = None,
) -> dict[str, str]:
    """Each area's coverage state at ``at``: that of its latest change at or before ``at``
    (changes in any order, those kept: the day of ``at`` and the day before); else its
    ``current`` state (area -> state and since when) if it began by ``at``; else the area is
    left out (not judged then, as far as is kept)."""
    latest: dict[str, tuple[float, str]] = {}
    for change in changes:
        area_id, state, ts = change.get("area_id"), change.get("state"), change.get("ts")
        if not isinstance(area_id, str) or not isinstance(state, str) or not isinstance(ts, str):
            continue
        when = datetime.fromisoformat(ts).timestamp()
        if when > at:
            continue
        known = latest.get(area_id)
        if known is None or when >= known[0]:
            latest[area_id] = (when, state)
    for area_id, (state, since) in (current or {}).items():
        if area_id not in latest and since <= at:
            latest[area_id] = (since, state)
    return {area_id: state for area_id, (_, state) in sorted(latest.items())}
