"""The time control's replay: states and positions at a past instant."""

from __future__ import annotations

from streams.domain.replay import (
    TrailPoint,
    decode_point,
    positions_at,
    states_at,
    trail_minute,
    trail_minutes,
)
from streams.domain.timefmt import format_ts

T0 = 1_763_740_800.0  # 2025-11-21T16:00:00Z, a whole minute


def change(area_id: str, state: str, minutes: int) -> dict[str, object]:
    return {"area_id": area_id, "state": state, "ts": format_ts(T0 + minutes * 60)}


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
    at = T0 + 10 * 60 + 20
    early = TrailPoint(T0 + 9 * 60 + 5, 52.48, -1.90, "response", "vehicle")
    late = TrailPoint(T0 + 10 * 60 + 10, 52.49, -1.91, "response", "vehicle")
    after = TrailPoint(T0 + 10 * 60 + 40, 52.50, -1.92, "response", "vehicle")
    steps = [{"r1": early.encoded()}, {"r1": late.encoded(), "r2": after.encoded()}]
    assert positions_at(steps, at) == {"r1": late}


def test_a_radio_silent_for_longer_than_the_seen_time_is_not_shown() -> None:
    stale = TrailPoint(T0, 52.48, -1.90, "neighbourhood", "foot")
    assert positions_at([{"r1": stale.encoded()}], T0 + 301) == {}
    assert positions_at([{"r1": stale.encoded()}], T0 + 300) == {"r1": stale}


def test_a_point_reads_back_as_it_was_stored_and_junk_is_skipped() -> None:
    point = TrailPoint(T0 + 0.125, 52.123456, -1.654321, "response", "foot")
    assert decode_point(point.encoded()) == point
    assert decode_point("not,a,point") is None
    assert decode_point("x,1,2,response,foot") is None
    assert positions_at([{"r1": "junk"}], T0) == {}


def test_the_trail_steps_cover_the_seen_time_before_the_instant() -> None:
    assert trail_minute(T0 + 59.9) == trail_minute(T0) == round(T0 / 60)
    assert trail_minutes(T0 + 30, seen_s=120) == [
        trail_minute(T0) - 2,
        trail_minute(T0) - 1,
        trail_minute(T0),
    ]
