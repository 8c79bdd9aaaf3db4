"""Where things can happen in the simulated force, in local metres: point pools sampled in each
area and across the force area, neighbourhood beats and stations, all clear of neglected areas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from streams.domain.areas import AreaDefinition
from streams.simulator.catalogue import STATION_LETTERS, BoolArray, FloatArray, IntArray
from streams.simulator.geography import LocalProjection


@dataclass(slots=True)
class Places:
    """Where things can happen, in local metres: sampled point pools per area and force-wide."""

    projection: LocalProjection
    area_pools: list[FloatArray]
    impact_targets: list[int]
    comparison_targets: list[int]
    patrol_pool: FloatArray
    beat_centres: FloatArray
    stations: FloatArray

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Local metres as lon/lat rounded to 6 decimals."""
        lon, lat = self.projection.to_lonlat(np.array([x]), np.array([y]))
        return round(float(lon[0]), 6), round(float(lat[0]), 6)


def nearest(candidates: FloatArray, points: FloatArray) -> IntArray:
    """Index of the nearest candidate to each point."""
    distance = np.hypot(
        points[:, None, 0] - candidates[None, :, 0], points[:, None, 1] - candidates[None, :, 1]
    )
    nearest: IntArray = np.argmin(distance, axis=1).astype(np.int64)
    return nearest


def disc_points(rng: np.random.Generator, centres: FloatArray, radius_m: float) -> FloatArray:
    """One uniform random point within ``radius_m`` of each centre."""
    radius = radius_m * np.sqrt(rng.random(len(centres)))
    angle = rng.random(len(centres)) * 2.0 * math.pi
    points: FloatArray = centres + np.column_stack((radius * np.cos(angle), radius * np.sin(angle)))
    return points


def area_points(
    rng: np.random.Generator,
    places: Places,
    targets: Sequence[int],
    chosen: BoolArray,
    points: FloatArray,
) -> BoolArray:
    """Replace ``points[chosen]`` with random points in random ``targets``; return where done."""
    if not targets:
        return np.zeros_like(chosen)
    for row in np.flatnonzero(chosen).tolist():
        pool = places.area_pools[targets[int(rng.integers(len(targets)))]]
        points[row] = pool[int(rng.integers(len(pool)))]
    return chosen


def sample_inside(
    rng: np.random.Generator, shape: Polygon | MultiPolygon, count: int
) -> FloatArray:
    """``count`` uniform random points inside a local-metre shape (rejection sampling)."""
    min_x, min_y, max_x, max_y = shape.bounds
    found: list[FloatArray] = []
    total = 0
    while total < count:
        candidates = np.column_stack(
            (rng.uniform(min_x, max_x, 4 * count), rng.uniform(min_y, max_y, 4 * count))
        )
        inside = candidates[shapely.contains_xy(shape, candidates[:, 0], candidates[:, 1])]
        found.append(inside)
        total += len(inside)
    points: FloatArray = np.concatenate(found)[:count]
    return points


def _patrol_region(areas: Sequence[AreaDefinition]) -> Polygon | MultiPolygon:
    """The force area: the largest ``other`` area, else 2 km around all areas' hull."""
    others = [area.geometry for area in areas if area.kind == "other"]
    if others:
        return max(others, key=lambda shape: shape.area)
    hull = shapely.convex_hull(shapely.union_all([area.geometry for area in areas]))
    projection = LocalProjection(hull.centroid.x, hull.centroid.y)
    buffered = (
        projection.geometry_to_local(hull).buffer(2000.0) if isinstance(hull, Polygon) else hull
    )
    return projection.geometry_to_lonlat(buffered)


def build_places(
    rng: np.random.Generator, areas: Sequence[AreaDefinition], neglected: set[str]
) -> Places:
    """Point pools per area and force-wide, beats and stations, all clear of neglected areas.

    A displacement ring (a feature with ``ring_of``) gets no pool and draws nothing: a pack
    that ships rings places everything else as the same pack without them.
    """
    if not areas:
        raise ValueError("the simulation needs at least one area")
    region_lonlat = _patrol_region(areas)
    projection = LocalProjection(region_lonlat.centroid.x, region_lonlat.centroid.y)
    region = projection.geometry_to_local(region_lonlat)
    local_areas = [projection.geometry_to_local(area.geometry) for area in areas]
    area_pools = [
        np.empty((0, 2)) if "ring_of" in area.properties else sample_inside(rng, shape, 256)
        for shape, area in zip(local_areas, areas, strict=True)
    ]
    neglected_shapes = [
        shape for shape, area in zip(local_areas, areas, strict=True) if area.area_id in neglected
    ]
    avoid = shapely.union_all(neglected_shapes) if neglected_shapes else Polygon()
    pool = sample_inside(rng, region, 8192)
    clear_by_m = (
        shapely.distance(avoid, shapely.points(pool))
        if neglected_shapes
        else np.full(len(pool), np.inf)
    )
    patrol_pool = pool[clear_by_m > 150.0]
    far_from_neglected = pool[clear_by_m > 1000.0]
    beat_centres = (far_from_neglected if len(far_from_neglected) else patrol_pool)[:512]
    return Places(
        projection=projection,
        area_pools=area_pools,
        impact_targets=[
            i for i, a in enumerate(areas) if a.kind == "impact" and a.area_id not in neglected
        ],
        comparison_targets=[
            i for i, a in enumerate(areas) if a.kind == "comparison" and a.area_id not in neglected
        ],
        patrol_pool=patrol_pool,
        beat_centres=beat_centres,
        stations=_spread_out(patrol_pool, len(STATION_LETTERS)),
    )


def _spread_out(points: FloatArray, count: int) -> FloatArray:
    """``count`` of the inner points far from each other (greedy farthest-point choice)."""
    centre = points.mean(axis=0)
    from_centre = np.hypot(*(points - centre).T)
    points = points[from_centre <= 0.6 * from_centre.max()]
    chosen = [int(np.argmin(np.hypot(*(points - centre).T)))]
    for _ in range(count - 1):
        gaps = np.min(
            np.hypot(
                points[:, None, 0] - points[chosen, 0], points[:, None, 1] - points[chosen, 1]
            ),
            axis=1,
        )
        chosen.append(int(np.argmax(gaps)))
    spread: FloatArray = points[chosen]
    return spread
