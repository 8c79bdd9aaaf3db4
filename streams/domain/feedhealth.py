"""How much of the location feed is there at an instant: radios on duty, radios reporting, and
how far the service's own ingest is behind.

Coverage is judged at instants of event time (:mod:`streams.domain.judging`), after every pings
partition has passed the instant by the hold. By then the radios' latest fixes have moved on, so
"which radios reported before ``t``" is read from what was kept of each minute, not from the
radios' latest fixes. Everything here is a function of the input records:

- **Reporting minutes.** The presence agent keeps, per ``airwave.pings`` partition and minute of
  event time, the set of radios (on the roster) with an accepted fix in that minute (``SADD``:
  idempotent under replays). A radio *reported* at ``t`` when it has a fix in one of the whole
  minutes of the ``window_s`` (``max_gap``) before ``t`` (:func:`reporting_minutes`): on the
  event clock instants are whole minutes and the window a whole number of minutes, so that is
  exactly a fix in ``[t - window_s, t)``.
- **On duty at t.** A radio is on duty at ``t`` when its roster version valid at ``t`` (the
  version the presence join takes: :func:`~streams.domain.joins.version_at`) says ``on_duty``
  (:class:`DutyRoster`). The share is counted among those radios only: a radio that reported but
  was off duty at ``t`` does not count, one on duty at ``t`` and silent counts as missing.
- **Ingest lag** (:func:`ingest_lag_s`): how far the slowest pings partition's event time is
  behind the clock. It never changes a judged state (instants wait for the slowest partition);
  it makes the views served old, which the API and the page say with reason ``ingest_lag``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from streams.domain.joins import RosterVersion, version_at

MINUTE_S: Final = 60
DEFAULT_INGEST_LAG_BOUND_S: Final = 300.0
"""Default bound on the ingest lag before areas are shown with reason ``ingest_lag``."""


def reporting_minute(ts: float) -> int:
    """The minute (whole minutes since the epoch) a fix at ``ts`` is kept under."""
    return math.floor(ts / MINUTE_S)


def reporting_minutes(at: float, window_s: float) -> range:
    """The minutes whose reports count at ``at``: every whole minute lying in
    ``[at - window_s, at)``."""
    return range(math.ceil((at - window_s) / MINUTE_S), math.floor(at / MINUTE_S))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How many radios were on duty at an instant and how many of them reported (None: not
    measured, e.g. while a pings partition has not been read at all)."""

    on_duty: int
    reporting: int | None

    @property
    def share(self) -> float | None:
        """The share of the radios on duty that reported (None: nobody on duty, or not
        measured)."""
        if self.on_duty <= 0 or self.reporting is None:
            return None
        return self.reporting / self.on_duty


class DutyRoster:
    """Who is on duty at any time, from every radio's roster versions (each sorted by
    ``since``). Radios with one version (most) are on or off duty at every time; only the
    others are looked up per instant."""

    __slots__ = ("_always", "_changing")

    def __init__(self, versions: Mapping[str, Sequence[RosterVersion]]) -> None:
        self._always: frozenset[str] = frozenset(
            issi
            for issi, kept in versions.items()
            if len(kept) == 1 and bool(kept[0].entry.get("on_duty"))
        )
        self._changing: dict[str, Sequence[RosterVersion]] = {
            issi: kept for issi, kept in versions.items() if len(kept) > 1
        }

    def on_duty_at(self, ts: float) -> frozenset[str]:
        """The radios whose roster version valid at ``ts`` says on duty."""
        changing = {
            issi
            for issi, kept in self._changing.items()
            if (version := version_at(kept, ts)) is not None and version.entry.get("on_duty")
        }
        return self._always | changing if changing else self._always


def feed_health_at(
    duty: DutyRoster,
    reported: Mapping[int, Iterable[str]],
    at: float,
    window_s: float,
    observed_from: float | None = None,
) -> FeedHealth:
    """The radios on duty at ``at`` and how many of them reported in the window before it
    (``reported``: minute -> radios with a fix in it, :func:`reporting_minute`).

    A window that begins before the minute reports were first observed in (``observed_from``:
    when monitoring began, the first record of the feed; None: no bound) is not measured: its
    silence says nothing about the radios, and whether a judge saw it as silent would depend on
    when it ran."""
    on_duty = duty.on_duty_at(at)
    window = reporting_minutes(at, window_s)
    if observed_from is not None and (not window or window[0] < reporting_minute(observed_from)):
        return FeedHealth(len(on_duty), None)
    seen: set[str] = set()
    for minute in window:
        seen.update(reported.get(minute, ()))
    return FeedHealth(len(on_duty), len(seen & on_duty) if seen else 0)


def ingest_lag_s(clock_now: float | None, progress: Sequence[float | None]) -> float | None:
    """How far the slowest ``airwave.pings`` partition's event time is behind the clock, never
    below zero (None: no clock, or no partition with data)."""
    known = [value for value in progress if value is not None]
    if clock_now is None or not known:
        return None
    return max(0.0, clock_now - min(known))


def ingest_lagging(lag_s: float | None, bound_s: float) -> bool:
    """Whether the ingest is behind by more than ``bound_s``."""
    return lag_s is not None and lag_s > bound_s
