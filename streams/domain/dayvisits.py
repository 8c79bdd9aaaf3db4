"""An area's visits of one local day, summarised as they are written: what the daily ledger and
the snapshots need (how many visits, drive-throughs, dose by split, the qualifying visits' spans)
without reading, parsing and holding every visit of the day on every evaluation.

Each published visit value makes a *part* (:func:`visit_part`) of its area's summary of its
local day; a later revision of the visit replaces its part (``streams.state`` keeps the parts
and the summary in Redis and applies the change in its Lua call). The summary is a hash of
fields, one per partition and day, merged over partitions when read (:func:`add_summary_field`):

| field | value |
|---|---|
| ``area|n`` | visits (any status: every visit id seen) |
| ``area|dt`` | drive-throughs among the visits that stand (not retracted) |
| ``area|d|role|mode|activity`` | seconds of the visits that stand (``...|inferred``: inferred) |
| ``area|q|visit_id`` | ``start|end`` of a qualifying visit that stands (end empty while open) |

Area ids, roles, modes and activities hold no ``|`` (area ids are ``[A-Za-z0-9_.:/-]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.domain.dose import visit_split

PART_FIELDS = (
    "area",
    "live",
    "drive_through",
    "role",
    "mode",
    "activity",
    "[inferred]",
    "seconds",
    "qualifying",
    "start",
    "end",
)
"""What a part holds, in order, ``|``-separated; flags are ``1`` or ``0``; ``inferred`` is there
only for an inferred visit (so role to it is the visit's split,
:func:`~streams.domain.dose.visit_split`)."""


def visit_part(value: Mapping[str, Any]) -> str:
    """The part a published visit value makes of its area's day summary (see module)."""
    end = value["end"]
    return "|".join(
        (
            str(value["area_id"]),
            "0" if value["status"] == "retracted" else "1",
            "1" if value["drive_through"] else "0",
            visit_split(
                str(value["role"]),
                str(value["mode"]),
                str(value["activity"]),
                bool(value.get("inferred", False)),
            ),
            repr(float(value["seconds"])),
            "1" if value["qualifying"] else "0",
            str(value["start"]),
            "" if end is None else str(end),
        )
    )


@dataclass(slots=True)
class DayVisits:
    """One area's visits of the days read, summarised (built by merging the partitions'
    summaries with :func:`add_summary_field`, then only read)."""

    visits: int = 0
    drive_throughs: int = 0
    dose_seconds: dict[str, float] = field(default_factory=dict)
    """``"role|mode|activity[|inferred]"`` -> seconds of the visits that stand."""
    qualifying: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """visit id -> (start, end or None while open), as published, of the qualifying visits that
    stand."""

    def qualifying_spans(self, now: float) -> list[tuple[float, float]]:
        """(start, end) of the qualifying visits in time order; one still open ends ``now``."""
        spans = [
            (_epoch(start), now if end is None else _epoch(end))
            for start, end in self.qualifying.values()
        ]
        return sorted(spans)

    def dose(self) -> dict[str, float]:
        """Seconds by ``"role|mode|activity"``, rounded to the milliseconds visits are published
        in (a sum kept by adding and taking out revisions drifts in the last bits), splits
        without any left out."""
        rounded = {split: round(seconds, 3) for split, seconds in self.dose_seconds.items()}
        return {split: seconds for split, seconds in sorted(rounded.items()) if seconds}


def add_summary_field(into: dict[str, DayVisits], name: str, value: str) -> None:
    """Merge one field of a partition's day summary (see module) into the areas' summaries."""
    area_id, kind, *rest = name.split("|", 2)
    summary = into.get(area_id)
    if summary is None:
        summary = into[area_id] = DayVisits()
    if kind == "n":
        summary.visits += int(value)
    elif kind == "dt":
        summary.drive_throughs += int(value)
    elif kind == "d":
        split = rest[0]
        summary.dose_seconds[split] = summary.dose_seconds.get(split, 0.0) + float(value)
    elif kind == "q":
        start, _, end = value.partition("|")
        summary.qualifying[rest[0]] = (start, end or None)


def _epoch(published: str) -> float:
    return datetime.fromisoformat(published).timestamp()
