"""An in-memory model of demand buckets and windows, to check the service's demand changes.

The service keeps these totals in Redis (``streams.state``); tests apply the same signed changes
here and count by the domain's window rule, so any arrival order can be compared. Open-incident
counts are kept as the service's Lua op ``count_keys`` keeps them (:class:`OpenCounts`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.domain.demand import DAY_S, DEMAND_WINDOWS, BucketChange, DemandKey, Measure
from streams.domain.windows import SECONDS_PER_MINUTE, in_window

WindowKey = tuple[str, int, Measure, str]


@dataclass(frozen=True, slots=True)
class CallsVsCrimes:
    """Calls for service (incidents opened) and recorded crimes in an area over a window."""

    calls: float
    crimes: float
    calls_per_crime: float | None


def apply_changes(
    buckets: Mapping[DemandKey, float], changes: Iterable[BucketChange]
) -> dict[DemandKey, float]:
    """``buckets`` with ``changes`` added (a new dict); buckets that reach zero are dropped."""
    updated = dict(buckets)
    for change in changes:
        total = updated.get(change.key, 0.0) + change.amount
        if total == 0:
            updated.pop(change.key, None)
        else:
            updated[change.key] = total
    return updated


def window_counts(
    buckets: Mapping[DemandKey, float],
    now: float,
    windows: Sequence[int] = DEMAND_WINDOWS,
) -> dict[WindowKey, float]:
    """Totals per (area_id, window, measure, label) at ``now``; windows with nothing are absent."""
    totals: dict[WindowKey, float] = {}
    for (area_id, minute, measure, label), amount in buckets.items():
        for window_s in windows:
            if in_window(minute, now, window_s):
                key = (area_id, window_s, measure, label)
                totals[key] = totals.get(key, 0.0) + amount
    return totals


def drop_expired(
    buckets: Mapping[DemandKey, float], now: float, longest_window_s: float = DAY_S
) -> dict[DemandKey, float]:
    """The buckets still inside (or ahead of) the longest window at ``now``, to bound storage."""
    return {
        key: amount
        for key, amount in buckets.items()
        if key[1] * SECONDS_PER_MINUTE > now - longest_window_s
    }


def calls_vs_crimes(
    buckets: Mapping[DemandKey, float], now: float, window_s: int = DAY_S
) -> dict[str, CallsVsCrimes]:
    """Per area with either: incidents opened and crimes recorded in the window at ``now``.

    ``calls_per_crime`` is None when no crime was recorded in the window.
    """
    calls: dict[str, float] = {}
    crimes: dict[str, float] = {}
    for (area_id, _, measure, _), total in window_counts(buckets, now, (window_s,)).items():
        if measure == "incidents_opened":
            calls[area_id] = calls.get(area_id, 0.0) + total
        elif measure == "crimes":
            crimes[area_id] = crimes.get(area_id, 0.0) + total
    return {
        area_id: CallsVsCrimes(
            calls.get(area_id, 0.0),
            crimes.get(area_id, 0.0),
            calls.get(area_id, 0.0) / crimes[area_id] if crimes.get(area_id) else None,
        )
        for area_id in sorted(calls.keys() | crimes.keys())
    }


@dataclass
class OpenCounts:
    """Open-incident counts kept as the service keeps them: per incident the keys it was last
    counted in, and the counts moved by the difference when they change (zeros dropped)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    keys: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def count(self, incident_id: str, keys: Iterable[tuple[str, str]]) -> None:
        """Count ``incident_id`` in ``keys`` and in no others."""
        after = tuple(sorted(set(keys)))
        self.counts.subtract(self.keys.get(incident_id, ()))
        self.counts.update(after)
        self.counts = Counter({key: n for key, n in self.counts.items() if n != 0})
        self.keys[incident_id] = after
