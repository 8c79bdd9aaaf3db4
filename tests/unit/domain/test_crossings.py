"""Inferred visits: a short pass through an area between fixes (issue 22, part 2)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings

from streams.domain.fences import FenceIndex
from streams.domain.fixes import Fix
from streams.domain.tracks import (
    DoseAccrued,
    Fact,
    FixContext,
    FixRejected,
    MembershipChanged,
    Policy,
    Track,
    Visit,
    advance,
    new_track,
    track_from_json,
    track_to_json,
)
from tests.unit.domain.test_tracks import (
    CAR,
    INDEX,
    POLICY,
    Journey,
    arrival_order,
    dose_by_minute,
    feed,
    fix,
    journeys,
    presence,
    square,
    visits,
)

# One area: a 150 m square at the origin (x and y 0..150 m).
SQUARE = FenceIndex([square("X", 0, 0, 150)])
SPEED_MPS = 13.0
INTERVAL_S = 60.0
STRIDE_M = SPEED_MPS * INTERVAL_S  # 780 m between fixes


def drive(first_east_m: float, count: int = 4, north_m: float = 75.0) -> list[Fix]:
    """A vehicle driving east at 13 m/s along ``north_m``, a fix every 60 s."""
    return [fix(i * INTERVAL_S, first_east_m + i * STRIDE_M, north_m) for i in range(count)]


def run(
    fixes: list[Fix],
    context: FixContext = CAR,
    policy: Policy = POLICY,
    index: FenceIndex = SQUARE,
) -> tuple[Track, list[Fact]]:
    """Fixes through a track located and crossed with ``index``."""
    located = index.locate([f.lon for f in fixes], [f.lat for f in fixes])
    track = new_track(fixes[0].issi)
    facts: list[Fact] = []
    for one, location in zip(fixes, located, strict=True):
        track, produced = advance(track, one, location, context, policy, index)
        facts.extend(produced)
    return track, facts


def inferred_dose(facts: list[Fact]) -> float:
    return sum(f.seconds for f in facts if isinstance(f, DoseAccrued) and f.inferred)


def observed_dose(facts: list[Fact]) -> float:
    return sum(f.seconds for f in facts if isinstance(f, DoseAccrued) and not f.inferred)


def test_vehicle_crossing_area_between_fixes_makes_one_inferred_visit() -> None:
    fixes = drive(-300.0)  # -300, 480, ...: the line from -300 to 480 crosses 0..150
    located = SQUARE.locate([f.lon for f in fixes], [f.lat for f in fixes])
    assert not any(location.inside for location in located)
    _, facts = run(fixes)
    (visit,) = visits(facts)
    assert visit.inferred
    assert visit.area_id == "X"
    assert visit.seconds == pytest.approx(150.0 / SPEED_MPS, abs=2.0)  # 11.5 s
    assert visit.status == "closed"
    assert visit.drive_through
    assert not visit.qualifying
    assert (visit.mode, visit.role) == ("vehicle", "response")
    assert visit.start == pytest.approx(fixes[0].ts + 300.0 / SPEED_MPS, abs=0.01)
    assert visit.end == pytest.approx(fixes[0].ts + 450.0 / SPEED_MPS, abs=0.01)
    assert inferred_dose(facts) == pytest.approx(visit.seconds)
    assert observed_dose(facts) == 0
    assert not any(isinstance(f, MembershipChanged) for f in facts)


def test_one_fix_inside_makes_one_visit_not_two() -> None:
    fixes = drive(75.0 - STRIDE_M)  # the second fix is at the centre of the square
    located = SQUARE.locate([f.lon for f in fixes], [f.lat for f in fixes])
    assert [bool(location.inside) for location in located] == [False, True, False, False]
    _, facts = run(fixes)
    (visit,) = visits(facts)
    assert visit.inferred
    assert visit.seconds == pytest.approx(150.0 / SPEED_MPS, abs=2.0)
    assert visit.start == pytest.approx(fixes[1].ts - 75.0 / SPEED_MPS, abs=0.01)
    assert visit.end == pytest.approx(fixes[1].ts + 75.0 / SPEED_MPS, abs=0.01)
    assert not visit.qualifying
    assert visit.drive_through
    assert inferred_dose(facts) == pytest.approx(visit.seconds)
    assert observed_dose(facts) == 0


def test_one_fix_inside_without_crossings_is_still_no_visit() -> None:
    fixes = drive(75.0 - STRIDE_M)
    _, facts = feed(fixes, CAR)
    assert visits(facts) == []


def test_segment_that_misses_the_area_makes_no_visit() -> None:
    assert visits(run(drive(-300.0, north_m=400.0))[1]) == []
    # Past a corner, 10 m from it: inside the exit buffer, never inside the polygon.
    beside = [fix(0, -100, 160), fix(30, 260, 160), fix(60, 620, 160)]
    assert visits(run(beside)[1]) == []


def test_segment_longer_than_max_gap_makes_no_visit() -> None:
    slow = [fix(0, -300, 75), fix(POLICY.max_gap_s + 1, 480, 75), fix(700, 1200, 75)]
    assert visits(run(slow)[1]) == []


def test_one_fix_inside_after_a_gap_makes_no_visit() -> None:
    fixes = [fix(0, -700, 75), fix(400, 75, 75), fix(460, 855, 75)]
    assert visits(run(fixes)[1]) == []


def test_segment_at_an_implausible_speed_makes_no_visit() -> None:
    fixes = [fix(0, -300, 75), fix(10, 480, 75)]  # 78 m/s
    _, facts = run(fixes)
    assert [f.reason for f in facts if isinstance(f, FixRejected)] == ["implausible_speed"]
    assert visits(facts) == []


def test_two_fixes_inside_make_an_ordinary_visit_only() -> None:
    fixes = [fix(0, -60, 75), fix(30, 40, 75), fix(60, 110, 75), fix(90, 300, 75)]
    fixes += [fix(120, 400, 75), fix(150, 500, 75), fix(180, 600, 75)]
    _, facts = run(fixes, CAR)
    (visit,) = visits(facts)
    assert not visit.inferred
    assert visit.start == fixes[1].ts
    assert inferred_dose(facts) == 0


def test_a_pass_through_overlapping_areas_makes_an_inferred_visit_in_each() -> None:
    crossing = [fix(0, -400, 75), fix(40, 500, 75)]  # through A (0..150) and B (100..250)
    _, facts = run(crossing, index=INDEX)
    assert [(v.area_id, v.inferred) for v in visits(facts)] == [("A", True), ("B", True)]
    a, b = visits(facts)
    assert a.seconds == pytest.approx(40 * 150 / 900, abs=0.01)
    assert b.seconds == pytest.approx(40 * 150 / 900, abs=0.01)


def test_assigned_area_makes_reactive_inferred_dose() -> None:
    assigned = FixContext(role="response", device="vehicle", assigned_areas=frozenset({"X"}))
    _, facts = run(drive(-300.0), context=assigned)
    (visit,) = visits(facts)
    assert visit.activity == "reactive"
    assert {f.activity for f in facts if isinstance(f, DoseAccrued)} == {"reactive"}


def test_an_inferred_visit_and_its_dose_carry_the_officers_unit() -> None:
    unit = FixContext(role="response", device="vehicle", unit="Birmingham East Response")
    _, facts = run(drive(-300.0), context=unit)
    (visit,) = visits(facts)
    assert visit.inferred
    assert visit.unit == "Birmingham East Response"
    assert {f.unit for f in facts if isinstance(f, DoseAccrued)} == {"Birmingham East Response"}


def test_stored_track_keeps_a_pending_entrys_inferred_part() -> None:
    fixes = drive(75.0 - STRIDE_M)
    track, _ = run(fixes[:2])
    settled = Track(track.issi, track.recent[-1].state, (), track.watermark, track.revisions)
    assert settled.settled.entry_parts
    loaded = track_from_json(track_to_json(settled), POLICY, SQUARE)
    assert loaded == settled
    assert track_from_json(track_to_json(track), POLICY, SQUARE) == track


def test_a_late_fix_inside_turns_a_crossing_into_one_visit() -> None:
    fixes = drive(75.0 - STRIDE_M)
    in_order = visits(run(fixes)[1])
    late = visits(run([fixes[0], fixes[2], fixes[1], fixes[3]])[1])
    assert [replace_revision(v) for v in late] == [replace_revision(v) for v in in_order]
    assert len(late) == 1


def replace_revision(visit: Visit) -> Visit:
    return replace(visit, revision=0)


@settings(max_examples=200, deadline=None)
@given(journeys())
def test_shuffling_within_lateness_gives_in_order_inferred_visits(
    journey_and_delays: Journey,
) -> None:
    journey, _, _ = journey_and_delays
    arrival = arrival_order(journey_and_delays)
    in_order, in_order_facts = feed(
        [f for f, _ in journey], [c for _, c in journey], crossings=INDEX
    )
    shuffled, shuffled_facts = feed(
        [journey[i][0] for i in arrival], [journey[i][1] for i in arrival], crossings=INDEX
    )
    assert visits(shuffled_facts) == visits(in_order_facts)
    assert dose_by_minute(shuffled_facts) == dose_by_minute(in_order_facts)
    assert inferred_dose(shuffled_facts) == pytest.approx(inferred_dose(in_order_facts))
    assert presence(shuffled_facts) == presence(in_order_facts)
    assert (shuffled.settled, shuffled.recent) == (in_order.settled, in_order.recent)
    reloaded = track_from_json(track_to_json(in_order), POLICY, INDEX)
    assert (reloaded.settled, reloaded.recent) == (in_order.settled, in_order.recent)


@settings(max_examples=200, deadline=None)
@given(journeys())
def test_inferred_visits_are_closed_drive_throughs_with_their_dose(
    journey_and_delays: Journey,
) -> None:
    journey, _, _ = journey_and_delays
    _, facts = feed([f for f, _ in journey], [c for _, c in journey], crossings=INDEX)
    inferred = [v for v in visits(facts) if v.inferred]
    for visit in inferred:
        assert (visit.status, visit.drive_through, visit.qualifying) == ("closed", True, False)
        assert visit.end is not None
        assert visit.start <= visit.end
        assert visit.seconds <= visit.end - visit.start + 1e-6
    assert inferred_dose(facts) == pytest.approx(sum(v.seconds for v in inferred), abs=1e-6)
    ordinary = [v for v in visits(facts) if not v.inferred]
    for visit in inferred:  # never inside a visit the entry rule made in the same area
        for other in ordinary:
            if other.area_id == visit.area_id and other.end is not None:
                assert visit.end is not None
                assert visit.end <= other.start or visit.start >= other.end


def test_the_fence_index_cuts_a_segment_where_it_runs_inside_an_area() -> None:
    start, end = fix(0, -150, 75), fix(60, 450, 75)  # 600 m east along the square's middle
    (crossing,) = SQUARE.crossings(start.lon, start.lat, end.lon, end.lat)
    assert crossing.area_id == "X"
    assert crossing.enter == pytest.approx(0.25, abs=1e-4)
    assert crossing.leave == pytest.approx(0.5, abs=1e-4)
    assert crossing.inside == pytest.approx(0.25, abs=1e-4)
    assert SQUARE.crossings(start.lon, start.lat, end.lon, end.lat, skip={"X"}) == ()
    above = fix(0, -150, 175), fix(60, 450, 175)
    assert SQUARE.crossings(above[0].lon, above[0].lat, above[1].lon, above[1].lat) == ()
    assert SQUARE.crossings(start.lon, start.lat, start.lon, start.lat) == ()
