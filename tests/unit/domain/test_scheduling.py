"""When the coverage evaluator may skip an area whose facts did not change, give it a new view,
publish its snapshot, and when it rests."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import orjson
from shapely.geometry import box

from streams.domain.areas import AreaDefinition
from streams.domain.coverage import CoveragePolicy, CoverageStatus, PolicyBand
from streams.domain.scheduling import (
    REEVALUATE_AFTER_S,
    SNAPSHOT_REFRESH_S,
    VIEW_REFRESH_S,
    due_again,
    rest_until,
    snapshot_due,
    snapshot_fingerprint,
    spread_start,
    view_due,
    with_ts,
)
from streams.domain.snapshots import AreaFacts, snapshot_value
from streams.engines.coverage import EVALUATE_EVERY_S

EVENING = PolicyBand(18 * 60, 2 * 60, 7200.0)
POLICY = CoveragePolicy(bands=(EVENING,), default_max_gap_s=14400.0, alert=True)
NOON = 1_795_176_000.0  # 2026-11-20T12:00:00Z (Europe/London is UTC in November)


def status(state: str, elapsed_s: float, limit_s: float = 14400.0) -> CoverageStatus:
    return CoverageStatus("ia-01", state, None, elapsed_s, limit_s, NOON, None)  # type: ignore[arg-type]


def test_an_unchanged_covered_area_is_skipped_until_it_nears_its_limit() -> None:
    assert not due_again(POLICY, status("covered", 3600), NOON, NOON + 10, 10)
    assert due_again(POLICY, status("covered", 0.8 * 14400 - 5), NOON, NOON + 10, 10)


def test_an_at_risk_area_is_evaluated_when_it_reaches_the_limit() -> None:
    assert not due_again(POLICY, status("at_risk", 14000), NOON, NOON + 10, 10)
    assert due_again(POLICY, status("at_risk", 14395), NOON, NOON + 10, 10)


def test_an_uncovered_area_is_evaluated_when_its_gap_reaches_twice_the_limit() -> None:
    medium = replace(status("uncovered", 2 * 14400 - 5), severity="medium")
    assert not due_again(POLICY, medium, NOON, NOON + 2, 2)
    assert due_again(POLICY, medium, NOON, NOON + 10, 10)  # its severity rises to high
    high = replace(medium, severity="high")
    assert not due_again(POLICY, high, NOON, NOON + 10, 10)


def test_the_evening_band_starting_forces_an_evaluation() -> None:
    six_pm = NOON + 6 * 3600
    assert due_again(POLICY, status("covered", 60), six_pm - 5, six_pm + 1, 6)


def test_every_area_is_evaluated_again_after_a_while_of_wall_time() -> None:
    assert due_again(POLICY, status("uncovered", 20000), NOON, NOON + 2, REEVALUATE_AFTER_S)
    assert not due_again(POLICY, status("uncovered", 20000), NOON, NOON + 2, 2)


def test_a_fast_replay_alone_does_not_make_every_area_due() -> None:
    # two wall seconds in which the event clock moved 140 s (a replay at 70x)
    assert not due_again(POLICY, status("uncovered", 20000), NOON, NOON + 140, 2)
    assert not due_again(POLICY, status("covered", 3600), NOON, NOON + 140, 2)


def test_a_snapshot_is_published_when_it_changes_and_refreshed_once_a_minute() -> None:
    assert snapshot_due(None, b"a", NOON) == "changed"
    assert snapshot_due((b"a", NOON), b"b", NOON + 2) == "changed"
    assert snapshot_due((b"a", NOON), b"a", NOON + 2) is None
    assert snapshot_due((b"a", NOON), b"a", NOON + SNAPSHOT_REFRESH_S - 0.001) is None
    assert snapshot_due((b"a", NOON), b"a", NOON + SNAPSHOT_REFRESH_S) == "refresh"


def test_a_quick_evaluation_leaves_the_next_tick_on_time() -> None:
    assert rest_until(100.0, 100.05) < 100.0 + EVALUATE_EVERY_S


def test_a_slow_evaluation_rests_as_long_as_it_took() -> None:
    assert rest_until(100.0, 103.5) == 107.0


def test_a_busy_area_gets_a_new_view_at_most_every_refresh_interval() -> None:
    shown = status("covered", 600)
    assert not view_due(shown, status("covered", 610), VIEW_REFRESH_S - 1)
    assert view_due(shown, status("covered", 610), VIEW_REFRESH_S)


def test_the_first_views_of_a_large_pack_come_due_spread_over_the_refresh_interval() -> None:
    built = [spread_start(f"cell-{n:05d}", NOON, VIEW_REFRESH_S) for n in range(10_000)]
    due_in = sorted(VIEW_REFRESH_S - (NOON - at) for at in built)
    assert all(0 < s <= VIEW_REFRESH_S for s in due_in)
    per_second = [sum(1 for s in due_in if k < s <= k + 1) for k in range(int(VIEW_REFRESH_S))]
    assert max(per_second) < 1_200  # about 1,000 each second, not 10,000 at once
    assert spread_start("cell-00042", NOON, VIEW_REFRESH_S) == built[42]  # fixed per area


def test_a_change_of_coverage_state_or_severity_gets_a_new_view_at_once() -> None:
    shown = status("covered", 11000)
    assert view_due(shown, status("at_risk", 11600), 0.5)
    assert view_due(shown, replace(shown, severity="high"), 0.5)
    assert view_due(None, shown, 0.5)


def test_a_state_entered_again_since_the_view_gets_a_new_view_at_once() -> None:
    shown = status("covered", 600)
    covered_again = replace(shown, state_since=NOON + 3600.0)  # at risk and back, unseen between
    assert view_due(shown, covered_again, 0.5)


def test_a_published_snapshot_is_its_content_fingerprint_with_its_time() -> None:
    snapshot = {"schema": "area.snapshots/1", "ts": "2026-11-20T12:00:00.000Z", "area_id": "a"}
    body = {key: value for key, value in snapshot.items() if key != "ts"}
    fingerprint = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    assert orjson.loads(with_ts(snapshot["ts"], fingerprint)) == snapshot
    assert orjson.loads(with_ts(snapshot["ts"], b"{}")) == {"ts": snapshot["ts"]}


def test_a_snapshot_fingerprint_kept_per_area_holds_about_its_length_in_memory() -> None:
    area = AreaDefinition(
        "grid-00001", "Bench cell 1", "comparison", box(-1.9, 52.48, -1.89, 52.49)
    )
    snapshot = snapshot_value(AreaFacts(area), None, None, NOON)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        kept = [snapshot_fingerprint(snapshot) for _ in range(100)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ts, fingerprint = kept[0]
    assert orjson.loads(with_ts(ts, fingerprint)) == snapshot
    assert (held - before) / len(kept) < len(fingerprint) + 200  # orjson's buffer: 4 KB
