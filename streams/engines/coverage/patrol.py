"""Patrol-minutes on the coverage leader: every area's patrol seconds per minute, kept in memory
and read again from Redis only for the minutes whose steps changed since the last read.

A minute's patrol seconds need its steps from every ``airwave.pings`` partition together (two
officers of different partitions may be present at the same time), so they cannot be summed
where the steps are written; each partition counts the writes to each minute
(``patrol:touched``) and the leader reads again the minutes whose count moved. A new leader
starts empty and reads every minute kept once. What it shows is a function of the stored steps
only (:mod:`streams.domain.patrol`), whichever worker leads.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.domain.patrol import patrol_by_minute, patrol_figures
from streams.domain.windows import minute_of
from streams.state import State
from streams.state.presence import PATROL_KEPT_S

FORGET_EVERY_MINUTES = 60
"""How often (in minutes of data) the leader takes old minutes out of the touched counts."""


class PatrolMinutes:
    """The patrol seconds of every minute kept (minute -> area -> seconds) and the write counts
    they were read at."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}
        self.by_minute: dict[int, dict[str, float]] = {}
        self._forgot: int | None = None

    async def refresh(self, state: State, partitions: int, now: float) -> None:
        """Read again the minutes written since the last refresh; forget those too old."""
        kept_from = minute_of(now - PATROL_KEPT_S)
        touched = await state.patrol_touched(partitions)
        counts = {
            (partition, minute): count
            for partition, by_minute in enumerate(touched)
            for minute, count in by_minute.items()
            if minute >= kept_from
        }
        changed = sorted({key[1] for key, count in counts.items() if self.counts.get(key) != count})
        steps = await state.patrol_steps(partitions, changed)
        for minute in changed:
            self.by_minute.pop(minute, None)
        for (area_id, minute), seconds in patrol_by_minute(steps).items():
            self.by_minute.setdefault(minute, {})[area_id] = seconds
        for minute in [minute for minute in self.by_minute if minute < kept_from]:
            del self.by_minute[minute]
        self.counts = counts
        if self._forgot is None or kept_from - self._forgot >= FORGET_EVERY_MINUTES:
            await state.forget_patrol_minutes(partitions, kept_from)
            self._forgot = kept_from

    def figures(
        self, now: float, windows: Iterable[int], day: tuple[float, float]
    ) -> tuple[dict[str, dict[int, float]], dict[str, float]]:
        """Every area's patrol seconds per rolling window and in ``day``
        (:func:`~streams.domain.patrol.patrol_figures`)."""
        return patrol_figures(self.by_minute, now, windows, day)
