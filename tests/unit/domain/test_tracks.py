"""Behaviour of one radio's track: hysteresis, visits, dose, event time, storage."""

from __future__ import annotations

import json
import math
import random
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from streams.domain.areas import AreaDefinition
from streams.domain.dose import minute_buckets
from streams.domain.fences import FenceIndex
from streams.domain.fixes import Fix
from streams.domain.publication import visit_value
from streams.domain.tracks import (
    DoseAccrued,
    Fact,
    FixContext,
    FixRejected,
    MembershipChanged,
    Policy,
    SegmentCrossings,
    Track,
    Visit,
    VisitRecorded,
    advance,
    advance_at,
    clock_settles,
    expire,
    forget_after_s,
    forgettable,
    needs_expiry,
    new_track,
    recontext,
    track_from_json,
    track_to_json,
)

ISSI = "2350001"
ORIGIN_LAT = 51.5
ORIGIN_LON = -0.12
METRES_PER_DEGREE = 111_195.0
T0 = 1_763_700_000.0  # a whole minute
POLICY = Policy()

FOOT = FixContext(role="neighbourhood", device="handheld", callsign="NH1")
CAR = FixContext(role="response", device="vehicle", callsign="RV1")


def lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    """WGS84 lon/lat of a point ``east_m``, ``north_m`` from the test origin."""
    lat = ORIGIN_LAT + north_m / METRES_PER_DEGREE
    lon = ORIGIN_LON + east_m / (METRES_PER_DEGREE * math.cos(math.radians(ORIGIN_LAT)))
    return lon, lat


def square(area_id: str, west_m: float, south_m: float, side_m: float) -> AreaDefinition:
    """A square impact area with its south-west corner at (west_m, south_m)."""
    corners = [
        lonlat(west_m, south_m),
        lonlat(west_m + side_m, south_m),
        lonlat(west_m + side_m, south_m + side_m),
        lonlat(west_m, south_m + side_m),
    ]
    return AreaDefinition(area_id=area_id, name=area_id, kind="impact", geometry=Polygon(corners))


# Area A is a 150 m square at the origin; B overlaps A's eastern 50 m.
INDEX = FenceIndex([square("A", 0, 0, 150), square("B", 100, 0, 150)])
IN_A = (50.0, 75.0)
IN_A_AND_B = (125.0, 75.0)
OUTSIDE = (400.0, 75.0)


def fix(at_s: float, east_m: float, north_m: float) -> Fix:
    """A fix ``at_s`` seconds after T0 at a point relative to the origin."""
    lon, lat = lonlat(east_m, north_m)
    return Fix(issi=ISSI, ts=T0 + at_s, lat=lat, lon=lon)


def feed(
    fixes: Iterable[Fix],
    context: FixContext | Sequence[FixContext] = FOOT,
    track: Track | None = None,
    policy: Policy = POLICY,
    crossings: SegmentCrossings | None = None,
) -> tuple[Track, list[Fact]]:
    """Advance a track through ``fixes`` in the order given; return it and every fact (with
    ``crossings``, the fence index, inferred visits too)."""
    fix_list = list(fixes)
    contexts = [context] * len(fix_list) if isinstance(context, FixContext) else list(context)
    locations = INDEX.locate([f.lon for f in fix_list], [f.lat for f in fix_list])
    current = track if track is not None else new_track(ISSI)
    facts: list[Fact] = []
    for one_fix, one_location, one_context in zip(fix_list, locations, contexts, strict=True):
        current, produced = advance(current, one_fix, one_location, one_context, policy, crossings)
        facts.extend(produced)
    return current, facts


def visits(facts: Iterable[Fact]) -> list[Visit]:
    """What a consumer ends up with: the highest revision of each visit, retractions removed."""
    latest: dict[str, Visit] = {}
    for fact in facts:
        if isinstance(fact, VisitRecorded):
            visit = fact.visit
            known = latest.get(visit.visit_id)
            assert known is None or visit.revision == known.revision + 1
            latest[visit.visit_id] = visit
    return sorted(
        (replace(v, revision=0) for v in latest.values() if v.status != "retracted"),
        key=lambda v: (v.start, v.area_id),
    )


def dose_seconds(facts: Iterable[Fact], area_id: str | None = None) -> float:
    return sum(
        f.seconds
        for f in facts
        if isinstance(f, DoseAccrued) and (area_id is None or f.area_id == area_id)
    )


def dose_by_minute(facts: Iterable[Fact]) -> dict[object, float]:
    merged: dict[object, float] = {}
    for fact in facts:
        if isinstance(fact, DoseAccrued):
            for bucket, seconds in minute_buckets(fact).items():
                merged[bucket] = merged.get(bucket, 0.0) + seconds
    return {key: round(value, 6) for key, value in merged.items() if abs(value) > 1e-6}


def presence(facts: Iterable[Fact]) -> dict[str, tuple[str, str]]:
    present: dict[str, tuple[str, str]] = {}
    for fact in facts:
        if isinstance(fact, MembershipChanged):
            if fact.present:
                present[fact.area_id] = (fact.role, fact.mode)
            else:
                present.pop(fact.area_id, None)
    return present


def stay(start_s: float, end_s: float, interval_s: float, place: tuple[float, float]) -> list[Fix]:
    """Fixes every ``interval_s`` from ``start_s`` up to ``end_s`` at one place, with the metre
    or two of wander of a receiver standing still (exactly repeated coordinates are a stuck
    radio)."""
    count = int((end_s - start_s) // interval_s) + 1
    wander = ((0.0, 0.0), (1.5, -1.0), (-1.0, 2.0), (0.5, 1.0))
    return [
        fix(start_s + i * interval_s, place[0] + wander[i % 4][0], place[1] + wander[i % 4][1])
        for i in range(count)
    ]


# --------------------------------------------------------------------------------------------
# Hysteresis, visits and dose.


@pytest.mark.parametrize("seed", range(10))
def test_jitter_on_border_makes_one_visit(seed: int) -> None:
    noise = random.Random(seed)
    on_border = (150.0, 75.0)  # the middle of A's eastern edge (and well inside B)
    fixes = [
        fix(i * 30, on_border[0] + noise.gauss(0, 15), on_border[1] + noise.gauss(0, 15))
        for i in range(121)
    ]
    _, facts = feed(fixes)
    assert len([v for v in visits(facts) if v.area_id == "A"]) <= 1


def test_sparse_pings_through_small_area_still_make_a_visit() -> None:
    walk_in = [fix(0, -300, 75), fix(120, -100, 75)]
    inside = stay(240, 840, 120, (75, 75))  # ten minutes at the centre
    walk_out = [fix(960, 250, 75), fix(1080, 450, 75)]
    _, facts = feed([*walk_in, *inside, *walk_out])
    (visit,) = [v for v in visits(facts) if v.area_id == "A"]
    assert visit.status == "closed"
    assert visit.start == T0 + 240
    assert visit.end == T0 + 960
    assert visit.qualifying


def test_twenty_minute_stay_is_one_qualifying_visit() -> None:
    fixes = [fix(0, -200, 75), *stay(30, 30 + 1200, 30, IN_A), fix(1260, -200, 75)]
    for later in range(1290, 1500, 30):
        fixes.append(fix(later, -200, 75))
    _, facts = feed(fixes)
    (visit,) = visits(facts)
    assert visit.status == "closed"
    assert visit.qualifying
    assert not visit.drive_through
    assert visit.seconds == pytest.approx(1200, abs=60)
    assert visit.credited_seconds == pytest.approx(1200, abs=60)
    assert dose_seconds(facts) == pytest.approx(1200, abs=60)
    assert dose_seconds(facts) == pytest.approx(visit.seconds)
    assert (visit.mode, visit.activity, visit.role) == ("foot", "proactive", "neighbourhood")


def test_one_fix_inside_is_not_a_visit() -> None:
    _, facts = feed([fix(0, -200, 75), fix(30, *IN_A), fix(60, -200, 75)])
    assert visits(facts) == []
    assert dose_seconds(facts) == 0


def test_short_visit_is_a_drive_through() -> None:
    _, facts = feed([fix(0, -200, 75), *stay(30, 90, 30, IN_A), *stay(120, 240, 30, OUTSIDE)], CAR)
    (visit,) = visits(facts)
    assert visit.drive_through
    assert visit.seconds == 90


def test_visit_ends_at_first_fix_outside_the_buffer() -> None:
    fixes = [*stay(0, 300, 30, IN_A), fix(330, 160, 75)]  # 10 m outside: still near
    fixes += stay(360, 480, 30, OUTSIDE)
    _, facts = feed(fixes)
    (visit,) = visits(facts)
    assert visit.end == T0 + 360
    assert visit.seconds == 360
    assert dose_seconds(facts) == 360


def test_one_stray_fix_outside_the_buffer_does_not_end_the_visit() -> None:
    fixes = [*stay(0, 300, 30, IN_A), fix(330, *OUTSIDE), *stay(360, 600, 30, IN_A)]
    _, facts = feed(fixes)
    (visit,) = visits(facts)
    assert visit.status == "open"
    assert dose_seconds(facts) == 600
    assert presence(facts) == {"A": ("neighbourhood", "foot")}


def test_gap_over_max_gap_adds_no_dose() -> None:
    before = stay(0, 300, 30, IN_A)
    after = stay(301 + POLICY.max_gap_s, 600 + POLICY.max_gap_s, 30, IN_A)
    _, facts = feed([*before, *after])
    first, second = visits(facts)
    assert first.end == T0 + 300
    assert first.seconds == 300
    assert second.start == T0 + 301 + POLICY.max_gap_s
    assert dose_seconds(facts) == pytest.approx(300 + (after[-1].ts - after[0].ts))


def test_gap_within_max_gap_counts_as_presence() -> None:
    _, facts = feed([*stay(0, 60, 30, IN_A), *stay(60 + POLICY.max_gap_s, 400, 30, IN_A)])
    (visit,) = visits(facts)
    assert dose_seconds(facts) == pytest.approx(
        60 + POLICY.max_gap_s + (400 - 60 - POLICY.max_gap_s) // 30 * 30
    )
    assert visit.status == "open"


def test_overlapping_areas_give_two_visits() -> None:
    _, facts = feed(
        [fix(0, *OUTSIDE), *stay(30, 630, 30, IN_A_AND_B), *stay(660, 780, 30, OUTSIDE)]
    )
    assert sorted(v.area_id for v in visits(facts)) == ["A", "B"]
    assert dose_seconds(facts, "A") == dose_seconds(facts, "B") == 630


def test_vehicle_device_gives_vehicle_mode() -> None:
    _, facts = feed([*stay(0, 300, 30, IN_A), *stay(330, 400, 30, OUTSIDE)], CAR)
    (visit,) = visits(facts)
    assert visit.mode == "vehicle"
    assert {f.mode for f in facts if isinstance(f, DoseAccrued)} == {"vehicle"}


def test_sustained_speed_gives_vehicle_mode() -> None:
    # A handheld moving 8 m/s round A for five minutes: a patrol car with a personal radio.
    ring = [(10 + 130 * (i % 2), 10 + 130 * ((i // 2) % 2)) for i in range(20)]
    fixes = [fix(i * 20, *place) for i, place in enumerate(ring)]
    fixes += stay(400, 500, 20, (-400, 75))
    _, facts = feed(fixes)
    (visit,) = [v for v in visits(facts) if v.area_id == "A"]
    assert visit.mode == "vehicle"


def test_walking_is_foot_mode() -> None:
    _, facts = feed(stay(0, 600, 30, IN_A))
    assert visits(facts)[0].mode == "foot"
    assert presence(facts) == {"A": ("neighbourhood", "foot")}


def test_assigned_area_gives_reactive_activity() -> None:
    attending = replace(CAR, assigned_areas=frozenset({"A"}))
    _, facts = feed([*stay(0, 600, 30, IN_A), *stay(630, 700, 30, OUTSIDE)], attending)
    (visit,) = visits(facts)
    assert visit.activity == "reactive"
    assert {f.activity for f in facts if isinstance(f, DoseAccrued)} == {"reactive"}


def test_new_context_applies_from_its_fix_on() -> None:
    fixes = stay(0, 600, 30, IN_A)
    contexts = [FOOT] * 10 + [CAR] * (len(fixes) - 10)
    _, facts = feed(fixes, contexts)
    doses = [f for f in facts if isinstance(f, DoseAccrued)]
    assert {(d.role, d.mode) for d in doses if d.end <= T0 + 300} == {("neighbourhood", "foot")}
    assert {(d.role, d.mode) for d in doses if d.start >= T0 + 300} == {("response", "vehicle")}
    assert presence(facts) == {"A": ("response", "vehicle")}
    assert visits(facts)[0].role == "neighbourhood"


def test_visit_carries_its_radios_unit() -> None:
    npt = replace(FOOT, unit="Birmingham East NPT")
    _, facts = feed([*stay(0, 600, 30, IN_A), *stay(630, 720, 30, OUTSIDE)], npt)

    (visit,) = visits(facts)
    assert visit.unit == "Birmingham East NPT"
    assert visit_value(b"k" * 16, visit)["unit"] == "Birmingham East NPT"
    assert {f.unit for f in facts if isinstance(f, DoseAccrued)} == {"Birmingham East NPT"}
    assert {f.unit for f in facts if isinstance(f, MembershipChanged)} == {"Birmingham East NPT"}


def test_a_radio_not_on_the_roster_has_the_unknown_unit() -> None:
    _, facts = feed(stay(0, 600, 30, IN_A), FixContext(role="unknown", device="handheld"))

    assert visits(facts)[0].unit == "unknown"


def test_a_unit_change_applies_from_its_fix_on() -> None:
    fixes = stay(0, 600, 30, IN_A)
    east, west = replace(FOOT, unit="East NPT"), replace(FOOT, unit="West NPT")
    _, facts = feed(fixes, [east] * 10 + [west] * (len(fixes) - 10))

    doses = [f for f in facts if isinstance(f, DoseAccrued)]
    assert {d.unit for d in doses if d.end <= T0 + 300} == {"East NPT"}
    assert {d.unit for d in doses if d.start >= T0 + 300} == {"West NPT"}
    changes = [f for f in facts if isinstance(f, MembershipChanged)]
    assert [(c.present, c.unit) for c in changes] == [(True, "East NPT"), (True, "West NPT")]
    assert visits(facts)[0].unit == "East NPT"  # the unit when the visit started, as its role


def test_teleport_fix_is_rejected_as_implausible_speed() -> None:
    teleport = fix(330, 50_000, 0)
    _, facts = feed([*stay(0, 300, 30, IN_A), teleport, *stay(360, 600, 30, IN_A)])
    assert FixRejected(teleport, "implausible_speed") in facts
    (visit,) = visits(facts)
    assert visit.status == "open"
    assert dose_seconds(facts) == 600


def test_agreeing_outliers_reset_a_track_poisoned_by_a_bad_first_fix() -> None:
    bad_first = fix(0, 80_000, 0)
    inside = stay(30, 900, 30, IN_A)
    _, facts = feed([bad_first, *inside])
    rejected = [f.fix for f in facts if isinstance(f, FixRejected)]
    assert rejected == inside[:2]
    (visit,) = visits(facts)
    assert visit.start == T0 + 90
    assert visit.qualifying


def test_duplicate_fix_changes_nothing() -> None:
    fixes = stay(0, 300, 30, IN_A)
    track, _ = feed(fixes)
    for again in (fixes[-1], fixes[-3]):
        same, facts = advance(track, again, INDEX.locate([again.lon], [again.lat])[0], FOOT, POLICY)
        assert same is track
        assert facts == [FixRejected(again, "duplicate")]


def test_too_late_fix_is_rejected() -> None:
    track, _ = feed(stay(0, 600, 30, IN_A))
    late = fix(600 - POLICY.allowed_lateness_s - 1, *OUTSIDE)
    same, facts = advance(track, late, INDEX.locate([late.lon], [late.lat])[0], FOOT, POLICY)
    assert same is track
    assert facts == [FixRejected(late, "too_late")]


def test_late_fix_that_breaks_an_entry_retracts_the_visit() -> None:
    track, facts = feed([fix(0, *OUTSIDE), fix(60, *IN_A), fix(120, *IN_A)])
    assert [v.status for v in visits(facts)] == ["open"]
    _, correction = feed([fix(90, -100, 75)], track=track)  # outside, between the two
    retracted = [f.visit for f in correction if isinstance(f, VisitRecorded)]
    assert [(v.status, v.revision) for v in retracted] == [("retracted", 1)]
    assert dose_seconds(facts + correction) == 0
    assert visits(facts + correction) == []
    assert presence(facts + correction) == {}


def test_late_fix_inside_a_gap_joins_two_visits() -> None:
    before = stay(0, 120, 30, IN_A)
    after = [fix(430, *IN_A), fix(460, *IN_A)]  # 310 s after the last fix before
    track, facts = feed([*before, *after])
    assert [v.status for v in visits(facts)] == ["closed", "open"]
    assert dose_seconds(facts) == 120 + 30
    _, correction = feed([fix(350, *IN_A)], track=track)
    (joined,) = visits(facts + correction)
    assert joined.start == T0
    assert joined.status == "open"
    assert dose_seconds(facts + correction) == pytest.approx(460)
    assert presence(facts + correction) == {"A": ("neighbourhood", "foot")}


# --------------------------------------------------------------------------------------------
# Event time: shuffling within the lateness gives what in-order processing gives.

PLACES = {
    "in_a": IN_A,
    "in_a_and_b": IN_A_AND_B,
    "a_border": (150.0, 75.0),
    "near_a": (-15.0, 75.0),
    "outside": OUTSIDE,
    "far": (20_000.0, 0.0),
}
CONTEXTS = [
    FOOT,
    CAR,
    replace(FOOT, assigned_areas=frozenset({"A"})),
    replace(
        CAR,
        assigned_areas=frozenset({"A", "B"}),
        incident_categories=(("A", "burglary"), ("B", "theft")),
        stop_searches=frozenset({(T0 + 185.0, "A"), (T0 + 545.0, "B")}),
    ),
    replace(FOOT, unit="West NPT"),
    replace(
        FOOT,
        assigned_areas=frozenset({"A"}),
        incident_categories=(("A", "burglary"),),
        unit="West NPT",
    ),
]


Journey = tuple[list[tuple[Fix, FixContext]], list[float], list[tuple[int, float]]]


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    """Fixes of one radio with contexts, an arrival delay within the lateness for each, and
    re-sent copies of some fixes (index, delay) that may arrive at any time."""
    count = draw(st.integers(min_value=3, max_value=40))
    at_s = 0.0
    journey: list[tuple[Fix, FixContext]] = []
    for _ in range(count):
        at_s += draw(st.sampled_from([5.0, 20.0, 30.0, 30.0, 45.0, 120.0, 280.0, 400.0]))
        east_m, north_m = PLACES[draw(st.sampled_from(sorted(PLACES)))]
        jitter = draw(st.tuples(st.integers(-12, 12), st.integers(-12, 12)))
        one = fix(at_s, east_m + jitter[0], north_m + jitter[1])
        journey.append((one, draw(st.sampled_from(CONTEXTS))))
    lateness = st.floats(min_value=0, max_value=POLICY.allowed_lateness_s)
    delays = draw(st.lists(lateness, min_size=count, max_size=count))
    resent = draw(
        st.lists(st.tuples(st.integers(0, count - 1), st.floats(0, 4 * POLICY.max_gap_s)))
    )
    return journey, delays, resent


def arrival_order(journey_and_delays: Journey) -> list[int]:
    """Indices of the journey's fixes in the order they arrive: each after its delay, and each
    resent one again after its extra delay."""
    journey, delays, resent = journey_and_delays
    deliveries = [
        (f.ts + delay, i) for i, ((f, _), delay) in enumerate(zip(journey, delays, strict=True))
    ]
    deliveries += [(journey[i][0].ts + delays[i] + extra, i) for i, extra in resent]
    return [i for _, i in sorted(deliveries)]


@settings(max_examples=300, deadline=None)
@given(journeys())
def test_shuffling_within_lateness_gives_in_order_results(journey_and_delays: Journey) -> None:
    journey, _, resent = journey_and_delays
    arrival = arrival_order(journey_and_delays)
    in_order, in_order_facts = feed([f for f, _ in journey], [c for _, c in journey])
    shuffled, shuffled_facts = feed(
        [journey[i][0] for i in arrival], [journey[i][1] for i in arrival]
    )
    rejected = [f for f in shuffled_facts if isinstance(f, FixRejected)]
    assert sum(f.reason in ("duplicate", "too_late") for f in rejected) == len(resent)
    assert visits(shuffled_facts) == visits(in_order_facts)
    assert dose_by_minute(shuffled_facts) == dose_by_minute(in_order_facts)
    assert presence(shuffled_facts) == presence(in_order_facts)
    assert (shuffled.settled, shuffled.recent) == (in_order.settled, in_order.recent)


# --------------------------------------------------------------------------------------------
# The clock.


def test_expire_closes_a_visit_when_the_radio_falls_silent() -> None:
    track, facts = feed(stay(0, 900, 30, IN_A))
    quiet, nothing = expire(track, T0 + 900 + POLICY.max_gap_s, POLICY)
    assert nothing == []
    closed, closing = expire(quiet, T0 + 900 + POLICY.max_gap_s + 1, POLICY)
    (visit,) = visits(facts + closing)
    assert (visit.status, visit.end, visit.seconds) == ("closed", T0 + 900, 900)
    assert presence(facts + closing) == {}
    again, repeated = expire(closed, T0 + 3000, POLICY)
    assert repeated == []
    _, resumed = feed(stay(4000, 4100, 30, IN_A), track=again)
    assert visits(facts + closing + resumed)[0] == visit  # no second closing of the same visit
    assert len(visits(facts + closing + resumed)) == 2


def test_late_fix_after_expire_reopens_the_visit() -> None:
    track, facts = feed(stay(0, 300, 30, IN_A))
    now = T0 + 300 + POLICY.max_gap_s + 1
    track, closing = expire(track, now, POLICY)
    assert visits(facts + closing)[0].status == "closed"
    late = fix(now - T0 - 60, *IN_A)  # within the lateness, and within max_gap of the last fix
    _, reopened = feed([late], track=track)
    everything = facts + closing + reopened
    (visit,) = visits(everything)
    assert visit.status == "open"
    assert presence(everything) == {"A": ("neighbourhood", "foot")}
    assert dose_seconds(everything) == pytest.approx(late.ts - T0)


def test_expire_settles_recent_fixes() -> None:
    track, _ = feed(stay(0, 300, 30, IN_A))
    settled, _ = expire(track, T0 + 300 + POLICY.allowed_lateness_s + 1, POLICY)
    assert settled.recent == ()
    assert settled.settled == track.state


@settings(max_examples=150, deadline=None)
@given(
    stay_s=st.integers(0, 1500),
    silent_s=st.floats(0, 3 * 3600),
    step_s=st.sampled_from([10, 30, 120]),
)
def test_a_track_that_needs_no_expiry_is_unchanged_by_expire(
    stay_s: int, silent_s: float, step_s: int
) -> None:
    track, _ = feed(stay(0, stay_s, step_s, IN_A))
    now = T0 + stay_s + silent_s
    if not needs_expiry(track, now, POLICY):
        expired, facts = expire(track, now, POLICY)
        assert facts == []
        assert (expired.settled, expired.recent, expired.revisions) == (
            track.settled,
            track.recent,
            track.revisions,
        )
    closed, _ = expire(track, now, POLICY)
    assert not needs_expiry(closed, now, POLICY)


def test_the_clock_leaves_an_active_radio_to_settle_with_its_next_fix() -> None:
    track, _ = feed(stay(0, 300, 30, IN_A))
    now = T0 + 300 + POLICY.allowed_lateness_s / 2  # the last fix is within the lateness
    assert needs_expiry(track, now, POLICY)
    assert not clock_settles(track, now, POLICY)
    after, _ = feed([fix(330, *IN_A)], track=track)
    assert after.recent[0].fix.ts >= after.watermark - POLICY.allowed_lateness_s


def test_the_clock_settles_a_radio_silent_past_the_lateness() -> None:
    track, _ = feed(stay(0, 300, 30, IN_A))
    assert clock_settles(track, T0 + 300 + POLICY.allowed_lateness_s + 1, POLICY)


def clock_ticked(
    fixes: Sequence[Fix], tick_s: float, due: Callable[[Track, float, Policy], bool]
) -> list[tuple[float, Fact]]:
    """Every fact of ``fixes`` fed in order, with the event time it was published at, with a
    clock tick every ``tick_s`` seconds between them (and for an hour after the last) expiring
    the track whenever ``due`` says so."""
    track = new_track(ISSI)
    facts: list[tuple[float, Fact]] = []
    clock = fixes[0].ts
    for one_fix in [*fixes, None]:
        until = one_fix.ts if one_fix is not None else clock + 3600
        while clock + tick_s < until:
            clock += tick_s
            if due(track, clock, POLICY):
                track, expired = expire(track, clock, POLICY)
                facts.extend((clock, fact) for fact in expired)
        if one_fix is not None:
            track, produced = feed([one_fix], track=track)
            facts.extend((one_fix.ts, fact) for fact in produced)
    return facts


@settings(max_examples=100, deadline=None)
@given(
    stays=st.lists(
        st.tuples(st.sampled_from([IN_A, IN_A_AND_B, OUTSIDE]), st.integers(1, 12)),
        min_size=1,
        max_size=6,
    ),
    step_s=st.sampled_from([10, 30, 90]),
    silences=st.lists(st.sampled_from([0, 0, 200, 600]), min_size=6, max_size=6),
    tick_s=st.sampled_from([1.0, 7.0, 45.0]),
)
def test_leaving_active_radios_to_their_next_fix_changes_nothing_published(
    stays: list[tuple[tuple[float, float], int]],
    step_s: int,
    silences: list[int],
    tick_s: float,
) -> None:
    fixes: list[Fix] = []
    at = 0.0
    for (place, count), silence in zip(stays, silences, strict=False):
        for _ in range(count):
            fixes.append(fix(at, *place))
            at += step_s
        at += silence
    assert clock_ticked(fixes, tick_s, clock_settles) == clock_ticked(fixes, tick_s, needs_expiry)


# --------------------------------------------------------------------------------------------
# Forgetting a radio silent for good.

MAX_AGE_S = 86400.0


def at_rest(fixes: Sequence[Fix], tick_s: float = 60.0) -> tuple[Track, float]:
    """The track of ``fixes`` fed in order with the clock ticking after them (expiring it when
    :func:`clock_settles` says so) until it needs nothing more; and that time."""
    track, _ = feed(fixes)
    clock = fixes[-1].ts
    while clock < fixes[-1].ts + 3600:
        clock += tick_s
        if clock_settles(track, clock, POLICY):
            track, _ = expire(track, clock, POLICY)
    return track, clock


def test_a_radio_silent_for_good_is_forgotten_but_not_while_a_visit_is_open_or_recent() -> None:
    fixes = [fix(0, -200, 75), *stay(30, 30 + 900, 30, IN_A)]
    horizon = forget_after_s(POLICY, MAX_AGE_S)
    last = fixes[-1].ts
    in_visit, _ = feed(fixes)
    rested, _ = at_rest(fixes)

    assert 8 * 86400 < horizon < 9 * 86400
    assert not forgettable(in_visit, last + 2 * horizon, POLICY, MAX_AGE_S)  # visit still open
    assert not forgettable(rested, last + horizon - 60, POLICY, MAX_AGE_S)
    assert forgettable(rested, last + horizon + 3600, POLICY, MAX_AGE_S)
    assert not forgettable(new_track(ISSI), last + 2 * horizon, POLICY, MAX_AGE_S)


@settings(max_examples=200, deadline=None)
@given(
    journey_and_delays=journeys(),
    later_s=st.floats(min_value=0, max_value=MAX_AGE_S),
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
)
def test_forgetting_a_forgettable_track_changes_nothing_a_later_fix_does(
    journey_and_delays: Journey, later_s: float, lat: float, lon: float
) -> None:
    journey = journey_and_delays[0]
    track, rested_at = at_rest([f for f, _ in journey])
    now = rested_at + forget_after_s(POLICY, MAX_AGE_S)
    assert forgettable(track, now, POLICY, MAX_AGE_S)  # every radio that falls silent
    # any fix still accepted at ``now`` or later (no older than MAX_AGE_S, anywhere on Earth),
    # then one more 30 s on at the same place
    first = Fix(issi=ISSI, ts=now - MAX_AGE_S + later_s, lat=lat, lon=lon)
    then = replace(first, ts=first.ts + 30)
    kept, afresh = track, new_track(ISSI)
    for one in (first, then):
        (location,) = INDEX.locate([one.lon], [one.lat])
        kept, kept_facts = advance(kept, one, location, CAR, POLICY)
        afresh, afresh_facts = advance(afresh, one, location, CAR, POLICY)
        assert kept_facts == afresh_facts
        assert kept.state == afresh.state


# --------------------------------------------------------------------------------------------
# Storage.


def test_serialisation_round_trip_preserves_behaviour() -> None:
    fixes = [*stay(0, 600, 30, IN_A_AND_B), fix(615, *OUTSIDE)]
    contexts = [replace(FOOT, assigned_areas=frozenset({"B"}))] * len(fixes)
    track, _ = feed(fixes, contexts)
    restored = track_from_json(track_to_json(track), POLICY)
    assert restored == track
    more = [fix(600 - 45, *IN_A), *stay(630, 700, 30, OUTSIDE)]  # one late, then in order
    assert feed(more, track=restored) == feed(more, track=track)


def test_units_survive_storage_and_a_track_stored_without_them_reads_as_unknown() -> None:
    east = replace(FOOT, unit="East NPT", assigned_areas=frozenset({"B"}))
    fixes = [*stay(0, 600, 30, IN_A_AND_B), fix(615, *OUTSIDE), fix(640, *OUTSIDE)]  # dose held
    track, _ = feed(fixes, east)
    stored = track_to_json(track)
    assert track_from_json(stored, POLICY) == track
    assert {m.unit for m in track.state.memberships} == {"East NPT"}
    assert {d.unit for m in track.state.memberships for d in m.deferred} == {"East NPT"}

    legacy = track_from_json(stored.replace(b',"East NPT"', b""), POLICY)
    assert {m.unit for m in legacy.state.memberships} == {"unknown"}
    assert legacy.state.context == replace(east, unit="unknown")


def test_stored_forms_keep_the_unit_before_the_incident_marks_and_omit_trailing_defaults() -> None:
    """Context ``[role, device, callsign, assigned, unit, categories, stop-searches]``,
    membership ``[...12 items, unit, reactive categories, stop-search]``, dose ``[...6 items,
    unit, incident category, stop-search, inferred]``: each without trailing defaults."""
    context = replace(
        FOOT,
        unit="East NPT",
        assigned_areas=frozenset({"B"}),
        incident_categories=(("B", "burglary"),),
        stop_searches=frozenset({(T0 + 125.0, "A")}),
    )
    fixes = [*stay(0, 600, 30, IN_A_AND_B), fix(615, *OUTSIDE), fix(640, *OUTSIDE)]  # dose held
    track, _ = feed(fixes, context)
    latest = Track(track.issi, track.state, (), track.watermark, track.revisions)
    assert track_from_json(track_to_json(latest), POLICY) == latest

    settled = json.loads(track_to_json(latest))["s"]
    assert settled["c"][3:] == [["B"], "East NPT", [["B", "burglary"]], [[T0 + 125.0, "A"]]]
    in_a, in_b = settled["m"]
    assert in_a[12:] == ["East NPT", [], 1]  # no reactive seconds, a stop-search
    assert in_b[12:] == ["East NPT", [["burglary", 615.0]]]  # reactive, no stop-search
    assert [d[6:] for d in in_a[9]] == [["East NPT"]]
    assert [d[6:] for d in in_b[9]] == [["East NPT", "burglary"]]
    plain = json.loads(track_to_json(feed(fixes, FOOT)[0]))["s"]
    assert plain["c"] == ["neighbourhood", "handheld", "NH1"]
    assert all(len(m) == 12 for m in plain["m"])


def test_stored_track_of_a_typical_radio_is_small() -> None:
    track, _ = feed(stay(0, 1800, 30, IN_A_AND_B), replace(FOOT, assigned_areas=frozenset({"A"})))
    stored = track_to_json(track)
    assert len(stored) < 1500, stored


def test_a_radios_recent_fixes_take_under_a_kilobyte_each_in_memory() -> None:
    # Each recent fix keeps its stored form (JSON); orjson writes it into a buffer of >= 4 KB
    # that it never shrinks, which with 12 recent fixes per radio made 10,000 radios 0.5 GB.
    # A track read back shares its fixes' locations (fences.shared_location): about 1,050 B a
    # fix without that, 850 B with it.
    # The second of two equal sets is measured: the first also fills the process's caches once
    # (how full they already are depends on which tests ran before), which is not per fix.
    fixes = stay(0, 110, 10, IN_A)  # twelve fixes, all within the allowed lateness
    tracemalloc.start()
    try:
        warm = recent_tracks(fixes)
        before, _ = tracemalloc.get_traced_memory()
        tracks = recent_tracks(fixes)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(warm) == len(tracks)
    recent = sum(len(track.recent) for track in tracks)
    assert recent == 30 * 12
    assert (held - before) / recent < 1024


def test_a_track_read_back_shares_its_fixes_locations() -> None:
    track, _ = feed(stay(0, 110, 10, IN_A))
    back = track_from_json(track_to_json(track), POLICY)

    assert back == track
    assert len({id(entry.location) for entry in back.recent}) == 1


def recent_tracks(fixes: list[Fix]) -> list[Track]:
    """Twenty tracks fed ``fixes`` and ten of them read back from their stored form."""
    tracks = [feed(fixes)[0] for _ in range(20)]
    return tracks + [track_from_json(track_to_json(track), POLICY) for track in tracks[:10]]


def _reference_recent(track: Track) -> list[object]:
    """The stored recent fixes of ``track`` computed from scratch, as JSON would read them."""
    stored: list[object] = []
    context = track.settled.context
    for entry in track.recent:
        fix_values: list[object] = [entry.fix.ts, entry.fix.lat, entry.fix.lon]
        fix_values += [entry.fix.accuracy_m, entry.fix.speed_mps, entry.fix.heading_deg]
        while fix_values[-1] is None:
            fix_values.pop()
        inside = sorted(entry.location.inside)
        near_only = sorted(entry.location.near - entry.location.inside)
        stored_context: list[object] | None = None
        if entry.context != context:
            c = entry.context
            full: list[object] = [
                c.role,
                c.device,
                c.callsign,
                sorted(c.assigned_areas),
                c.unit,
                [list(pair) for pair in c.incident_categories],
                [list(pair) for pair in sorted(c.stop_searches)],
            ]
            defaults: list[object] = [None, [], "unknown", [], []]
            while len(full) > 2 and full[-1] == defaults[len(full) - 3]:
                full.pop()
            stored_context = full
        stored.append([fix_values, inside, near_only, stored_context])
        context = entry.context
    return stored


@settings(max_examples=200, deadline=None)
@given(journeys(), st.floats(min_value=0, max_value=4 * POLICY.max_gap_s))
def test_stored_form_does_not_depend_on_arrival_order(
    journey_and_delays: Journey, silence: float
) -> None:
    journey = journey_and_delays[0]
    arrival = arrival_order(journey_and_delays)
    in_order, _ = feed([f for f, _ in journey], [c for _, c in journey])
    shuffled, _ = feed([journey[i][0] for i in arrival], [journey[i][1] for i in arrival])
    expired, _ = expire(shuffled, journey[-1][0].ts + silence, POLICY)
    for track in (in_order, shuffled, expired):
        stored = track_to_json(track)
        assert json.loads(stored).get("r", []) == _reference_recent(track)
        assert track_from_json(stored, POLICY) == track
    # Revisions may differ (late data publishes more of them); settled state and fixes may not.
    shuffled_stored = json.loads(track_to_json(shuffled))
    in_order_stored = json.loads(track_to_json(in_order))
    for key in ("s", "r"):
        assert json.dumps(shuffled_stored.get(key)) == json.dumps(in_order_stored.get(key))


def test_stored_empty_and_expired_tracks_round_trip() -> None:
    assert track_from_json(track_to_json(new_track(ISSI)), POLICY) == new_track(ISSI)
    track, _ = feed(stay(0, 300, 30, IN_A))
    expired, _ = expire(track, T0 + 2000, POLICY)
    assert track_from_json(track_to_json(expired), POLICY) == expired


def test_fix_of_another_radio_is_refused_without_naming_either_radio() -> None:
    """The message of a failure ends up in a deadletter detail and the log: no ISSI in it."""
    other = replace(fix(0, *IN_A), issi="999")
    with pytest.raises(ValueError, match="another radio") as caught:
        advance(new_track(ISSI), other, INDEX.locate([other.lon], [other.lat])[0], FOOT, POLICY)
    assert "999" not in str(caught.value)
    assert ISSI not in str(caught.value)


# --------------------------------------------------------------------------------------------
# A partition in event time: its progress, not when ticks came, decides.

OTHER = "2350002"


def partition_feed(
    arrivals: Sequence[Fix], ticks_after: set[int]
) -> tuple[dict[str, list[Fact]], dict[str, Track]]:
    """Fixes of several radios in one partition, in arrival order, through :func:`advance_at`
    with the partition's progress before each; the clock settles the partition (``expire`` where
    ``clock_settles``, at the progress so far) after each arrival in ``ticks_after``, and at the
    end. Every radio's facts in the order published, and its final track."""
    locations = INDEX.locate([f.lon for f in arrivals], [f.lat for f in arrivals])
    tracks: dict[str, Track] = {}
    facts: dict[str, list[Fact]] = {}
    progress: float | None = None

    def tick(at: float) -> None:
        for issi, track in tracks.items():
            if clock_settles(track, at, POLICY):
                tracks[issi], expired = expire(track, at, POLICY)
                facts[issi].extend(expired)

    for position, (one_fix, location) in enumerate(zip(arrivals, locations, strict=True)):
        issi = one_fix.issi
        track = tracks.get(issi) or new_track(issi)
        tracks[issi], produced = advance_at(track, one_fix, location, FOOT, POLICY, progress)
        facts.setdefault(issi, []).extend(produced)
        progress = one_fix.ts if progress is None else max(progress, one_fix.ts)
        if position in ticks_after:
            tick(progress)
    assert progress is not None
    for issi, track in tracks.items():
        tracks[issi], expired = expire(track, progress + 3600, POLICY)
        facts[issi].extend(expired)
    return facts, tracks


@settings(max_examples=150, deadline=None)
@given(
    first=journeys(),
    second=journeys(),
    ticks_after=st.sets(st.integers(0, 80)),
)
def test_when_the_clock_settles_a_partition_changes_nothing_published(
    first: Journey, second: Journey, ticks_after: set[int]
) -> None:
    arrivals = [first[0][i][0] for i in arrival_order(first)]
    arrivals += [replace(second[0][i][0], issi=OTHER) for i in arrival_order(second)]
    arrivals.sort(key=lambda f: f.ts + (7.0 if f.issi == OTHER else 0.0))  # interleaved, skewed
    untouched, _ = partition_feed(arrivals, set())
    ticked, _ = partition_feed(arrivals, ticks_after)
    assert ticked == untouched


def test_a_fix_older_than_its_partition_progress_less_the_lateness_is_too_late() -> None:
    track, _ = feed(stay(0, 300, 30, IN_A))
    [location] = INDEX.locate([fix(310, *IN_A).lon], [fix(310, *IN_A).lat])
    progress = T0 + 310 + POLICY.allowed_lateness_s + 1
    after, facts = advance_at(track, fix(310, *IN_A), location, FOOT, POLICY, progress)
    assert facts == [FixRejected(fix(310, *IN_A), "too_late")]
    assert after == track
    _, facts = advance_at(track, fix(310, *IN_A), location, FOOT, POLICY, progress - 2)
    assert not any(isinstance(f, FixRejected) for f in facts)


def test_a_fix_sent_again_after_its_partition_moved_on_leaves_the_track_as_it_was() -> None:
    fixes = stay(0, 300, 30, IN_A)
    track, _ = feed(fixes)
    locations = INDEX.locate([f.lon for f in fixes], [f.lat for f in fixes])
    progress = T0 + 3600
    for one_fix, location in zip(fixes, locations, strict=True):
        after, facts = advance_at(track, one_fix, location, FOOT, POLICY, progress)
        assert after == track
        assert [type(f) for f in facts] == [FixRejected]
    last, last_location = fixes[-1], locations[-1]
    _, facts = advance_at(track, last, last_location, FOOT, POLICY, last.ts + 1)
    assert facts == [FixRejected(last, "duplicate")]


# --------------------------------------------------------------------------------------------
# A join learnt late: fixes classified again.


@settings(max_examples=200, deadline=None)
@given(journeys(), st.integers(min_value=1, max_value=3))
def test_an_assignment_read_a_few_fixes_late_gives_the_in_order_result(
    journey_and_delays: Journey, lag: int
) -> None:
    """CAD read ``lag`` fixes behind the pings: each fix is classified with what was known
    then, and classified again (:func:`recontext`) once the truth is known, as long as it is
    still within the lateness."""
    journey = [(f, c) for f, c in journey_and_delays[0]]
    truth = {f.ts: c for f, c in journey}
    in_order, in_order_facts = feed([f for f, _ in journey], [c for _, c in journey])
    track, facts = new_track(ISSI), []
    locations = INDEX.locate([f.lon for f, _ in journey], [f.lat for f, _ in journey])
    for i, ((one_fix, _), location) in enumerate(zip(journey, locations, strict=True)):
        known_up_to = journey[i - lag][0].ts if i >= lag else -math.inf

        def known(ts: float, known_up_to: float = known_up_to) -> FixContext:
            return truth[ts] if ts <= known_up_to else FOOT

        track, produced = recontext(track, known, POLICY)
        facts.extend(produced)
        track, produced = advance(track, one_fix, location, known(one_fix.ts), POLICY)
        facts.extend(produced)
    track, produced = recontext(track, truth.__getitem__, POLICY)
    facts.extend(produced)
    # fix j is learnt when fix j + lag comes (or at the end), while the watermark is the fix
    # before that one: it can be classified again only if still within the lateness then
    last = len(journey) - 1
    spans = [journey[min(j + lag - 1, last)][0].ts - journey[j][0].ts for j in range(last + 1)]
    if max(spans) < POLICY.allowed_lateness_s:
        assert visits(facts) == visits(in_order_facts)
        assert dose_by_minute(facts) == dose_by_minute(in_order_facts)
        assert presence(facts) == presence(in_order_facts)
        assert (track.settled, track.recent) == (in_order.settled, in_order.recent)


def test_recontext_changes_nothing_when_every_context_is_known() -> None:
    track, _ = feed(stay(0, 600, 30, IN_A))
    assert recontext(track, lambda ts: FOOT, POLICY) == (track, [])
