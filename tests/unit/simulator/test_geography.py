"""The illustrative default area pack and the local projection."""

from __future__ import annotations

import itertools
from importlib import resources

import numpy as np
import orjson

import schemas
from streams.domain.areas import live_areas
from streams.simulator.geography import (
    BIRMINGHAM,
    across_m,
    area_pack_document,
    build_default_area_pack,
    load_default_area_pack,
)


def committed_pack() -> bytes:
    """The pack file shipped with the simulator."""
    return resources.files("streams.simulator").joinpath("data", "area-pack.geojson").read_bytes()


def test_committed_pack_is_what_the_generator_builds() -> None:
    regenerated = (
        orjson.dumps(area_pack_document(build_default_area_pack()), option=orjson.OPT_INDENT_2)
        + b"\n"
    )
    assert regenerated == committed_pack()


def test_pack_matches_the_area_pack_schema_and_is_labelled_illustrative() -> None:
    document = orjson.loads(committed_pack())
    schemas.assert_valid("area-pack", document)
    assert "not any police force's real Impact Areas" in document["attribution"]


def test_pack_has_19_impact_20_comparison_one_patrol_area_and_their_rings() -> None:
    areas = load_default_area_pack()
    ids = [area.area_id for area in areas]
    ringed = [f"ia-{n:02d}" for n in range(1, 20)] + [f"ca-{n:02d}" for n in range(1, 21)]
    assert ids == ringed + ["patrol-area"] + [f"{area_id}-ring" for area_id in ringed]
    kinds = [area.kind for area in areas]
    assert (kinds.count("impact"), kinds.count("comparison"), kinds.count("ring")) == (19, 20, 39)
    assert areas[39].kind == "other"
    assert len({area.name for area in areas}) == len(areas)
    assert all(
        area.properties == {"ring_of": area.area_id[:-5], "ring_m": 250.0} for area in areas[40:]
    )


def test_areas_are_neighbourhood_sized_separate_and_inside_the_patrol_area() -> None:
    areas = live_areas(load_default_area_pack())
    patrol = areas[-1].geometry
    neighbourhoods = areas[:-1]
    for area in neighbourhoods:
        assert area.geometry.is_valid
        assert 300.0 <= across_m(BIRMINGHAM.geometry_to_local(area.geometry)) <= 1500.0
        assert patrol.contains(area.geometry)
    for first, second in itertools.combinations(neighbourhoods, 2):
        assert not first.geometry.intersects(second.geometry), (first.area_id, second.area_id)


def test_each_ring_is_250_m_wide_around_its_area_and_overlaps_no_area() -> None:
    areas = load_default_area_pack()
    neighbourhoods = {area.area_id: area.geometry for area in areas if area.kind != "other"}
    for ring in (area for area in areas if area.kind == "ring"):
        own = BIRMINGHAM.geometry_to_local(neighbourhoods[str(ring.properties["ring_of"])])
        local_ring = BIRMINGHAM.geometry_to_local(ring.geometry)
        assert local_ring.area <= own.buffer(250.0).area - own.area + 1.0
        assert local_ring.distance(own) < 0.5
        assert own.buffer(251.0).contains(local_ring), ring.area_id
        for area_id, shape in neighbourhoods.items():
            if not area_id.endswith("-ring"):
                assert ring.geometry.intersection(shape).area < 1e-9, (ring.area_id, area_id)


def test_some_areas_have_holes_or_several_parts() -> None:
    shapes = {area.area_id: area.geometry for area in load_default_area_pack()}
    assert shapes["ia-12"].geom_type == "MultiPolygon"
    assert shapes["ca-15"].geom_type == "MultiPolygon"
    assert len(shapes["ia-05"].interiors) == 1
    assert len(shapes["ca-08"].interiors) == 1
    assert (
        sum(
            len(shape.exterior.coords) > 8
            for shape in shapes.values()
            if shape.geom_type == "Polygon"
        )
        > 30
    )


def test_impact_areas_have_the_evening_policy() -> None:
    for area in load_default_area_pack():
        if area.kind == "impact":
            assert area.policy is not None
            assert area.policy["alert"] is True


def test_projection_round_trips_and_measures_metres() -> None:
    lon, lat = np.array([-1.9, -1.8]), np.array([52.5, 52.4])
    x, y = BIRMINGHAM.to_local(lon, lat)
    back_lon, back_lat = BIRMINGHAM.to_lonlat(x, y)
    assert np.allclose(back_lon, lon)
    assert np.allclose(back_lat, lat)
    one_km_north = BIRMINGHAM.to_local(np.array([-1.89]), np.array([52.48 + 1000 / 111_195]))[1]
    assert abs(one_km_north[0] - 1000.0) < 1.0
