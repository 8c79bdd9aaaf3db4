"""Behaviour of patrol-minutes: time with at least one officer present, not double counted."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from streams.domain.areas import AreaDefinition
from streams.domain.dose import minute_buckets
from streams.domain.fences import FenceIndex
from streams.domain.fixes import Fix
from streams.domain.patrol import (
    MS_PER_MINUTE,
    patrol_by_minute,
    patrol_window_seconds,
    presence_steps,
    steps_of,
)
from streams.domain.tracks import DoseAccrued, Fact, FixContext, Policy, advance, new_track

T0 = 1_763_700_000.0  # a whole UTC minute
M0 = int(T0 // 60)
AREA = AreaDefinition("A", "Area A", "impact", box(-1.9, 52.48, -1.89, 52.49))
INDEX = FenceIndex([AREA])
INSIDE = (-1.895, 52.485)
OUTSIDE = (-1.886, 52.485)  # 270 m east of the area: well outside its exit buffer
OFFICER = FixContext(role="neighbourhood", device="handheld", callsign="B21", unit="East NPT")


def walk(issi: str, places: Sequence[tuple[float, tuple[float, float]]]) -> list[Fact]:
    """The facts of one radio reporting ``(seconds after T0, (lon, lat))`` in order."""
    track = new_track(issi)
    facts: list[Fact] = []
    for at_s, (lon, lat) in places:
        (location,) = INDEX.locate([lon], [lat])
        track, produced = advance(
            track, Fix(issi, T0 + at_s, lat, lon), location, OFFICER, Policy()
        )
        facts.extend(produced)
    return facts


def doses(facts: Iterable[Fact]) -> list[DoseAccrued]:
    return [fact for fact in facts if isinstance(fact, DoseAccrued)]


def officer_seconds(facts: Iterable[DoseAccrued]) -> float:
    return sum(seconds for dose in facts for seconds in minute_buckets(dose).values())


def test_two_officers_together_ten_minutes_make_twenty_officer_minutes_and_ten_patrol_minutes() -> (
    None
):
    ten_minutes = [(30.0 * i, INSIDE) for i in range(20)] + [(600.0, OUTSIDE), (690.0, OUTSIDE)]
    together = doses([*walk("2350001", ten_minutes), *walk("2350002", ten_minutes)])

    assert officer_seconds(together) / 60 == 20.0
    patrol = patrol_by_minute(steps_of(together))
    assert sum(patrol.values()) / 60 == 10.0
    assert patrol_window_seconds(patrol, "A", T0 + 600, 3600) / 60 == 10.0


def test_officers_one_after_the_other_make_patrol_minutes_equal_to_officer_minutes() -> None:
    first = [(30.0 * i, INSIDE) for i in range(11)] + [(330.0, OUTSIDE), (420.0, OUTSIDE)]
    second = [(330.0 + 30.0 * i, INSIDE) for i in range(10)] + [(630.0, OUTSIDE), (720.0, OUTSIDE)]
    relay = doses([*walk("2350001", first), *walk("2350002", second)])

    assert sum(patrol_by_minute(steps_of(relay)).values()) == officer_seconds(relay) == 630.0


def test_a_radio_present_all_minute_leaves_two_steps_in_it() -> None:
    all_along = [(30.0 * i, INSIDE) for i in range(8)]
    steps = steps_of(doses(walk("2350001", all_along)))

    assert steps[("A", M0 + 1)] == {0: 1, MS_PER_MINUTE: -1}


def test_a_correction_takes_its_segments_steps_back() -> None:
    segment = DoseAccrued("A", T0 + 50, T0 + 70, "response", "foot", "proactive", 20.0)
    taken_back = DoseAccrued("A", T0 + 50, T0 + 70, "response", "foot", "proactive", -20.0)

    assert presence_steps(segment) == {
        ("A", M0): {50_000: 1, 60_000: -1},
        ("A", M0 + 1): {0: 1, 10_000: -1},
    }
    assert steps_of([segment, taken_back]) == {}
    assert steps_of([taken_back, segment]) == {}


def test_a_late_fix_that_changes_the_visit_gives_the_in_order_patrol_time() -> None:
    places = [(30.0 * i, INSIDE) for i in range(12)] + [(360.0, OUTSIDE), (450.0, OUTSIDE)]
    late = places[:5] + places[6:] + [places[5]]  # the fix at 150 s arrives last, in the lateness

    in_order = steps_of(doses(walk("2350001", places)))
    assert steps_of(doses(walk("2350001", late))) == in_order
    assert sum(patrol_by_minute(in_order).values()) == 360.0


# --- properties -------------------------------------------------------------------------------

Segment = tuple[int, int, int]
"""(radio, start ms after T0, length ms)."""


def segments() -> st.SearchStrategy[list[Segment]]:
    """Segments of a few radios; one radio's segments do not overlap (a track's never do)."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Segment]:
        found: list[Segment] = []
        for radio in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, 300_000))
            for _ in range(draw(st.integers(0, 6))):
                length = draw(st.integers(0, 200_000))
                found.append((radio, at, length))
                at += length + draw(st.sampled_from([0, 0, 1, 30_000, 400_000]))
        return found

    return build()


def dose_of(segment: Segment, sign: int = 1) -> DoseAccrued:
    _, start_ms, length_ms = segment
    return DoseAccrued(
        "A",
        T0 + start_ms / 1000,
        T0 + (start_ms + length_ms) / 1000,
        "response",
        "foot",
        "proactive",
        sign * length_ms / 1000,
    )


def union_ms(found: Iterable[Segment]) -> int:
    """The measure of the union of the segments, merged the plain way."""
    covered, reach = 0, None
    for start, end in sorted((s, s + length) for _, s, length in found if length):
        if reach is None or start > reach:
            covered, reach = covered + end - start, end
        elif end > reach:
            covered, reach = covered + end - reach, end
    return covered


@settings(max_examples=300, deadline=None)
@given(segments())
def test_patrol_time_is_the_measure_of_the_union_of_presence(found: list[Segment]) -> None:
    patrol = patrol_by_minute(steps_of(dose_of(segment) for segment in found))

    assert round(sum(patrol.values()) * 1000) == union_ms(found)


@settings(max_examples=300, deadline=None)
@given(segments())
def test_patrol_time_is_at_most_officer_time_and_wall_time(found: list[Segment]) -> None:
    patrol = patrol_by_minute(steps_of(dose_of(segment) for segment in found))
    officer = {
        minute: sum(
            seconds
            for segment in found
            for (_, minute_of, *_rest), seconds in minute_buckets(dose_of(segment)).items()
            if minute_of == minute
        )
        for (_, minute) in patrol
    }

    for (_, minute), seconds in patrol.items():
        assert 0 < seconds <= 60.0
        assert seconds <= officer[minute] + 1e-6


@settings(max_examples=200, deadline=None)
@given(segments(), st.lists(st.integers(0, 30), max_size=12), st.randoms(use_true_random=False))
def test_patrol_time_does_not_depend_on_order_batches_or_corrections(
    found: list[Segment], taken_back: list[int], shuffle: random.Random
) -> None:
    """Corrections (a segment's negative dose, with the segment added again as it was) and any
    arrival order give the patrol time of the segments that stand."""
    facts = [dose_of(segment) for segment in found]
    for index in taken_back:
        if found:
            segment = found[index % len(found)]
            facts += [dose_of(segment, -1), dose_of(segment)]
    shuffle.shuffle(facts)
    cut = shuffle.randint(0, len(facts))
    batches = steps_of(facts[:cut])
    for key, steps in steps_of(facts[cut:]).items():
        for offset, delta in steps.items():
            minute_steps = batches.setdefault(key, {})
            minute_steps[offset] = minute_steps.get(offset, 0) + delta

    expected = patrol_by_minute(steps_of(dose_of(segment) for segment in found))
    assert patrol_by_minute(batches) == expected
