"""When the coverage evaluator may skip an area whose facts did not change."""

from __future__ import annotations

from streams.coverage import REEVALUATE_AFTER_S, due_again
from streams.domain.coverage import CoveragePolicy, CoverageStatus, PolicyBand

EVENING = PolicyBand(18 * 60, 2 * 60, 7200.0)
POLICY = CoveragePolicy(bands=(EVENING,), default_max_gap_s=14400.0, alert=True)
NOON = 1_795_176_000.0  # 2026-11-20T12:00:00Z (Europe/London is UTC in November)


def status(state: str, elapsed_s: float, limit_s: float = 14400.0) -> CoverageStatus:
    return CoverageStatus("ia-01", state, None, elapsed_s, limit_s, NOON, None)  # type: ignore[arg-type]


def test_an_unchanged_covered_area_is_skipped_until_it_nears_its_limit() -> None:
    assert not due_again(POLICY, status("covered", 3600), NOON, NOON + 10)
    assert due_again(POLICY, status("covered", 0.8 * 14400 - 5), NOON, NOON + 10)


def test_an_at_risk_area_is_evaluated_when_it_reaches_the_limit() -> None:
    assert not due_again(POLICY, status("at_risk", 14000), NOON, NOON + 10)
    assert due_again(POLICY, status("at_risk", 14395), NOON, NOON + 10)


def test_the_evening_band_starting_forces_an_evaluation() -> None:
    six_pm = NOON + 6 * 3600
    assert due_again(POLICY, status("covered", 60), six_pm - 5, six_pm + 1)


def test_every_area_is_evaluated_again_after_a_while() -> None:
    assert due_again(POLICY, status("uncovered", 20000), NOON, NOON + REEVALUATE_AFTER_S)
