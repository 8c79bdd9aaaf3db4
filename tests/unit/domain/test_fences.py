"""Behaviour of the geofence index: inside, near (exit buffer), batch answers, live re-index."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from streams.domain.areas import AreaDefinition
from streams.domain.fences import OUTSIDE, FenceIndex, Location, shared_location

ORIGIN_LAT = 51.5
ORIGIN_LON = -0.12
METRES_PER_DEGREE = 111_195.0


def lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    lat = ORIGIN_LAT + north_m / METRES_PER_DEGREE
    lon = ORIGIN_LON + east_m / (METRES_PER_DEGREE * math.cos(math.radians(ORIGIN_LAT)))
    return lon, lat


def ring(west_m: float, south_m: float, side_m: float) -> list[tuple[float, float]]:
    return [
        lonlat(west_m, south_m),
        lonlat(west_m + side_m, south_m),
        lonlat(west_m + side_m, south_m + side_m),
        lonlat(west_m, south_m + side_m),
    ]


def area(area_id: str, geometry: Polygon | MultiPolygon) -> AreaDefinition:
    return AreaDefinition(area_id=area_id, name=area_id, kind="impact", geometry=geometry)


def square(area_id: str, west_m: float, south_m: float, side_m: float) -> AreaDefinition:
    return area(area_id, Polygon(ring(west_m, south_m, side_m)))


def locate(index: FenceIndex, *points_m: tuple[float, float]) -> list[Location]:
    lons, lats = zip(*(lonlat(*p) for p in points_m), strict=True)
    return index.locate(np.array(lons), np.array(lats))


def where(inside: set[str], near: set[str]) -> Location:
    return Location(frozenset(inside), frozenset(near))


SQUARE = square("A", 0, 0, 200)


@pytest.mark.parametrize(
    ("point_m", "expected"),
    [
        ((100, 100), where({"A"}, {"A"})),
        ((1, 100), where({"A"}, {"A"})),
        ((-10, 100), where(set(), {"A"})),
        ((100, 220), where(set(), {"A"})),
        ((-30, 100), where(set(), set())),
        ((100, 230), where(set(), set())),
        ((-20, -20), where(set(), set())),  # 28 m from the corner: outside the rounded buffer
        ((1000, 1000), OUTSIDE),
    ],
)
def test_point_is_inside_near_or_outside(point_m: tuple[float, float], expected: Location) -> None:
    assert locate(FenceIndex([SQUARE]), point_m) == [expected]


def test_fixes_at_the_same_place_share_one_location_across_batches() -> None:
    index = FenceIndex([SQUARE])
    first, second = locate(index, (100, 100)), locate(FenceIndex([SQUARE]), (120, 90))

    assert first[0] is second[0]
    assert first[0] is shared_location(frozenset({"A"}), frozenset({"A"}))


def test_hole_is_outside() -> None:
    with_hole = Polygon(ring(0, 0, 400), holes=[ring(100, 100, 200)])
    index = FenceIndex([area("H", with_hole)])
    in_hole, near_hole_edge, in_ring = locate(index, (200, 200), (110, 200), (50, 200))
    assert in_hole == OUTSIDE
    assert near_hole_edge == where(set(), {"H"})
    assert in_ring == where({"H"}, {"H"})


def test_every_part_of_a_multipolygon_counts() -> None:
    parts = MultiPolygon([Polygon(ring(0, 0, 100)), Polygon(ring(500, 0, 100))])
    index = FenceIndex([area("M", parts)])
    assert locate(index, (50, 50), (550, 50), (300, 50)) == [
        where({"M"}, {"M"}),
        where({"M"}, {"M"}),
        OUTSIDE,
    ]


def test_overlapping_areas_both_contain_a_point() -> None:
    index = FenceIndex([square("A", 0, 0, 200), square("B", 150, 0, 200)])
    (both,) = locate(index, (175, 100))
    assert both == where({"A", "B"}, {"A", "B"})


def test_with_and_without_area_return_new_indexes() -> None:
    index = FenceIndex([SQUARE])
    grown = index.with_area(square("B", 1000, 1000, 100))
    assert locate(grown, (1050, 1050)) == [where({"B"}, {"B"})]
    assert locate(index, (1050, 1050)) == [OUTSIDE]
    assert set(grown.areas) == {"A", "B"}
    assert set(index.areas) == {"A"}
    shrunk = grown.without_area("A")
    assert locate(shrunk, (100, 100)) == [OUTSIDE]
    assert shrunk.without_area("nope") is shrunk
    moved = grown.with_area(square("A", 5000, 0, 100))
    assert locate(moved, (100, 100), (5050, 50)) == [OUTSIDE, where({"A"}, {"A"})]


def test_empty_index_locates_everything_outside_and_can_grow() -> None:
    empty = FenceIndex()
    assert locate(empty, (0, 0)) == [OUTSIDE]
    assert empty.locate(np.array([]), np.array([])) == []
    assert locate(empty.with_area(SQUARE), (100, 100)) == [where({"A"}, {"A"})]


def test_exit_buffer_is_configurable() -> None:
    index = FenceIndex([SQUARE], exit_buffer_m=50)
    assert index.exit_buffer_m == 50
    assert locate(index, (-40, 100)) == [where(set(), {"A"})]


@cache
def random_areas(count: int) -> tuple[AreaDefinition, ...]:
    """``count`` random valid areas (stars with holes, multipolygons, overlaps) over 20 km x
    20 km; a star whose hole crosses its outline is drawn again (area feeds reject invalid
    geometry before it reaches an index)."""
    rng = np.random.default_rng(count)
    areas: list[AreaDefinition] = []
    while len(areas) < count:
        i = len(areas)
        cx, cy = rng.uniform(0, 20_000, size=2)
        radius = rng.uniform(50, 600)
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=int(rng.integers(5, 12))))
        radii = radius * rng.uniform(0.5, 1.0, size=angles.size)
        outer = [
            lonlat(cx + r * np.cos(a), cy + r * np.sin(a))
            for a, r in zip(angles, radii, strict=True)
        ]
        hole = [lonlat(cx + dx, cy + dy) for dx, dy in ((-20, -20), (20, -20), (0, 20))]
        shape: Polygon | MultiPolygon = Polygon(outer, holes=[hole])
        if i % 5 == 0:
            shape = MultiPolygon([shape, Polygon(ring(cx + 1000, cy, radius))])
        if shape.is_valid:
            areas.append(area(f"area-{i}", shape))
    return tuple(areas)


@cache
def random_index(count: int) -> FenceIndex:
    return FenceIndex(random_areas(count))


@pytest.mark.parametrize("count", [40, 1000])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_locate_agrees_with_brute_force_contains(count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    areas = random_areas(count)
    # Half the points anywhere, half close to some area so that hits are common.
    anywhere = rng.uniform(-500, 21_500, size=(300, 2))
    centres = np.array([area.geometry.centroid.coords[0] for area in areas])
    chosen = centres[rng.integers(0, len(areas), size=300)]
    close = chosen + rng.normal(0, 0.004, size=chosen.shape)
    lons = np.concatenate([[lonlat(*p)[0] for p in anywhere], close[:, 0]])
    lats = np.concatenate([[lonlat(*p)[1] for p in anywhere], close[:, 1]])
    locations = random_index(count).locate(lons, lats)
    for lon, lat, location in zip(lons, lats, locations, strict=True):
        point = Point(lon, lat)
        expected = {a.area_id for a in areas if a.geometry.contains(point)}
        assert location.inside == expected
        assert location.inside <= location.near
