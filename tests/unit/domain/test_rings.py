"""Displacement rings: buffer(area, ring_m) minus the area and every other impact or comparison
area; generated rings are regenerated, given ones kept."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import Polygon, box

from streams.domain.areas import AreaDefinition, AreaPackError, is_live, parse_area_feature
from streams.domain.metres import LocalMetres, area_km2
from streams.domain.rings import pack_with_rings, ring_id, with_rings

ORIGIN = LocalMetres(-1.89, 52.48)


def square_m(west_m: float, south_m: float, side_m: float) -> Polygon:
    """A lon/lat square given in metres from the origin."""
    return ORIGIN.to_lonlat(box(west_m, south_m, west_m + side_m, south_m + side_m))


def area(area_id: str, kind: str, shape: Polygon, **properties: Any) -> AreaDefinition:
    return AreaDefinition(area_id, area_id, kind, shape, None, properties)  # type: ignore[arg-type]


def metres(shape: Any) -> Any:
    return ORIGIN.to_metres(shape)


def test_ring_is_the_250_m_band_around_its_area() -> None:
    (_, ring) = with_rings([area("ia-01", "impact", square_m(0, 0, 400))])
    assert (ring.area_id, ring.kind, ring.properties) == (
        "ia-01-ring", "ring", {"ring_of": "ia-01", "ring_m": 250.0}
    )  # fmt: skip
    expected_m2 = (400 + 500) ** 2 - 400**2 - (4 - 3.14159) * 250**2
    assert metres(ring.geometry).area == pytest.approx(expected_m2, rel=0.01)
    assert not metres(ring.geometry).intersects(box(1, 1, 399, 399))


def test_ring_leaves_out_a_neighbouring_area_but_not_its_ring() -> None:
    impact = area("ia-01", "impact", square_m(0, 0, 400))
    comparison = area("ca-01", "comparison", square_m(500, 0, 400))
    rings = {ring.area_id: ring for ring in with_rings([impact, comparison])[2:]}
    ring_of_impact = metres(rings["ia-01-ring"].geometry)
    assert ring_of_impact.intersection(box(500, 0, 900, 400)).area < 1.0
    assert ring_of_impact.intersection(box(410, 0, 490, 400)).area == pytest.approx(
        80 * 400, rel=0.01
    )
    assert ring_of_impact.intersects(metres(rings["ca-01-ring"].geometry))  # rings may overlap


def test_ring_of_other_areas_is_neither_made_nor_kept_out() -> None:
    patrol = area("patrol", "other", square_m(-5000, -5000, 10_000))
    ringed = with_rings([patrol, area("ia-01", "impact", square_m(0, 0, 400))])
    assert [a.area_id for a in ringed] == ["patrol", "ia-01", "ia-01-ring"]


def test_an_area_s_ring_m_sets_its_ring_width() -> None:
    (_, ring) = with_rings([area("ia-01", "impact", square_m(0, 0, 400), ring_m=100)])
    assert ring.properties["ring_m"] == 100.0
    assert metres(ring.geometry).bounds == pytest.approx((-100, -100, 500, 500), abs=0.5)


def test_generated_rings_are_regenerated_and_given_rings_kept() -> None:
    drawn = area("ca-01-ring", "ring", square_m(2000, 2000, 50), ring_of="ca-01")
    stale = area("ia-01-ring", "ring", square_m(9000, 9000, 50), ring_of="ia-01", ring_m=250.0)
    pack = [
        area("ia-01", "impact", square_m(0, 0, 400)),
        area("ca-01", "comparison", square_m(3000, 0, 400)),
        stale,
        drawn,
    ]
    ringed = with_rings(pack)
    assert [a.area_id for a in ringed] == ["ia-01", "ca-01", "ca-01-ring", "ia-01-ring"]
    assert ringed[2] is drawn
    assert metres(ringed[3].geometry).bounds == pytest.approx((-250, -250, 650, 650), abs=0.5)


def test_pack_with_rings_keeps_the_document_and_is_idempotent() -> None:
    feature = {
        "type": "Feature",
        "id": "ia-01",
        "properties": {"name": "A", "kind": "impact", "gis_ref": 7},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.48]]],
        },
    }
    document = {"type": "FeatureCollection", "name": "Pack", "features": [feature]}
    once = pack_with_rings(document)
    assert once["name"] == "Pack"
    features = once["features"]
    assert isinstance(features, list)
    assert features[0] == feature
    assert [f["id"] for f in features] == ["ia-01", "ia-01-ring"]
    assert parse_area_feature(features[1]).kind == "ring"
    assert pack_with_rings(once) == once


def test_a_ring_id_too_long_for_an_id_is_a_pack_problem() -> None:
    long_id = "a" * 60
    with pytest.raises(AreaPackError, match="too long"):
        with_rings([area(long_id, "impact", square_m(0, 0, 100))])
    assert ring_id("ia-01") == "ia-01-ring"


def test_a_ring_needs_ring_of_and_ring_m_must_be_positive_metres() -> None:
    geometry = {
        "type": "Polygon",
        "coordinates": [[[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.48]]],
    }
    ring = {"type": "Feature", "id": "r", "properties": {"name": "R", "kind": "ring"}}
    with pytest.raises(Exception, match="needs 'ring_of'"):
        parse_area_feature({**ring, "geometry": geometry})
    bad_width = {"name": "A", "kind": "impact", "ring_m": 0}
    with pytest.raises(Exception, match="'ring_m' must be metres above 0"):
        parse_area_feature({**ring, "properties": bad_width, "geometry": geometry})
    good = {"name": "R", "kind": "ring", "ring_of": "ia-01"}
    assert not is_live(parse_area_feature({**ring, "properties": good, "geometry": geometry}))


def test_km2_is_measured_in_metres() -> None:
    assert area_km2(square_m(0, 0, 1000)) == pytest.approx(1.0, rel=0.001)
