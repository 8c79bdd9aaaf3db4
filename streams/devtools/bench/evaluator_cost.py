"""What judging an instant costs the coverage evaluator with 10,000 areas: judging the areas whose
inputs changed or came due (the evaluator as it is) against judging every area at every instant
(as it was before issue 25), in process, on the same synthetic evaluations, runs A B B A.

The areas are the bench's 10,000-area pack (the default pack and the tiling squares). Between
two evaluations a few areas change at random (an officer arrives or leaves, a qualifying visit
ends, an incident opens or closes: :class:`ChangingAreas`); each evaluation judges one to three
instants a minute apart, 2 s of wall time after the last (:func:`evaluations`), and the figures
are read again every fifth. The statuses judged are stored back as the store would keep
them. Both ways must give the same results (the unit tests compare them); here only their CPU
time is measured.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast

import orjson

from streams.devtools.bench.support import Row, grid_areas, missing_reason
from streams.domain.area_watch import AreaWatch
from streams.domain.areas import AreaDefinition, live_areas
from streams.domain.coverage import status_to_dict
from streams.domain.feedhealth import FeedHealth
from streams.domain.judging import VisitHistory
from streams.engines.coverage import EVALUATE_EVERY_S, CoverageEngine
from streams.engines.coverage.instant import Instant
from streams.engines.coverage.reading import AreasRead, Figures, History
from streams.engines.coverage.views import AreaView, Judgement
from streams.engines.runtime import Runtime
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack
from streams.state import DemandView, PresenceView

START = 1_795_174_200.0  # 2026-11-20T11:30:00Z
AREAS = 10_000
EVALUATIONS = 30
WARM_UP = 5
"""Evaluations judged before the timing begins: the first judges every area (a worker's start)."""
CHANGES_PER_EVALUATION = 40
SEED = 25


class EveryArea(AreaWatch):
    """The evaluator before issue 25: every area judged at every instant."""

    def to_judge(self, areas: Iterable[str], *_: object, **__: object) -> set[str]:
        return set(areas)


@dataclass
class ChangingAreas:
    """What the store holds about the areas, a few of them changed at random between two
    evaluations."""

    area_ids: Sequence[str]
    rng: random.Random
    changes: int = 4
    present: dict[str, dict[str, str]] = field(default_factory=dict)
    last_end: dict[str, float] = field(default_factory=dict)
    incidents: dict[str, dict[str, int]] = field(default_factory=dict)
    visits: dict[str, VisitHistory] = field(default_factory=dict)
    figures: Figures = field(
        default_factory=lambda: Figures(PresenceView(), DemandView(), "2026-11-20", 0.0)
    )

    def step(self, now: float, wall_now: float, refresh_figures: bool) -> None:
        """Change up to ``changes`` areas as of ``now`` (and read the figures again)."""
        rng = self.rng
        for _ in range(rng.randint(0, self.changes)):
            area_id = rng.choice(self.area_ids)
            choice = rng.random()
            if choice < 0.3:
                self.present[area_id] = {"2001001": "response|foot|U1"}
                began = now - rng.choice([30.0, 90.0, 900.0])  # maybe between two instants
                self.visits[area_id] = VisitHistory(None, ((began, now),))
            elif choice < 0.5:
                self.present.pop(area_id, None)
                self.visits.pop(area_id, None)
            elif choice < 0.7:
                self.last_end[area_id] = now - rng.choice([0.0, 60.0, 600.0])
            elif choice < 0.85:
                self.incidents[area_id] = {"immediate": 1}
            else:
                self.incidents.pop(area_id, None)
        if refresh_figures:
            dose = {
                900: {a: {"response|foot|proactive": rng.choice([0.0, 60.0])} for a in self.present}
            }
            self.figures = Figures(PresenceView(dose_windows=dose), DemandView(), "", wall_now)

    def read(
        self, stored: dict[str, bytes], since: dict[str, float], now: float
    ) -> tuple[AreasRead, History]:
        """A read of the store at ``now`` as the evaluator makes it, the feed live (fresh
        objects: judging changes them)."""
        presence = PresenceView(
            present={a: dict(p) for a, p in self.present.items()},
            dose_windows=self.figures.presence.dose_windows,
            last_qualifying_end=dict(self.last_end),
            feed_last_fix=now,
        )
        demand = DemandView(open_incidents={a: dict(c) for a, c in self.incidents.items()})
        touched = presence.areas() | demand.areas()
        read = AreasRead(
            "2026-11-20", presence, demand, dict(stored), dict(since), 4, touched, self.figures
        )
        return read, History(dict(self.visits), [])


@dataclass
class Judging:
    """One coverage engine judging evaluations in turn, with the store it writes to."""

    engine: CoverageEngine
    stored: dict[str, bytes] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)
    results: list[tuple[object, ...]] = field(default_factory=list)
    cpu_s: float = 0.0
    """CPU time spent judging while :attr:`timed`."""
    timed: bool = True

    async def evaluate(
        self, areas: ChangingAreas, instants: Sequence[float], wall_now: float, feed: str
    ) -> None:
        """Judge ``instants`` as the evaluator does, then store the statuses."""
        read, history = areas.read(self.stored, self.since, instants[-1])
        judged = Judgement()
        views: dict[str, AreaView] = {}
        started = time.process_time()
        for now in instants:
            history.apply(read, now, self.engine.runtime.settings.qualifying_s)
            instant = Instant(
                read,
                now,
                wall_now,
                history,
                feed_live=feed == "live",
                final=now == instants[-1],
                health=FeedHealth(4, 4),
                feed=feed,
            )
            views = await self.engine._judge(instant, judged)
        if self.timed:
            self.cpu_s += time.process_time() - started
        statuses = {a: orjson.dumps(status_to_dict(s)) for a, s in judged.statuses.items()}
        self.stored.update(statuses)
        self.engine._watch.stored(statuses)
        self.since.update(judged.new_since)
        self.results.append(
            (
                judged.statuses,
                judged.alerts,
                judged.changes_today,
                {area_id: (view.status, view.snapshot) for area_id, view in views.items()},
            )
        )


def coverage_engine(areas: Iterable[AreaDefinition], watch: AreaWatch) -> CoverageEngine:
    """A coverage engine over ``areas`` that judges with ``watch`` (nothing else of a runtime)."""
    runtime = SimpleNamespace(
        settings=Settings(clock="event"),
        fences=SimpleNamespace(areas={area.area_id: area for area in areas}),
        fence_version=1,
    )
    engine = CoverageEngine(cast(Runtime, runtime))
    engine._watch = watch
    return engine


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation: the instants it judges, its wall time, the feed, and whether the figures
    were read again before it."""

    instants: tuple[float, ...]
    wall_now: float
    feed: str
    refresh_figures: bool


def evaluations(
    rng: random.Random, count: int, wall_steps: Sequence[float] = (2.0, 2.0, 4.0, 11.0)
) -> list[Evaluation]:
    """``count`` evaluations in turn: one to three instants a minute apart, ``wall_steps`` of
    wall time apart (one of them at random), the figures read every fifth, the feed degraded
    over a few in the middle."""
    made, now, wall_now = [], START, 1000.0
    for number in range(count):
        instants = tuple(now + 60.0 * (i + 1) for i in range(rng.choice([1, 1, 2, 3])))
        now, wall_now = instants[-1], wall_now + rng.choice(wall_steps)
        degraded = count // 3 <= number < count // 3 + 5
        made.append(
            Evaluation(instants, wall_now, "feed_degraded" if degraded else "live", number % 5 == 0)
        )
    return made


async def judge_all(
    runs: Sequence[Judging],
    area_ids: Sequence[str],
    changes: int,
    made: Sequence[Evaluation],
    seed: int,
    warm_up: int = 0,
) -> None:
    """Judge the evaluations ``made`` of the same changing areas with each of ``runs``; the
    first ``warm_up`` are not timed (the first judges every area, once)."""
    areas = ChangingAreas(area_ids, random.Random(seed), changes)
    for number, evaluation in enumerate(made):
        areas.step(evaluation.instants[-1], evaluation.wall_now, evaluation.refresh_figures)
        for run in runs:
            run.timed = number >= warm_up
            await run.evaluate(areas, evaluation.instants, evaluation.wall_now, evaluation.feed)


def pack() -> list[AreaDefinition]:
    """The bench's 10,000-area pack: the default pack and the squares tiling its patrol area,
    every tenth square with a limit of a few minutes (so that states change)."""
    default = live_areas(load_default_area_pack())
    squares = grid_areas(AREAS - len(default), default)
    short = {"default_max_gap_minutes": 5}
    return [
        *default,
        *(
            AreaDefinition(a.area_id, a.name, a.kind, a.geometry, short) if i % 10 == 0 else a
            for i, a in enumerate(squares)
        ),
    ]


def measure(_bench: object = None) -> dict[str, float]:
    """CPU milliseconds per instant judged each way after the warm-up (runs A B B A), with the
    areas and the instants timed."""
    areas = pack()
    area_ids = [area.area_id for area in areas]
    made = evaluations(random.Random(SEED), EVALUATIONS, (EVALUATE_EVERY_S,))
    timed = sum(len(evaluation.instants) for evaluation in made[WARM_UP:])
    cpu: dict[str, float] = {"changed": 0.0, "every": 0.0}
    for name in ("changed", "every", "every", "changed"):
        run = Judging(coverage_engine(areas, AreaWatch() if name == "changed" else EveryArea()))
        asyncio.run(judge_all([run], area_ids, CHANGES_PER_EVALUATION, made, SEED, WARM_UP))
        cpu[name] += run.cpu_s
    return {
        "areas": float(len(areas)),
        "instants": float(timed),
        "changed_ms": cpu["changed"] / 2 / timed * 1e3,
        "every_ms": cpu["every"] / 2 / timed * 1e3,
    }


def rows(result: object) -> list[Row]:
    """CPU per instant judged with 10,000 areas, change-driven against every area (info)."""
    name = "coverage evaluator CPU per instant, 10,000 areas"
    if not isinstance(result, dict) or "changed_ms" not in result:
        return [Row(name, None, "ms", note=missing_reason(result))]
    return [
        Row(
            name,
            result["changed_ms"],
            "ms",
            result["every_ms"],
            "every area judged at every instant",
            "info",
            None,
            note=f"{result['areas']:.0f} areas, {result['instants']:.0f} instants timed after "
            f"{WARM_UP} evaluations, up to {CHANGES_PER_EVALUATION} areas changed per "
            "evaluation, 2 s apart; in process, runs A B B A",
        )
    ]
