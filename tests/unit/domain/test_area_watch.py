"""Which areas the coverage evaluator judges at an instant: a settled area only once its inputs
change or the clock makes it due; when the clock makes an area due; when visits say the same."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from streams.domain.area_watch import AreaWatch, WatchedInputs
from streams.domain.coverage import CoveragePolicy, CoverageStatus
from streams.domain.judging import (
    VisitHistory,
    last_qualifying_visit_at,
    present_at,
    present_since,
    visits_alike,
)
from streams.domain.scheduling import REEVALUATE_AFTER_S, due_again, due_at

NOON = 1_795_176_000.0
POLICY = CoveragePolicy((), 600.0, True)
AREAS = ["ia-01", "ia-02", "ia-03"]
QUIET = WatchedInputs(set(), {}, {}, {}, {}, {}, "figures", "live", 1)


def status(area_id: str, state: str = "covered", elapsed_s: float = 0.0) -> CoverageStatus:
    return CoverageStatus(area_id, state, None, elapsed_s, 600.0, NOON, None)  # type: ignore[arg-type]


def settled_watch() -> AreaWatch:
    """Every area judged once at noon and settled, covered a minute after a visit."""
    watch = AreaWatch()
    assert watch.to_judge(AREAS, QUIET, NOON, 0.0, lambda p: 600.0) == set(AREAS)
    for area_id in AREAS:
        watch.settle(area_id, POLICY, status(area_id, elapsed_s=60.0), NOON, 0.0)
    return watch


def judged_next(watch: AreaWatch, inputs: WatchedInputs, limit_s: float = 600.0) -> set[str]:
    return watch.to_judge(AREAS, inputs, NOON + 60.0, 2.0, lambda p: limit_s)


def test_settled_areas_whose_inputs_are_as_before_are_not_judged() -> None:
    assert judged_next(settled_watch(), QUIET) == set()


def test_only_areas_defined_are_judged() -> None:
    gone = replace(QUIET, touched={"ia-02", "gone"}, present={"gone": {"2001001": "pcso|foot"}})
    assert judged_next(settled_watch(), gone) == {"ia-02"}


def test_an_area_judged_but_not_settled_is_judged_again() -> None:
    watch = AreaWatch()
    watch.to_judge(AREAS, QUIET, NOON, 0.0, lambda p: 600.0)
    watch.settle("ia-01", POLICY, status("ia-01"), NOON, 0.0)
    assert judged_next(watch, QUIET) == {"ia-02", "ia-03"}


@pytest.mark.parametrize(
    ("change", "judged"),
    [
        ({"touched": {"ia-02"}}, {"ia-02"}),
        ({"present": {"ia-02": {"2001001": "response|foot"}}}, {"ia-02"}),
        ({"last_qualifying_end": {"ia-03": NOON}}, {"ia-03"}),
        ({"open_incidents": {"ia-01": {"immediate": 1}}}, {"ia-01"}),
        ({"stored": {"ia-02": b"{}"}}, {"ia-02"}),
        ({"history": {"ia-01": VisitHistory(None, ((NOON + 30.0, NOON + 90.0),))}}, {"ia-01"}),
        ({"feed": "feed_degraded"}, set(AREAS)),
        ({"policy_version": 2}, set(AREAS)),
    ],
    ids=["touched", "present", "qualifying", "incidents", "stored", "visits", "feed", "policy"],
)
def test_a_change_in_what_an_area_is_judged_with_makes_it_due(
    change: dict[str, object], judged: set[str]
) -> None:
    assert judged_next(settled_watch(), replace(QUIET, **change)) == judged  # type: ignore[arg-type]


def test_new_figures_make_the_areas_with_any_state_due() -> None:
    watch = settled_watch()
    touched = replace(QUIET, touched={"ia-02"})
    watch.to_judge(AREAS, touched, NOON + 30.0, 1.0, lambda p: 600.0)
    watch.settle("ia-02", POLICY, status("ia-02", elapsed_s=90.0), NOON + 30.0, 1.0)
    assert judged_next(watch, touched) == set()
    assert judged_next(watch, replace(touched, figures="read again")) == {"ia-02"}


def test_a_status_read_back_as_the_evaluator_stored_it_is_not_a_change() -> None:
    watch = settled_watch()
    watch.stored({"ia-01": b'{"state":"covered"}'})
    stored = replace(QUIET, stored={"ia-01": b'{"state":"covered"}'})
    assert judged_next(watch, stored) == set()
    assert judged_next(watch, QUIET) == {"ia-01"}, "then lost: judged again"


def test_visits_that_ended_before_both_instants_are_not_a_change() -> None:
    watch = AreaWatch()
    old = replace(QUIET, history={"ia-01": VisitHistory(None, ((NOON - 900.0, NOON - 300.0),))})
    watch.to_judge(AREAS, old, NOON, 0.0, lambda p: 600.0)
    for area_id in AREAS:
        watch.settle(area_id, POLICY, status(area_id, elapsed_s=60.0), NOON, 0.0)
    assert judged_next(watch, replace(old, history=dict(old.history))) == set()


def test_a_new_limit_in_force_makes_the_areas_under_it_due() -> None:
    assert judged_next(settled_watch(), QUIET, limit_s=300.0) == set(AREAS)


def test_the_wall_clock_makes_a_settled_area_due_after_the_reevaluation_period() -> None:
    watch = settled_watch()
    assert watch.to_judge(AREAS, QUIET, NOON + 60, REEVALUATE_AFTER_S - 1, lambda p: 600.0) == set()
    assert watch.to_judge(AREAS, QUIET, NOON + 120, REEVALUATE_AFTER_S, lambda p: 600.0) == set(
        AREAS
    )


def test_the_event_clock_makes_a_covered_area_due_as_it_nears_its_limit() -> None:
    watch = settled_watch()  # covered 60 s after a visit: at risk from 480 s after it
    assert watch.to_judge(AREAS, QUIET, NOON + 400.0, 1.0, lambda p: 600.0) == set()
    assert watch.to_judge(AREAS, QUIET, NOON + 420.0, 2.0, lambda p: 600.0) == set(AREAS)


def test_settling_an_area_again_and_again_keeps_the_queues_small() -> None:
    watch = settled_watch()
    for step in range(20_000):
        watch.settle("ia-01", POLICY, status("ia-01", elapsed_s=60.0), NOON + step, 0.0)
    assert len(watch._event_due) + len(watch._wall_due) <= 4 * len(AREAS) + 1024 + 2


@pytest.mark.parametrize(
    ("state", "severity"),
    [("covered", None), ("at_risk", "low"), ("uncovered", "medium"), ("uncovered", "high")],
)
def test_due_at_is_when_due_again_begins_to_hold(state: str, severity: str | None) -> None:
    previous = replace(status("ia-01", state, elapsed_s=123.4), severity=severity)  # type: ignore[arg-type]
    at = due_at(POLICY, previous, NOON)
    if severity == "high":
        assert at == float("inf")
        assert not due_again(POLICY, previous, NOON, NOON + 86400.0, 0.0)
        return
    assert not due_again(POLICY, previous, NOON, at - 0.001, 0.0)
    assert due_again(POLICY, previous, NOON, at + 0.001, 0.0)


def random_history(rng: random.Random) -> VisitHistory:
    visits = []
    for _ in range(rng.randint(0, 3)):
        start = NOON + rng.uniform(0, 3600)
        visits.append((start, start + rng.choice([0.0, 120.0, 900.0])))
    before = None if rng.random() < 0.5 else (NOON - 2000.0, NOON - 1000.0)
    return VisitHistory(before, tuple(sorted(visits)))


def test_visits_alike_at_two_instants_say_the_same_at_both() -> None:
    rng = random.Random(7)
    alike = 0
    for _ in range(5000):
        history = random_history(rng)
        before = NOON + rng.uniform(0, 3600)
        after = before + rng.choice([0.0, 60.0, 600.0])
        if visits_alike(history, before, after):
            alike += 1
            for at in (before, after):
                assert present_at(history, at) == present_at(history, before)
                assert present_since(history, at) == present_since(history, before)
                assert last_qualifying_visit_at(history, at, 300.0) == last_qualifying_visit_at(
                    history, before, 300.0
                )
    assert alike > 1000, "the property was checked on many alike pairs"
