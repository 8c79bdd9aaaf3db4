"""Area packs: parsing, the problems users see for bad features, and GeoJSON round trips."""

from __future__ import annotations

import copy

import pytest
from shapely.geometry import MultiPolygon, Polygon

import schemas
from streams.domain.areas import (
    AreaDefinition,
    AreaPackError,
    InvalidArea,
    area_to_feature,
    parse_area_feature,
    parse_area_pack,
)

SQUARE = [[-1.90, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.90, 52.49], [-1.90, 52.48]]


def feature(area_id: str | None = "ia-01", **changes: object) -> dict[str, object]:
    """A valid impact-area feature, with top-level ``changes`` applied."""
    value: dict[str, object] = {
        "type": "Feature",
        "properties": {"name": "Test Estate", "kind": "impact"},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    if area_id is not None:
        value["id"] = area_id
    value.update(changes)
    return value


def pack(*features: object) -> dict[str, object]:
    """A FeatureCollection of ``features``."""
    return {"type": "FeatureCollection", "features": list(features)}


def problems_of(document: object) -> tuple[str, ...]:
    """The problems parse_area_pack reports for ``document``."""
    with pytest.raises(AreaPackError) as raised:
        parse_area_pack(document)
    return raised.value.problems


def test_valid_pack_parses_into_definitions() -> None:
    areas = parse_area_pack(pack(feature("ia-01"), feature("ca-01")))
    assert [area.area_id for area in areas] == ["ia-01", "ca-01"]
    assert areas[0].name == "Test Estate"
    assert areas[0].kind == "impact"
    assert isinstance(areas[0].geometry, Polygon)
    assert areas[0].policy is None


def test_multipolygon_with_altitude_and_policy_is_accepted() -> None:
    other = [[lon + 0.05, lat, 120.0] for lon, lat in SQUARE]
    policy = {"default_max_gap_minutes": 240, "alert": True}
    area = parse_area_feature(
        feature(
            properties={
                "name": "Two Parts",
                "kind": "comparison",
                "policy": policy,
                "ring_of": "ia-01",
            },
            geometry={"type": "MultiPolygon", "coordinates": [[SQUARE], [other]]},
        )
    )
    assert isinstance(area.geometry, MultiPolygon)
    assert area.policy == policy
    assert area.properties == {"ring_of": "ia-01"}


def test_self_intersecting_polygon_is_named_with_its_crossing() -> None:
    bow_tie = [[-1.90, 52.48], [-1.89, 52.49], [-1.89, 52.48], [-1.90, 52.49], [-1.90, 52.48]]
    bad = feature("ia-07", geometry={"type": "Polygon", "coordinates": [bow_tie]})
    (problem,) = problems_of(pack(bad))
    assert problem.startswith("feature 'ia-07': self-intersecting polygon at (-1.895")
    assert "52.485" in problem


def test_projected_coordinates_are_rejected_with_a_hint() -> None:
    metres = [
        [412345.0, 286000.0],
        [413345.0, 286000.0],
        [413345.0, 287000.0],
        [412345.0, 286000.0],
    ]
    bad = feature("x", geometry={"type": "Polygon", "coordinates": [metres]})
    with pytest.raises(InvalidArea) as raised:
        parse_area_feature(bad)
    assert raised.value.reason == "invalid_coordinates"
    assert raised.value.detail == (
        "feature 'x': coordinates look projected (lon 412345.0 outside -180..180); "
        "use WGS84 lon/lat"
    )


def test_duplicate_ids_name_both_features() -> None:
    problems = problems_of(pack(feature("ia-01"), feature("ia-02"), feature("ia-02")))
    assert problems == ("duplicate id 'ia-02' (features #1 and #2)",)


def test_missing_kind_names_the_feature_by_index_when_it_has_no_id() -> None:
    no_id_no_kind = feature(None, properties={"name": "Nameless"})
    problems = problems_of(
        pack(feature("ia-01"), feature("ia-02"), feature("ia-03"), no_id_no_kind)
    )
    assert problems == (
        "feature #3: missing or malformed 'id' "
        "(1-64 of A-Z a-z 0-9 _ . : / -, starting with a letter or digit)",
        "feature #3: missing property 'kind'",
    )


def test_one_feature_reports_all_its_problems_at_once() -> None:
    with pytest.raises(InvalidArea) as raised:
        parse_area_feature(
            feature("ia-01", properties={"kind": "impact", "policy": 3}, geometry=None)
        )
    assert raised.value.reason == "invalid_schema"
    assert raised.value.problems == (
        "feature 'ia-01': missing property 'name'",
        "feature 'ia-01': property 'policy' must be an object",
        "feature 'ia-01': empty geometry",
    )


def test_missing_kind_names_the_feature_by_id() -> None:
    (problem,) = problems_of(pack(feature("ca-04", properties={"name": "Nameless"})))
    assert problem == "feature 'ca-04': missing property 'kind'"


def test_unknown_kind_lists_the_allowed_ones() -> None:
    (problem,) = problems_of(pack(feature("ca-04", properties={"name": "A", "kind": "hotspot"})))
    assert (
        problem == "feature 'ca-04': property 'kind' is 'hotspot'; "
        "expected one of impact, comparison, ring, other"
    )


@pytest.mark.parametrize(
    "geometry",
    [None, {"type": "Polygon", "coordinates": []}, {"type": "MultiPolygon", "coordinates": []}],
)
def test_empty_geometry_is_rejected(geometry: object) -> None:
    (problem,) = problems_of(pack(feature("x", geometry=geometry)))
    assert problem == "feature 'x': empty geometry"


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (
            {"type": "Point", "coordinates": [-1.9, 52.4]},
            "geometry type 'Point' is not Polygon or MultiPolygon",
        ),
        (
            {"type": "Polygon", "coordinates": [SQUARE[:3]]},
            "a polygon ring needs at least 4 positions, has 3",
        ),
        ({"type": "Polygon", "coordinates": [SQUARE[:4]]}, "polygon ring is not closed"),
        ({"type": "Polygon", "coordinates": [[[-1.9, 95.0]] * 4]}, "lat 95.0 outside -90..90"),
        ({"type": "Polygon", "coordinates": [[["a", "b"]] * 4]}, "is not [lon, lat] numbers"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[-1.9, 52.48], [-1.89, 52.48], [-1.88, 52.48], [-1.9, 52.48]]],
            },
            "self-intersecting polygon at (-1.89, 52.48)",
        ),
    ],
)
def test_bad_geometry_is_rejected_with_a_clear_message(geometry: object, message: str) -> None:
    (problem,) = problems_of(pack(feature("bad", geometry=geometry)))
    assert problem.startswith("feature 'bad': ")
    assert message in problem


def test_every_problem_in_a_pack_is_reported_together() -> None:
    document = pack(
        feature("ia-01"),
        feature("ia-01"),
        feature(None, properties={"name": "x", "kind": "impact"}),
        feature("ia-03", geometry=None),
    )
    problems = problems_of(document)
    assert len(problems) == 3
    assert problems[0] == "duplicate id 'ia-01' (features #0 and #1)"
    assert problems[1].startswith("feature #2: missing or malformed 'id'")
    assert problems[2] == "feature 'ia-03': empty geometry"
    with pytest.raises(AreaPackError, match="3 problem"):
        parse_area_pack(document)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "the document is not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection"}, "'features' must be a list of GeoJSON Features"),
        ({"type": "FeatureCollection", "features": []}, "the pack has no features"),
    ],
)
def test_a_document_that_is_not_a_pack_is_rejected(document: object, problem: str) -> None:
    assert problems_of(document) == (problem,)


def test_area_to_feature_round_trips_and_matches_the_contract() -> None:
    hole = [
        [-1.897, 52.483],
        [-1.893, 52.483],
        [-1.893, 52.487],
        [-1.897, 52.487],
        [-1.897, 52.483],
    ]
    source = feature(
        "ia-09",
        properties={
            "name": "Holed",
            "kind": "impact",
            "policy": {"alert": False},
            "ring_of": "ia-01",
            "pop": 5,
        },
        geometry={"type": "Polygon", "coordinates": [SQUARE, hole]},
    )
    area = parse_area_feature(source)
    published = area_to_feature(area)
    schemas.assert_valid("areas.definitions", published)
    assert published["properties"] == {
        "name": "Holed",
        "kind": "impact",
        "policy": {"alert": False},
        "ring_of": "ia-01",
    }
    again = parse_area_feature(copy.deepcopy(published))
    assert again.geometry.equals(area.geometry)
    assert (again.area_id, again.name, again.kind) == ("ia-09", "Holed", "impact")


def test_valid_from_is_published_for_the_archive() -> None:
    properties = {"name": "Dated", "kind": "impact", "valid_from": "2026-11-21T00:00:00Z"}
    published = area_to_feature(parse_area_feature(feature("ia-02", properties=properties)))
    schemas.assert_valid("areas.definitions", published)
    assert published["properties"] == properties


def test_a_valid_from_that_is_not_a_time_is_rejected() -> None:
    properties = {"name": "Dated", "kind": "impact", "valid_from": "last tuesday"}
    with pytest.raises(InvalidArea, match="valid_from"):
        parse_area_feature(feature("ia-02", properties=properties))


def test_definition_is_frozen() -> None:
    area = parse_area_feature(feature())
    assert isinstance(area, AreaDefinition)
    with pytest.raises(AttributeError):
        area.name = "changed"  # type: ignore[misc]
