"""Which areas the coverage evaluator must judge at an instant: those whose inputs changed since
they were last judged, and those the clock alone can change.

An area judged at an instant either *settles* (its last evaluation stands as long as what it was
made from stays as it is: :meth:`AreaWatch.settle`) or stays *pending* (judged again at the next
instant). A settled area is judged again when

- what is read about it on every evaluation changed: whether it has any presence or demand
  state at all, who is present, its latest qualifying visit end, its open incidents, its stored
  status (other than as the evaluator stored it: a store that lost it or went back);
- its visits say something else at this instant than at the last one (a visit began,
  qualified, ended or is going on: :func:`~streams.domain.judging.visits_alike`), or were read
  otherwise;
- the figures were read again (for areas with any state: their facts can differ), the feed's
  state changed, or the area definitions did (every area);
- the clock makes it due (:func:`~streams.domain.scheduling.due_again`): the limit in force
  changed (the policy's band), the event clock reached the time its state or severity can turn
  (:func:`~streams.domain.scheduling.due_at`, kept in a heap), or its wall time to be evaluated
  again came (a second heap).

This is what makes the evaluator's cost follow what changes rather than the number of areas: with
10,000 quiet areas, an instant judges the few that changed or came due. Which areas are judged
does not change any result: an area left out is one whose judging would have kept its last
evaluation (the evaluator's tests compare both). Pure: the times are arguments.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from streams.domain.coverage import CoveragePolicy, CoverageStatus
from streams.domain.judging import VisitHistory, visits_alike
from streams.domain.scheduling import REEVALUATE_AFTER_S, due_at

EVENT_EARLY_S = 1.0
"""A settled area comes up this long (event time) before :func:`due_at`: the judging itself asks
:func:`~streams.domain.scheduling.due_again`, which can differ from it in the last bit."""
WALL_EARLY_S = 0.01
"""The same for its wall-time evaluation (:data:`REEVALUATE_AFTER_S`)."""


@dataclass(frozen=True, slots=True)
class WatchedInputs:
    """What every area is judged with at one instant, as far as it decides which areas can have
    changed. The mappings are read, not kept: the watch copies what it compares later."""

    touched: Collection[str]
    """The areas with any presence or demand state."""
    present: Mapping[str, object]
    last_qualifying_end: Mapping[str, float]
    open_incidents: Mapping[str, object]
    stored: Mapping[str, bytes]
    """The stored coverage statuses, encoded."""
    history: Mapping[str, VisitHistory]
    """The visits around the instants judged, of the areas with any."""
    figures: object
    """The figures' read (by identity: a new read can change the facts of any area with state)."""
    feed: str
    policy_version: int


@dataclass(frozen=True, slots=True)
class _Settled:
    group: tuple[CoveragePolicy, float]
    event_due: float
    wall_due: float


@dataclass(slots=True)
class AreaWatch:
    """The areas settled since they were last judged, and when the clock makes each due."""

    _last: WatchedInputs | None = None
    _last_now: float = 0.0
    _settled: dict[str, _Settled] = field(default_factory=dict)
    _by_limit: dict[tuple[CoveragePolicy, float], set[str]] = field(default_factory=dict)
    _event_due: list[tuple[float, str]] = field(default_factory=list)
    _wall_due: list[tuple[float, str]] = field(default_factory=list)

    def forget(self) -> None:
        """Judge every area at the next instant."""
        self._last = None
        self._settled.clear()
        self._by_limit.clear()
        self._event_due.clear()
        self._wall_due.clear()

    def to_judge(
        self,
        areas: Iterable[str],
        inputs: WatchedInputs,
        now: float,
        wall_now: float,
        limit_at: Callable[[CoveragePolicy], float],
    ) -> set[str]:
        """The areas of ``areas`` (those defined) to judge at ``now`` (event time; ``wall_now``:
        wall time), each pending until it settles again; ``limit_at``: a policy's limit in force
        at ``now``."""
        last = self._last
        if last is None or last.feed != inputs.feed or last.policy_version != inputs.policy_version:
            self.forget()
            due = set(areas)
        else:
            known = set(areas)
            due = known.difference(self._settled)
            due.update(_changed(inputs, last, self._last_now, now))
            due.update(self._come_due(now, wall_now, limit_at))
            due.intersection_update(known)  # state is kept of areas no longer defined, too
            for area_id in due:
                self._unsettle(area_id)
        self._last, self._last_now = _kept(inputs), now
        return due

    def settle(
        self,
        area_id: str,
        policy: CoveragePolicy,
        status: CoverageStatus,
        evaluated_at: float,
        evaluated_wall: float,
    ) -> None:
        """An area whose last evaluation (at ``evaluated_at``, wall time ``evaluated_wall``, with
        ``status``) stands until its inputs change or the clock makes it due."""
        self._unsettle(area_id)
        settled = _Settled(
            (policy, status.limit_s),
            due_at(policy, status, evaluated_at),
            evaluated_wall + REEVALUATE_AFTER_S,
        )
        self._settled[area_id] = settled
        self._by_limit.setdefault(settled.group, set()).add(area_id)
        if settled.event_due != math.inf:
            heapq.heappush(self._event_due, (settled.event_due, area_id))
        heapq.heappush(self._wall_due, (settled.wall_due, area_id))
        if len(self._event_due) + len(self._wall_due) > 4 * len(self._settled) + 1024:
            self._compact()

    def _compact(self) -> None:
        """Drop the heap entries of areas settled again since (an area settled every 30 s of
        wall time for hours would otherwise leave an entry each time)."""
        settled = self._settled.items()
        self._event_due = [(s.event_due, a) for a, s in settled if s.event_due != math.inf]
        self._wall_due = [(s.wall_due, a) for a, s in settled]
        heapq.heapify(self._event_due)
        heapq.heapify(self._wall_due)

    def stored(self, statuses: Mapping[str, bytes]) -> None:
        """The evaluator stored these statuses (encoded as they read back): a status read back
        as stored is not a change."""
        if self._last is not None:
            self._last = replace(self._last, stored={**self._last.stored, **statuses})

    def _unsettle(self, area_id: str) -> None:
        settled = self._settled.pop(area_id, None)
        if settled is not None:
            self._by_limit[settled.group].discard(area_id)

    def _come_due(
        self, now: float, wall_now: float, limit_at: Callable[[CoveragePolicy], float]
    ) -> set[str]:
        """The settled areas the clock makes due: a new limit in force, or a due time reached
        (heap entries of an area settled again since are dropped as they come up)."""
        due: set[str] = set()
        for (policy, limit_s), members in self._by_limit.items():
            if members and limit_at(policy) != limit_s:
                due.update(members)
        for heap, until, which in (
            (self._event_due, now + EVENT_EARLY_S, "event_due"),
            (self._wall_due, wall_now + WALL_EARLY_S, "wall_due"),
        ):
            while heap and heap[0][0] <= until:
                at, area_id = heapq.heappop(heap)
                settled = self._settled.get(area_id)
                if settled is not None and getattr(settled, which) == at:
                    due.add(area_id)
        return due


def _kept(inputs: WatchedInputs) -> WatchedInputs:
    """``inputs`` with copies of what the evaluator changes between instants."""
    return WatchedInputs(
        frozenset(inputs.touched),
        dict(inputs.present),
        dict(inputs.last_qualifying_end),
        dict(inputs.open_incidents),
        dict(inputs.stored),
        dict(inputs.history),
        inputs.figures,
        inputs.feed,
        inputs.policy_version,
    )


def _changed(now: WatchedInputs, last: WatchedInputs, last_at: float, at: float) -> set[str]:
    """The areas whose inputs at ``at`` differ from those at ``last_at``."""
    changed = set(now.touched).symmetric_difference(last.touched)
    if now.figures is not last.figures:
        changed.update(now.touched, last.touched)
    for mapping, before in (
        (now.present, last.present),
        (now.last_qualifying_end, last.last_qualifying_end),
        (now.open_incidents, last.open_incidents),
        (now.stored, last.stored),
    ):
        changed.update(_differing_keys(mapping, before))
    for area_id in now.history.keys() | last.history.keys():
        history = now.history.get(area_id)
        if (
            history is None
            or history != last.history.get(area_id)
            or not visits_alike(history, last_at, at)
        ):
            changed.add(area_id)
    return changed


def _differing_keys(now: Mapping[str, object], before: Mapping[str, object]) -> set[str]:
    """The keys present in only one of the mappings or mapped to different values."""
    differing = set(now.keys()).symmetric_difference(before.keys())
    differing.update(key for key, value in now.items() if key in before and before[key] != value)
    return differing
