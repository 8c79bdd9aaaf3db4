"""The one clock of the service: every rolling window, validation and the coverage evaluator ask it.

``wall`` (production) is the system clock. ``event`` (replays, simulations) follows the data: its
now is the event-time watermark, the latest time seen on ``clock.ticks`` or in accepted input,
so a recorded day replays with the same visits, dose and alerts at any speed. Input and ticks
can move an event clock forward only within the jump limit and the accepted dates (validation
enforces it: :mod:`streams.domain.ticks`); on a fresh event clock only the dates apply.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What time it is for the service, in seconds since the Unix epoch (UTC)."""

    def now(self) -> float | None:
        """The current time, or None while an event clock has seen nothing yet."""

    def observe(self, event_ts: float) -> None:
        """An accepted event or a tick carried this time."""

    def settle_time(self) -> float | None:
        """How far event-time state may be settled (fixes older than this minus the lateness
        become final): never past the data a lagging consumer has yet to read."""


class WallClock:
    """Production clock: the system's wall clock.

    Observed event times do not move ``now``, but they bound :meth:`settle_time`: after the
    latest observed event, settle time runs on with the wall clock from the moment it was seen,
    so a worker replaying a backlog settles at the pace of the backlog, not of the wall clock.
    """

    def __init__(self) -> None:
        self._latest_event: float | None = None
        self._seen_at = 0.0

    def now(self) -> float:
        """The wall clock."""
        return time.time()

    def observe(self, event_ts: float) -> None:
        """Remember the latest event time and when it was seen."""
        if self._latest_event is None or event_ts > self._latest_event:
            self._latest_event = event_ts
        self._seen_at = time.time()

    def settle_time(self) -> float:
        """The latest event time plus the wall time since it was seen, capped at now."""
        wall = time.time()
        if self._latest_event is None:
            return wall
        return min(wall, self._latest_event + (wall - self._seen_at))


class EventClock:
    """Replay and simulation clock: the highest event time observed so far (the watermark)."""

    def __init__(self, watermark: float | None = None) -> None:
        self._watermark = watermark

    def now(self) -> float | None:
        """The watermark, or None before the first event."""
        return self._watermark

    def observe(self, event_ts: float) -> None:
        """Move the watermark forward to ``event_ts`` if it is later."""
        if self._watermark is None or event_ts > self._watermark:
            self._watermark = event_ts

    def settle_time(self) -> float | None:
        """The watermark."""
        return self._watermark
