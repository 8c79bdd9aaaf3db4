from __future__ import annotations

import orjson
import pytest

from streams.domain.areas import AreaDefinition
from streams.domain.areas_feed import AreaRemoved, decode_area
from streams.domain.ticks import decode_tick
from streams.domain.validation import Rejected, TimeLimits

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


def test_a_tick_carries_its_time() -> None:
    ts = decode_tick(b"sim", orjson.dumps({"source": "sim", "ts": "2026-11-20T18:00:00Z"}), LIMITS)
    assert ts == 1795197600.0


@pytest.mark.parametrize(
    "raw", [b"nope", orjson.dumps({"source": "sim"}), orjson.dumps({"source": "sim", "ts": 5})]
)
def test_a_bad_tick_is_rejected(raw: bytes) -> None:
    with pytest.raises(Rejected):
        decode_tick(b"sim", raw, LIMITS)


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
