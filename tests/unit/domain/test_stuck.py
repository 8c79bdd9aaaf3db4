"""Stuck radios: a frozen position covers nothing, and a radio's health at an instant."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    VisitRecorded,
    advance,
    new_track,
    radio_health,
    track_from_json,
    track_health,
    track_to_json,
)
from tests.unit.domain.test_tracks import dose_by_minute, lonlat, square, visits

ISSI = "2350002"
T0 = 1_763_700_000.0
POLICY = Policy()
FOOT = FixContext(role="neighbourhood", device="handheld", callsign="NH2")
HOUR_S = 3600.0


# A is a 300 m square at the origin.
INDEX = FenceIndex([square("A", 0, 0, 300)])
CENTRE = (150.0, 150.0)
OUTSIDE = (600.0, 150.0)


def fix(at_s: float, east_m: float, north_m: float) -> Fix:
    lon, lat = lonlat(east_m, north_m)
    return Fix(issi=ISSI, ts=T0 + at_s, lat=lat, lon=lon)


def frozen(
    start_s: float, end_s: float, place: tuple[float, float], every_s: float = 30.0
) -> list[Fix]:
    """A device repeating one cached position, with fresh timestamps."""
    count = int((end_s - start_s) // every_s) + 1
    return [fix(start_s + i * every_s, *place) for i in range(count)]


def standing(
    start_s: float, end_s: float, place: tuple[float, float], sigma_m: float, seed: int = 1
) -> list[Fix]:
    """An officer standing still: a receiver wandering ``sigma_m`` metres about ``place``."""
    noise = random.Random(seed)
    count = int((end_s - start_s) // 30.0) + 1
    return [
        fix(
            start_s + i * 30.0,
            place[0] + noise.gauss(0, sigma_m),
            place[1] + noise.gauss(0, sigma_m),
        )
        for i in range(count)
    ]


def feed(
    fixes: Iterable[Fix], track: Track | None = None, policy: Policy = POLICY
) -> tuple[Track, list[Fact]]:
    fix_list = list(fixes)
    locations = INDEX.locate([f.lon for f in fix_list], [f.lat for f in fix_list])
    current = track if track is not None else new_track(ISSI)
    facts: list[Fact] = []
    for one_fix, location in zip(fix_list, locations, strict=True):
        current, produced = advance(current, one_fix, location, FOOT, policy)
        facts.extend(produced)
    return current, facts


def dose_seconds(facts: Iterable[Fact]) -> float:
    return sum(f.seconds for f in facts if isinstance(f, DoseAccrued))


def presence(facts: Iterable[Fact]) -> set[str]:
    present: set[str] = set()
    for fact in facts:
        if isinstance(fact, MembershipChanged):
            if fact.present:
                present.add(fact.area_id)
            else:
                present.discard(fact.area_id)
    return present


def health_after(track: Track) -> str:
    last = track.state.last_fix
    assert last is not None
    return track_health(track, on_duty=True, now=last.ts, policy=POLICY)


# --------------------------------------------------------------------------------------------
# The rule.


def test_frozen_radio_inside_area_is_stuck_and_credits_nothing() -> None:
    walk_in = [fix(0, -300, 150), fix(30, -100, 150)]
    track, facts = feed([*walk_in, *frozen(60, 60 + 3 * HOUR_S, CENTRE)])
    assert health_after(track) == "stuck"
    assert visits(facts) == []
    assert dose_by_minute(facts) == {}
    assert dose_seconds(facts) == 0
    assert presence(facts) == set()
    (retracted,) = [
        f.visit for f in facts if isinstance(f, VisitRecorded) and f.visit.status == "retracted"
    ]
    assert retracted.start == T0 + 60


def test_dose_credited_before_the_radio_was_judged_stuck_is_taken_back_exactly() -> None:
    track, facts = feed(frozen(0, 3 * HOUR_S, CENTRE))
    credited = Counter(f for f in facts if isinstance(f, DoseAccrued) and f.seconds > 0)
    taken_back = Counter(
        replace(f, seconds=-f.seconds)
        for f in facts
        if isinstance(f, DoseAccrued) and f.seconds < 0
    )
    assert credited
    assert credited == taken_back
    judged = next(i for i, f in enumerate(facts) if isinstance(f, DoseAccrued) and f.seconds < 0)
    assert sum(f.seconds for f in facts[:judged] if isinstance(f, DoseAccrued)) > 0
    assert not track.state.memberships


def test_a_visit_before_the_radio_froze_ends_at_its_first_frozen_fix() -> None:
    walk_in = [fix(0, -300, 150), fix(30, -100, 150)]
    patrol = standing(60, 60 + 1200, CENTRE, 5.0)  # 20 minutes of real patrol
    freeze_at = 60 + 1200 + 30
    track, facts = feed([*walk_in, *patrol, *frozen(freeze_at, freeze_at + 3 * HOUR_S, CENTRE)])
    assert health_after(track) == "stuck"
    (visit,) = visits(facts)
    assert visit.status == "closed"
    assert (visit.start, visit.end) == (T0 + 60, T0 + freeze_at)
    assert visit.seconds == pytest.approx(freeze_at - 60)
    assert visit.qualifying
    assert dose_seconds(facts) == pytest.approx(visit.seconds)
    assert presence(facts) == set()


def test_stationary_officer_with_gps_jitter_stays_live() -> None:
    track, facts = feed(standing(0, 3 * HOUR_S, CENTRE, 5.0))
    assert health_after(track) == "live"
    (visit,) = visits(facts)
    assert visit.status == "open"
    assert dose_seconds(facts) == pytest.approx(3 * HOUR_S)
    assert presence(facts) == {"A"}


def test_radio_that_moves_again_is_live() -> None:
    stuck, _ = feed(frozen(0, 1800, CENTRE))
    assert health_after(stuck) == "stuck"
    moving = standing(1830, 1830 + 1200, (120.0, 120.0), 5.0)
    track, facts = feed(moving, track=stuck)
    assert health_after(track) == "live"
    (visit,) = visits(facts)
    assert visit.start == T0 + 1830  # the segment from the frozen position is not attributed
    assert dose_seconds(facts) == pytest.approx(1200)
    assert presence(facts) == {"A"}


def test_a_stuck_radio_that_goes_silent_and_comes_back_frozen_stays_stuck() -> None:
    stuck, _ = feed(frozen(0, 1800, CENTRE))
    track, facts = feed(frozen(1800 + 900, 1800 + 2700, CENTRE), track=stuck)
    assert health_after(track) == "stuck"
    assert facts == []


@pytest.mark.parametrize(
    ("every_s", "until_s"),
    [
        (80.0, 8 * 80.0),  # nine fixes over 640 s: too few fixes
        (30.0, 14 * 30.0),  # fifteen fixes over 420 s: too short
    ],
)
def test_a_short_frozen_run_is_not_stuck(every_s: float, until_s: float) -> None:
    track, facts = feed(frozen(0, until_s, CENTRE, every_s))
    assert health_after(track) == "live"
    (visit,) = visits(facts)
    assert visit.status == "open"
    assert dose_seconds(facts) == pytest.approx(until_s)


def test_the_run_is_judged_at_its_tenth_fix_once_ten_minutes_have_passed() -> None:
    fixes = frozen(0, 1200, CENTRE, 60.0)
    judged = []
    track = new_track(ISSI)
    for one in fixes:
        track, _ = feed([one], track=track)
        judged.append(track.state.stuck)
    assert judged.index(True) == 10  # the fix at 600 s is the eleventh, 600 s after the first
    assert all(judged[10:])


def test_settings_change_when_a_radio_is_stuck() -> None:
    fixes = frozen(0, 1200, CENTRE, 60.0)
    lenient = Policy(stuck_fixes=30, stuck_s=1800.0)
    track, facts = feed(fixes, policy=lenient)
    assert not track.state.stuck
    assert dose_seconds(facts) == pytest.approx(1200)


def test_a_gap_ends_a_pending_frozen_run() -> None:
    first, _ = feed(frozen(0, 420, CENTRE))  # 15 fixes over 7 minutes
    track, _ = feed(frozen(420 + 400, 420 + 400 + 420, CENTRE), track=first)
    assert not track.state.stuck  # each side of the gap is too short on its own


# --------------------------------------------------------------------------------------------
# Event time and storage.

PLACES = {"centre": CENTRE, "corner": (20.0, 20.0), "outside": OUTSIDE}
Journey = tuple[list[Fix], list[float]]


@st.composite
def frozen_journeys(draw: st.DrawFn) -> Journey:
    """Stretches of a radio frozen at a place or wandering about one, with an arrival delay
    within the lateness for each fix."""
    at_s = 0.0
    journey: list[Fix] = []
    for _ in range(draw(st.integers(1, 4))):
        place = PLACES[draw(st.sampled_from(sorted(PLACES)))]
        stuck = draw(st.booleans())
        for _ in range(draw(st.integers(1, 30))):
            at_s += draw(st.sampled_from([20.0, 30.0, 60.0, 90.0, 400.0]))
            if stuck:
                journey.append(fix(at_s, *place))
            else:
                east, north = draw(st.tuples(st.integers(-8, 8), st.integers(-8, 8)))
                journey.append(fix(at_s, place[0] + east, place[1] + north))
    lateness = st.floats(min_value=0, max_value=POLICY.allowed_lateness_s)
    delays = draw(st.lists(lateness, min_size=len(journey), max_size=len(journey)))
    return journey, delays


@settings(max_examples=200, deadline=None)
@given(frozen_journeys())
def test_frozen_fixes_in_any_order_within_the_lateness_give_the_in_order_facts(
    journey_and_delays: Journey,
) -> None:
    journey, delays = journey_and_delays
    arrival = [
        f for _, _, f in sorted((f.ts + d, f.ts, f) for f, d in zip(journey, delays, strict=True))
    ]
    in_order, in_order_facts = feed(journey)
    shuffled, shuffled_facts = feed(arrival)
    assert not [f for f in shuffled_facts if isinstance(f, FixRejected)]
    assert visits(shuffled_facts) == visits(in_order_facts)
    assert dose_by_minute(shuffled_facts) == dose_by_minute(in_order_facts)
    assert presence(shuffled_facts) == presence(in_order_facts)
    assert (shuffled.settled, shuffled.recent) == (in_order.settled, in_order.recent)


@settings(max_examples=100, deadline=None)
@given(frozen_journeys())
def test_a_stuck_radio_credits_no_dose_from_the_first_fix_of_its_frozen_run(
    journey_and_delays: Journey,
) -> None:
    journey, _ = journey_and_delays
    track, facts = feed(journey)
    if not track.state.stuck:
        return
    anchor = track.state.frozen_from
    assert anchor is not None
    after = [f for f in facts if isinstance(f, DoseAccrued) and f.start >= anchor.ts]
    assert dose_by_minute(after) == {}
    assert all(v.end is not None and v.end <= anchor.ts for v in visits(facts))
    assert presence(facts) == set()


def _stored_round_trip(track: Track) -> Track:
    return track_from_json(track_to_json(track), POLICY)


def test_stored_form_keeps_a_pending_frozen_run_and_a_stuck_radio() -> None:
    pending, _ = feed(frozen(0, 420, CENTRE))
    stuck, _ = feed(frozen(0, 3 * HOUR_S, CENTRE))
    for track in (pending, stuck):
        restored = _stored_round_trip(track)
        assert restored == track
        more = frozen(track.watermark + 30, track.watermark + 900, CENTRE)
        assert feed(more, track=restored) == feed(more, track=track)
    settled = pending.settled
    assert settled.run_dose
    assert settled.frozen_fixes > 1
    assert _stored_round_trip(pending).settled.run_dose == settled.run_dose


def test_a_track_stored_before_stuck_radios_were_detected_is_read_with_a_fresh_run() -> None:
    track, _ = feed(standing(0, 600, CENTRE, 5.0))
    stored = orjson.loads(track_to_json(track))
    for key in ("ff", "fn", "stuck", "rd"):
        stored["s"].pop(key, None)
    restored = track_from_json(orjson.dumps(stored), POLICY)
    assert restored.settled.frozen_from == restored.settled.last_fix
    assert restored.settled.frozen_fixes == 1
    assert not restored.settled.stuck
    assert restored == track


# --------------------------------------------------------------------------------------------
# Health at an instant.


@pytest.mark.parametrize(
    ("on_duty", "last_fix_ts", "stuck", "expected"),
    [
        (True, 1000.0, False, "live"),
        (True, 1000.0, True, "stuck"),
        (True, 1000.0 - 301.0, False, "stale"),
        (True, 1000.0 - 301.0, True, "stale"),
        (True, None, False, "stale"),
        (False, 1000.0, False, "off_duty"),
        (False, 1000.0, True, "off_duty"),
    ],
)
def test_health_of_a_radio_at_an_instant(
    on_duty: bool, last_fix_ts: float | None, stuck: bool, expected: str
) -> None:
    assert (
        radio_health(
            on_duty=on_duty, last_fix_ts=last_fix_ts, stuck=stuck, now=1000.0, max_gap_s=300.0
        )
        == expected
    )


def test_a_stuck_radio_that_falls_silent_is_stale() -> None:
    track, _ = feed(frozen(0, 1800, CENTRE))
    assert track_health(track, on_duty=True, now=T0 + 1800 + 301, policy=POLICY) == "stale"
