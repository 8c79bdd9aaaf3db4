"""The time control's replay: states and positions at a past instant."""

from __future__ import annotations

from streams.domain.replay import (
    TrailPoint,
    decode_point,
    positions_at,
    states_at,
    trail_kept_s,
    trail_minute,
    trail_minutes,
    trail_point,
)
from streams.domain.timefmt import format_ts

T0 = 1_763_740_800.0  # 2025-11-21T16:00:00Z, a whole minute
MINUTE = trail_minute(T0)


def change(area_id: str, state: str, minutes: int) -> dict[str, object]:
    return {"area_id": area_id, "state": state, "ts": format_ts(T0 + minutes * 60)}


def stored(*points: TrailPoint) -> list[tuple[int, dict[str, str]]]:
    """The trail steps holding ``points`` of radio r1, r2, ... in turn."""
    steps: dict[int, dict[str, str]] = {}
    for number, point in enumerate(points, start=1):
        steps.setdefault(trail_minute(point.ts), {})[f"r{number}"] = point.encoded()
    return sorted(steps.items())


def test_an_areas_state_at_an_instant_is_its_latest_change_by_then() -> None:
    changes = [
        change("ia-1", "covered", 0),
        change("ia-1", "at_risk", 10),
        change("ia-2", "covered", 5),
        change("ia-1", "uncovered", 20),
    ]
    assert states_at(changes, T0 + 15 * 60) == {"ia-1": "at_risk", "ia-2": "covered"}
    assert states_at(changes, T0 + 20 * 60) == {"ia-1": "uncovered", "ia-2": "covered"}
    assert states_at(list(reversed(changes)), T0 + 2 * 60) == {"ia-1": "covered"}


def test_an_area_with_no_change_kept_takes_its_current_state_if_it_began_by_then() -> None:
    current = {"ia-3": ("covered", T0 - 86400 * 3), "ia-4": ("at_risk", T0 + 600)}
    assert states_at([], T0, current) == {"ia-3": "covered"}
    assert states_at([change("ia-3", "at_risk", -1)], T0, current) == {"ia-3": "at_risk"}


def test_a_radio_is_where_its_latest_fix_by_the_instant_put_it() -> None:
    early = trail_point(T0 + 9 * 60 + 5, 52.48, -1.90, "response", "vehicle")
    late = trail_point(T0 + 10 * 60 + 10, 52.49, -1.91, "response", "vehicle")
    after = trail_point(T0 + 10 * 60 + 40, 52.50, -1.92, "response", "vehicle")
    steps = [
        (MINUTE + 9, {"r1": early.encoded()}),
        (MINUTE + 10, {"r1": late.encoded(), "r2": after.encoded()}),
    ]
    assert positions_at(steps, T0 + 10 * 60 + 20) == {"r1": late}


def test_a_radio_silent_for_longer_than_the_seen_time_is_not_shown() -> None:
    stale = trail_point(T0, 52.48, -1.90, "neighbourhood", "foot")
    assert positions_at(stored(stale), T0 + 301) == {}
    assert positions_at(stored(stale), T0 + 300) == {"r1": stale}


def test_a_point_reads_back_as_it_was_stored_to_the_millisecond_and_the_metre() -> None:
    point = trail_point(T0 + 42.1234, 52.1234567, -1.6543219, "response", "foot")
    assert point == TrailPoint(T0 + 42.123, 52.12346, -1.65432, "response", "foot")
    assert decode_point(MINUTE, point.encoded()) == point
    assert point.encoded() == "42123,52.12346,-1.65432,response,foot"


def test_junk_in_the_trail_is_skipped() -> None:
    assert decode_point(MINUTE, "not,a,point") is None
    assert decode_point(MINUTE, "x,1,2,response,foot") is None
    assert positions_at([(MINUTE, {"r1": "junk"})], T0) == {}


def test_the_trail_steps_cover_the_seen_time_before_the_instant() -> None:
    assert trail_minute(T0 + 59.9) == MINUTE == round(T0 / 60)
    assert trail_minutes(T0 + 30, seen_s=120) == [MINUTE - 2, MINUTE - 1, MINUTE]


def test_a_trail_minute_is_kept_the_replays_hours_and_ten_minutes() -> None:
    assert trail_kept_s(3) == 3 * 3600 + 600
    assert trail_kept_s(24) == 24 * 3600 + 600
