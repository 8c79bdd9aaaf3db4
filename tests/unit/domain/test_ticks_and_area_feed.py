from __future__ import annotations

import orjson
import pytest

from streams.domain.areas import AreaDefinition
from streams.domain.areas_feed import AreaRemoved, decode_area
from streams.domain.ticks import decode_tick, stored_clock
from streams.domain.validation import Rejected, Rejection, TimeLimits

LIMITS = TimeLimits()
SQUARE = [[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.49], [-1.9, 52.48]]


def feature(**properties: object) -> dict[str, object]:
    return {
        "schema": "areas.definitions/1",
        "type": "Feature",
        "id": "ia-99",
        "properties": {"name": "Test Area", "kind": "impact", **properties},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }


CLOCK = 1795197600.0
"""2026-11-20T18:00:00Z"""
JUMP = TimeLimits(max_future_skew_s=86400.0)
"""An event clock's limits: ticks may lead it by a day."""


def tick(ts: str, source: str = "sim") -> bytes:
    return orjson.dumps({"schema": "clock.ticks/1", "source": source, "ts": ts})


def tick_rejection(raw: bytes, now: float | None, key: bytes | None = b"sim") -> Rejection:
    with pytest.raises(Rejected) as caught:
        decode_tick(key, raw, now, JUMP)
    return caught.value.rejection


def test_a_tick_carries_its_time() -> None:
    assert decode_tick(b"sim", tick("2026-11-20T18:00:00Z"), None, LIMITS) == CLOCK


def test_a_good_tick_within_the_jump_is_accepted() -> None:
    assert decode_tick(b"sim", tick("2026-11-21T17:00:00Z"), CLOCK, JUMP) == CLOCK + 23 * 3600


@pytest.mark.parametrize("now", [None, CLOCK])
def test_a_year_9999_tick_is_refused_as_future_with_the_date_named(now: float | None) -> None:
    rejection = tick_rejection(tick("9999-12-31T00:00:00Z"), now)
    assert rejection.reason == "future_timestamp"
    assert "9999-12-31T00:00:00Z" in rejection.detail
    assert "2100-01-01" in rejection.detail


@pytest.mark.parametrize("now", [None, CLOCK])
def test_a_year_1_tick_is_refused_as_stale_with_the_date_named(now: float | None) -> None:
    rejection = tick_rejection(tick("0001-01-01T00:00:00+01:00"), now)
    assert rejection.reason == "stale_timestamp"
    assert "2000-01-01" in rejection.detail


def test_a_tick_beyond_the_allowed_jump_is_refused() -> None:
    rejection = tick_rejection(tick("2026-11-21T18:00:01Z"), CLOCK)
    assert rejection.reason == "future_timestamp"
    assert "86401 s after now" in rejection.detail


def test_on_the_wall_clock_a_tick_may_lead_by_the_future_skew_only() -> None:
    wall = TimeLimits(max_future_skew_s=30.0)
    assert decode_tick(b"sim", tick("2026-11-20T18:00:30Z"), CLOCK, wall) == CLOCK + 30
    with pytest.raises(Rejected) as caught:
        decode_tick(b"sim", tick("2026-11-20T18:00:31Z"), CLOCK, wall)
    assert caught.value.rejection.reason == "future_timestamp"


def test_a_tick_behind_the_clock_is_accepted_however_old() -> None:
    assert decode_tick(b"sim", tick("2020-01-01T00:00:00Z"), CLOCK, JUMP) < CLOCK


def test_the_first_tick_of_a_fresh_clock_is_judged_on_the_date_range_only() -> None:
    assert decode_tick(b"sim", tick("2099-12-31T23:59:59Z"), None, JUMP) == 4102444799.0
    assert tick_rejection(tick("2100-01-01T00:00:00Z"), None).reason == "future_timestamp"
    assert decode_tick(b"sim", tick("2000-01-01T00:00:00Z"), None, JUMP) == 946684800.0
    assert tick_rejection(tick("1999-12-31T23:59:59Z"), None).reason == "stale_timestamp"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"nope", b"sim"),
        (orjson.dumps({"source": "sim"}), b"sim"),
        (orjson.dumps({"source": "sim", "ts": 5}), b"sim"),
        (tick("10000-01-01T00:00:00Z"), b"sim"),
        (tick("2026-11-20T18:00:00"), b"sim"),
        (tick("2026-11-20T18:00:00Z"), b"other"),
    ],
)
def test_a_malformed_tick_is_invalid_schema_or_json(raw: bytes, key: bytes) -> None:
    assert tick_rejection(raw, CLOCK, key).reason in {"invalid_json", "invalid_schema"}


def test_a_stored_clock_is_read_back() -> None:
    assert stored_clock(repr(CLOCK).encode()) == CLOCK


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (b"253402214400.0", "future_timestamp"),
        (b"-62135596800.0", "stale_timestamp"),
        (b"0", "stale_timestamp"),
        (b"nan", "invalid_schema"),
        (b"inf", "invalid_schema"),
        (b"1e400", "invalid_schema"),
        (b"tomorrow", "invalid_schema"),
        (b"", "invalid_schema"),
        (b"\xff\xfe", "invalid_schema"),
    ],
)
def test_an_impossible_stored_clock_is_refused(stored: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        stored_clock(stored)
    assert caught.value.rejection.reason == reason


def test_an_area_whose_policy_the_evaluator_cannot_use_is_rejected() -> None:
    with pytest.raises(Rejected) as caught:
        decode_area(b"ia-99", orjson.dumps(feature(policy={"bands": "18:00"})), LIMITS)
    assert caught.value.rejection.reason == "invalid_schema"
    assert "'bands' must be a list" in caught.value.rejection.detail


def test_an_area_feature_is_an_area_and_a_tombstone_removes_it() -> None:
    area = decode_area(b"ia-99", orjson.dumps(feature()), LIMITS)
    assert isinstance(area, AreaDefinition)
    assert (area.area_id, area.kind) == ("ia-99", "impact")
    assert decode_area(b"ia-99", None, LIMITS) == AreaRemoved("ia-99")


def test_a_bow_tie_polygon_is_rejected_as_invalid_geometry() -> None:
    bow_tie = feature()
    bow_tie["geometry"] = {
        "type": "Polygon",
        "coordinates": [
            [[-1.9, 52.48], [-1.89, 52.49], [-1.89, 52.48], [-1.9, 52.49], [-1.9, 52.48]]
        ],
    }
    with pytest.raises(Rejected) as caught:
        decode_area(b"ia-99", orjson.dumps(bow_tie), LIMITS)
    assert caught.value.rejection.reason == "invalid_geometry"
    assert "ia-99" in caught.value.rejection.detail


def test_an_area_whose_key_is_not_its_id_is_rejected() -> None:
    with pytest.raises(Rejected) as caught:
        decode_area(b"ia-01", orjson.dumps(feature()), LIMITS)
    assert caught.value.rejection.reason == "invalid_schema"
