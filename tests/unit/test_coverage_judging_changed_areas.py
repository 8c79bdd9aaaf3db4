"""The coverage evaluator judges only the areas whose inputs changed or that the clock makes due,
and that gives the same statuses, alert events, state changes and views as judging every area
at every instant."""

from __future__ import annotations

import random
from typing import cast

import pytest
from shapely.geometry import box

from streams.devtools.bench.evaluator_cost import (
    ChangingAreas,
    EveryArea,
    Judging,
    coverage_engine,
    evaluations,
)
from streams.domain.area_watch import AreaWatch
from streams.domain.areas import AreaDefinition
from streams.domain.coverage import CoverageStatus
from streams.engines.coverage.instant import Instant
from streams.engines.coverage.views import AreaView, Judgement

AREA_COUNT = 40


def pack() -> list[AreaDefinition]:
    """Areas with the default policy and with limits of a few minutes, some with a band."""
    areas = []
    for index in range(AREA_COUNT):
        policy: dict[str, object] | None = None
        if index % 3 == 1:
            policy = {"default_max_gap_minutes": 4 + index % 5}
        elif index % 3 == 2:
            policy = {
                "default_max_gap_minutes": 6,
                "bands": [{"start": "11:50", "end": "12:20", "max_gap_minutes": 3}],
            }
        x = -1.9 + index * 0.01
        area_id = f"ia-{index:02d}"
        areas.append(
            AreaDefinition(area_id, area_id, "impact", box(x, 52.48, x + 0.01, 52.49), policy)
        )
    return areas


def counted(run: Judging) -> list[int]:
    """Count the areas ``run``'s engine looks at (judges, or finds to stand)."""
    looked_at = [0]
    judge_area = run.engine._judge_area

    def counting(area: AreaDefinition, at: Instant, judged: Judgement) -> AreaView | None:
        looked_at[0] += 1
        return judge_area(area, at, judged)

    run.engine._judge_area = counting  # type: ignore[method-assign]
    return looked_at


@pytest.mark.parametrize("seed", range(6))
async def test_judging_the_changed_areas_gives_what_judging_every_area_gives(seed: int) -> None:
    areas = pack()
    changed = Judging(coverage_engine(areas, AreaWatch()))
    every = Judging(coverage_engine(areas, EveryArea()))
    looked_at = {"changed": counted(changed), "every": counted(every)}
    defined = [area.area_id for area in areas]
    world = ChangingAreas([*defined, "no-longer-defined"], random.Random(seed))
    for number, evaluation in enumerate(evaluations(random.Random(seed), 120)):
        world.step(evaluation.instants[-1], evaluation.wall_now, evaluation.refresh_figures)
        for run in (changed, every):
            await run.evaluate(world, evaluation.instants, evaluation.wall_now, evaluation.feed)
            if number == 70:  # the store lost the statuses (a Redis wiped and rebuilt)
                run.stored.clear()

    assert changed.results == every.results
    assert looked_at["changed"][0] < looked_at["every"][0] / 3, "most areas were not looked at"
    statuses = [cast(dict[str, CoverageStatus], result[0]) for result in every.results]
    states = {status.state for judged in statuses for status in judged.values()}
    assert {"covered", "at_risk", "uncovered"} <= states, "the run crosses every threshold"
    assert any(result[1] for result in every.results), "alerts were raised"
