"""Patrol-minutes: per area, the time with at least one officer present, not double counted.

Officer-minutes (dose) add every officer's presence: two officers together for 10 minutes give
20 officer-minutes. Patrol-minutes count the time the area had anyone: the same 10 minutes give
10 patrol-minutes (the GPS dosage trials report both).

How it is kept exact and a function of the input (the count timeline)
    Every :class:`~streams.domain.tracks.DoseAccrued` segment ``[start, end]`` is one radio
    present in one area over that time. Let ``c(t)`` be the number of standing segments that
    contain ``t``: the number of officers present at ``t``. Patrol time is the measure of
    ``{t : c(t) > 0}``. ``c`` is a *sum* over segments, so it can be kept as signed steps
    (``+1`` at a segment's start, ``-1`` at its end) that are simply added:

    - a correction (a negative dose, :func:`~streams.domain.tracks.replay.advance` takes back
      a segment with the same start and end) adds the opposite steps and cancels the segment;
    - steps from any number of batches, partitions or replays, in any order, add to the same
      map; only the measure of ``c > 0`` is not additive, and it is taken when read.

    Steps are kept per UTC minute (the minute of :mod:`streams.domain.windows`): a segment is
    cut at minute boundaries and each piece steps up and down inside its own minute, so a
    minute's patrol seconds depend on that minute's steps only (no carry from earlier minutes),
    and a rolling window is the sum of its minutes' patrol seconds, by the one window rule.
    Times are whole milliseconds (inputs are given to the millisecond), so the end step of one
    segment and the start step of the radio's next one fall on the same offset and cancel: a
    radio present all minute leaves two steps in it (``+1`` at 0, ``-1`` at 60,000).

A stuck radio (issue 22) credits no dose, so it adds no step either: patrol time counts only
presence that counts as dose. The dose of an inferred visit
(:mod:`~streams.domain.tracks.crossings`) is such presence, over the part of the straight line
inside the area, and adds its steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, TypeAlias

from streams.domain.tracks import DoseAccrued
from streams.domain.windows import SECONDS_PER_MINUTE, in_window, minute_of

MS_PER_MINUTE: Final = SECONDS_PER_MINUTE * 1000

Steps: TypeAlias = dict[int, int]
"""Offset in the minute (ms, 0..60,000) -> change in the number of officers present there."""
MinuteKey: TypeAlias = tuple[str, int]
"""(area_id, minute)."""


def presence_steps(dose: DoseAccrued) -> dict[MinuteKey, Steps]:
    """The steps of one dose segment, per minute it spans: ``+1`` where each piece starts and
    ``-1`` where it ends (the other way round for a correction, negative dose). A zero-length
    segment, or one of zero seconds, has none."""
    if dose.seconds == 0:
        return {}
    sign = 1 if dose.seconds > 0 else -1
    start_ms = round(dose.start * 1000)
    end_ms = round(dose.end * 1000)
    if end_ms <= start_ms:
        return {}
    steps: dict[MinuteKey, Steps] = {}
    first, last = minute_of(dose.start), minute_of(dose.end)
    for minute in range(first, last + 1):
        base = minute * MS_PER_MINUTE
        lower = max(start_ms, base) - base
        upper = min(end_ms, base + MS_PER_MINUTE) - base
        if upper > lower:
            steps[(dose.area_id, minute)] = {lower: sign, upper: -sign}
    return steps


def add_steps(into: dict[MinuteKey, Steps], more: Mapping[MinuteKey, Mapping[int, int]]) -> None:
    """Add ``more`` into ``into``, dropping offsets (and minutes) whose steps cancel out."""
    for key, steps in more.items():
        merged = into.setdefault(key, {})
        for offset, delta in steps.items():
            total = merged.get(offset, 0) + delta
            if total:
                merged[offset] = total
            else:
                merged.pop(offset, None)
        if not merged:
            del into[key]


def steps_of(doses: Iterable[DoseAccrued]) -> dict[MinuteKey, Steps]:
    """The summed steps of dose segments (in any order: the sum does not depend on it)."""
    steps: dict[MinuteKey, Steps] = {}
    for dose in doses:
        add_steps(steps, presence_steps(dose))
    return steps


def patrol_seconds(steps: Mapping[int, int]) -> float:
    """Seconds of one minute with at least one officer present, from the minute's steps (every
    piece steps down inside its minute, so the steps of a minute always return to zero)."""
    present = 0
    since = 0
    covered_ms = 0
    for offset in sorted(steps):
        now_present = present + steps[offset]
        if present <= 0 < now_present:
            since = offset
        elif now_present <= 0 < present:
            covered_ms += offset - since
        present = now_present
    return covered_ms / 1000.0


def patrol_by_minute(steps: Mapping[MinuteKey, Mapping[int, int]]) -> dict[MinuteKey, float]:
    """Patrol seconds of every (area, minute) with steps (minutes that come to none left out)."""
    found = {key: patrol_seconds(minute_steps) for key, minute_steps in steps.items()}
    return {key: seconds for key, seconds in found.items() if seconds}


def patrol_window_seconds(
    by_minute: Mapping[MinuteKey, float], area_id: str, now: float, window_s: float
) -> float:
    """Patrol seconds of ``area_id`` in the rolling window of ``window_s`` at ``now``: the sum of
    its minutes inside the window (:func:`~streams.domain.windows.in_window`)."""
    return sum(
        seconds
        for (area, minute), seconds in by_minute.items()
        if area == area_id and in_window(minute, now, window_s)
    )


def patrol_figures(
    by_minute: Mapping[int, Mapping[str, float]],
    now: float,
    windows: Iterable[int],
    day: tuple[float, float],
) -> tuple[dict[str, dict[int, float]], dict[str, float]]:
    """Every area's patrol seconds in each rolling window at ``now`` (area -> window seconds ->
    seconds) and in the local ``day`` (``(start, end)``), from the patrol seconds of each minute
    (minute -> area -> seconds). The window rule is :func:`~streams.domain.windows.in_window`'s,
    and a minute ahead of ``now`` counts at once, as in the dose windows Redis keeps
    (``win_expire``): the pings are ahead of the clock coverage is judged on."""
    by_window: dict[str, dict[int, float]] = {}
    today: dict[str, float] = {}
    window_list = list(windows)
    day_start, day_end = day
    for minute, areas in by_minute.items():
        minute_start = minute * SECONDS_PER_MINUTE
        inside = [window for window in window_list if now - window < minute_start]
        in_day = day_start <= minute_start < day_end
        if not inside and not in_day:
            continue
        for area_id, seconds in areas.items():
            if inside:
                sums = by_window.setdefault(area_id, {})
                for window in inside:
                    sums[window] = sums.get(window, 0.0) + seconds
            if in_day:
                today[area_id] = today.get(area_id, 0.0) + seconds
    return by_window, today
