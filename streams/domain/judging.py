"""When coverage is judged on the event clock, and what it is judged with.

Coverage on the event clock must be a function of the input records, not of when the evaluator
happened to run. So it is judged at fixed **instants** of event time (every
:data:`JUDGING_STEP_S`, on the minute: the policies' bands begin on whole minutes), each one
once every input partition has passed it by the **hold** (given by the caller: the allowed
lateness plus the longest gap attributed to a visit, so the visits up to it are final), in
order, each instant from the status the one before left. An evaluator that runs late, or after
another worker, judges the instants it has not judged yet, one after another; alert events
carry the instant as their ``ts``.

Everything here is pure; time comes in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from streams.domain.progress import UNREAD

JUDGING_STEP_S: Final = 60.0
"""Seconds of event time between two judged instants (instants are whole multiples of it)."""
MAX_INSTANTS_PER_EVALUATION: Final = 120
"""At most this many instants are judged by one evaluation: a backlog is caught up over several
evaluations, with the agents running in between."""


def coverage_watermark(clock_now: float | None, progress: Sequence[float | None]) -> float | None:
    """The event time every ``airwave.pings`` partition has passed: the slowest partition's
    progress (each partition's fixes and in-band heartbeats), never past the clock.

    Presence is what shows an area covered, so coverage waits for every partition of it to pass
    a time before judging that time, however far ticks or other partitions have got: a gap is not
    judged while the visit that closes it may sit unread in a slower partition. Partitions with no
    data yet are left out; with none at all, the clock itself. None (nothing can be judged yet)
    while a partition holds records none of which has been read (``UNREAD``, see
    :mod:`streams.domain.progress`): after a rebuild, the partitions read first are not judged
    alone.
    """
    known = [value for value in progress if value is not None]
    if not known:
        return clock_now
    low = min(known)
    if low == UNREAD:
        return None
    return low if clock_now is None else min(low, clock_now)


def monitoring_start(began: Sequence[float | None]) -> float | None:
    """When monitoring began on the event clock: the earliest first record of any ``airwave.pings``
    partition (a function of the data, not of when the first evaluation ran); None before any."""
    known = [value for value in began if value is not None]
    return min(known) if known else None


def judging_instants(
    judged_through: float | None,
    began: float,
    watermark: float,
    hold_s: float,
    step_s: float = JUDGING_STEP_S,
    limit: int = MAX_INSTANTS_PER_EVALUATION,
) -> list[float]:
    """The instants to judge now, oldest first: every multiple of ``step_s`` after
    ``judged_through`` (from the first at or after ``began``, when nothing was judged yet) and
    at or before ``watermark - hold_s``; at most ``limit`` of them."""
    if judged_through is None:
        first = math.ceil(began / step_s) * step_s
    else:
        first = (math.floor(judged_through / step_s) + 1) * step_s
    last = math.floor((watermark - hold_s) / step_s) * step_s
    count = min(limit, round((last - first) / step_s) + 1)
    return [first + index * step_s for index in range(max(count, 0))]


@dataclass(frozen=True, slots=True)
class VisitHistory:
    """An area's visits around the instants judged from some ``since`` on: the ``(start, end)``
    of the qualifying visit that ended latest at or before ``since`` (None: none kept; its start
    -inf when no longer kept), and the ``(start, end)`` of every visit, qualifying or not, that
    ended at or after ``since`` (an open visit ends at its latest fix). A visit's end is its
    start plus its seconds."""

    ended_by_since: tuple[float, float] | None
    visits: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class QualifyingVisit:
    """The latest qualifying visit as it stood at an instant: when it began, when it ended (the
    instant itself while it was still going on), and whether it was."""

    start: float
    end: float
    ongoing: bool


def last_qualifying_visit_at(
    history: VisitHistory, at: float, qualifying_s: float
) -> QualifyingVisit | None:
    """The latest qualifying visit as it stood at ``at`` (at or after the history's ``since``):
    a visit that had ended by ``at`` counts with its end if it had lasted ``qualifying_s``; one
    still going on at ``at`` that had already lasted ``qualifying_s`` counts as ending at ``at``
    (the area is being covered); a later one does not count. Of visits ending at the same time,
    the one that began first (the longest)."""
    latest = None
    if history.ended_by_since is not None:
        start, end = history.ended_by_since
        latest = QualifyingVisit(start, end, False)
    for start, end in history.visits:
        until = min(end, at)
        if start + qualifying_s > until:
            continue
        if latest is None or (until, -start) > (latest.end, -latest.start):
            latest = QualifyingVisit(start, until, end > at)
    return latest


def last_qualifying_end_at(history: VisitHistory, at: float, qualifying_s: float) -> float | None:
    """The end of :func:`last_qualifying_visit_at` (None: none)."""
    visit = last_qualifying_visit_at(history, at, qualifying_s)
    return None if visit is None else visit.end


def present_at(history: VisitHistory | None, at: float) -> int:
    """How many officers were in the area at ``at`` (at or after the history's ``since``): the
    visits going on then (a radio has one visit at a time in an area)."""
    if history is None:
        return 0
    return sum(1 for start, end in history.visits if start <= at <= end)


def present_since(history: VisitHistory | None, at: float) -> float | None:
    """When the longest of the visits going on at ``at`` began (None: nobody present)."""
    if history is None:
        return None
    return min((start for start, end in history.visits if start <= at <= end), default=None)


def visits_alike(history: VisitHistory, before: float, after: float) -> bool:
    """Whether an area's visits say the same at ``after`` as at ``before`` (``before`` <=
    ``after``): who is present, since when, and the latest qualifying visit
    (:func:`present_at`, :func:`present_since`, :func:`last_qualifying_visit_at`). True only when
    no visit begins, qualifies or ends from ``before`` to ``after`` (both included) and none is
    going on at either: then each of those is the same; False may also be said of visits that
    happen to say the same."""
    return not any(start <= after and end >= before for start, end in history.visits)
