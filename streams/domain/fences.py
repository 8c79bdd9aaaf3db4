"""The geofence index: which areas a batch of fixes is inside, and which it is near.

Geometry is projected once, at build time, to a local metric plane: an equirectangular
projection around the index's reference latitude (``x = R·λ·cos φ0``, ``y = R·φ``). The
projection is linear in lon/lat, so point-in-polygon answers are exactly those of the WGS84
geometry; only the exit buffer (metres) is approximate, by the cosine ratio between a point's
latitude and the reference latitude (0.1 m of 25 m for an area 20 km north or south of it).

Two shapely 2 STRtrees hold the prepared area polygons and the polygons grown by
``exit_buffer_m``. A batch is answered with one ``query(points, predicate="intersects")`` per
tree over the whole batch, so the cost per fix stays near flat from tens to tens of thousands of
areas; Python only touches the (few) hits.

The index is immutable: :meth:`FenceIndex.with_area` and :meth:`FenceIndex.without_area` return
a new index sharing the projected geometry of every other area, and the caller swaps its
reference when ``areas.definitions`` changes.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from streams.domain.areas import AreaDefinition
from streams.domain.records import record

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""

DEFAULT_EXIT_BUFFER_M: Final = 25.0

_BUFFER_QUAD_SEGMENTS: Final = 4
"""Segments per quarter circle at buffered corners: 0.8 m short of a true 25 m arc at worst."""


@record
class Location:
    """Where one fix is relative to the areas: strictly ``inside`` and within the exit buffer.

    ``inside`` is always a subset of ``near``.
    """

    inside: frozenset[str]
    near: frozenset[str]


OUTSIDE: Final = Location(frozenset(), frozenset())
"""The location of a fix that is in and near no area (shared, as most fixes are)."""
LOCATIONS_SHARED: Final = 16_384
"""How many distinct locations :func:`shared_location` keeps (the most recently used)."""


@lru_cache(maxsize=LOCATIONS_SHARED)
def shared_location(inside: frozenset[str], near: frozenset[str]) -> Location:
    """The one :class:`Location` of these sets, shared by every fix there: a radio's track keeps
    each recent fix's location, and a few combinations of areas cover almost every fix, so
    sharing them saves two sets and a record per recent fix (about 200 B)."""
    return Location(inside, near)


@record
class Crossing:
    """Where the straight segment between two fixes runs inside one area's polygon, as fractions
    of the segment from its first fix (0) to its second (1): ``enter`` where it is first inside,
    ``leave`` where it is last inside, and ``inside`` the share of its length inside (less than
    ``leave - enter`` when the segment leaves and comes back into a concave area)."""

    area_id: str
    enter: float
    leave: float
    inside: float


@dataclass(frozen=True, slots=True)
class _ProjectedArea:
    """One area's polygon and exit-buffered polygon in the index's metric plane, prepared."""

    polygon: BaseGeometry
    near_polygon: BaseGeometry


class FenceIndex:
    """An immutable spatial index of areas answering batch ``locate`` queries. The areas must
    be valid geometry (as :func:`streams.domain.areas_feed.decode_area` makes sure): a fix in
    an area is then also near it."""

    __slots__ = (
        "_areas",
        "_bounds",
        "_cell_m",
        "_cells",
        "_exit_buffer_m",
        "_id_array",
        "_ids",
        "_near_tree",
        "_polygons",
        "_projected",
        "_reference_lat",
        "_scale_x",
    )

    def __init__(
        self,
        areas: Iterable[AreaDefinition] = (),
        *,
        exit_buffer_m: float = DEFAULT_EXIT_BUFFER_M,
        reference_lat: float | None = None,
    ) -> None:
        """Index ``areas``; the reference latitude defaults to the middle of their extent."""
        by_id = {area.area_id: area for area in areas}
        if reference_lat is None and by_id:
            reference_lat = _middle_latitude(by_id.values())
        projected = (
            {}
            if reference_lat is None
            else {
                area_id: _project_area(area, reference_lat, exit_buffer_m)
                for area_id, area in by_id.items()
            }
        )
        self._build(by_id, projected, exit_buffer_m, reference_lat)

    def _build(
        self,
        by_id: dict[str, AreaDefinition],
        projected: dict[str, _ProjectedArea],
        exit_buffer_m: float,
        reference_lat: float | None,
    ) -> None:
        self._areas: Mapping[str, AreaDefinition] = MappingProxyType(by_id)
        self._projected = projected
        self._exit_buffer_m = exit_buffer_m
        self._reference_lat = reference_lat
        self._scale_x = EARTH_RADIUS_M * math.cos(math.radians(reference_lat or 0.0))
        self._ids: tuple[str, ...] = tuple(projected)
        self._id_array = np.array(self._ids, dtype=object)
        self._polygons = np.array([area.polygon for area in projected.values()], dtype=object)
        self._near_tree = STRtree([area.near_polygon for area in projected.values()])
        self._bounds, self._cell_m, self._cells = _bounding_grid(self._polygons)

    @classmethod
    def _from_parts(
        cls,
        by_id: dict[str, AreaDefinition],
        projected: dict[str, _ProjectedArea],
        exit_buffer_m: float,
        reference_lat: float | None,
    ) -> FenceIndex:
        index = cls.__new__(cls)
        index._build(by_id, projected, exit_buffer_m, reference_lat)
        return index

    @property
    def areas(self) -> Mapping[str, AreaDefinition]:
        """Every indexed area by id (read-only)."""
        return self._areas

    @property
    def exit_buffer_m(self) -> float:
        """How far outside an area a fix still counts as ``near`` it, metres."""
        return self._exit_buffer_m

    @property
    def reference_lat(self) -> float | None:
        """The latitude of the projection's true scale (None while the index has no areas)."""
        return self._reference_lat

    def __len__(self) -> int:
        return len(self._ids)

    def with_area(self, area: AreaDefinition) -> FenceIndex:
        """A new index with ``area`` added, or replacing the area with the same id."""
        reference_lat = self._reference_lat
        if reference_lat is None:
            reference_lat = _middle_latitude([area])
        by_id = dict(self._areas)
        by_id[area.area_id] = area
        projected = dict(self._projected)
        projected[area.area_id] = _project_area(area, reference_lat, self._exit_buffer_m)
        return FenceIndex._from_parts(by_id, projected, self._exit_buffer_m, reference_lat)

    def without_area(self, area_id: str) -> FenceIndex:
        """A new index without the area ``area_id`` (the same index if it is not there)."""
        if area_id not in self._areas:
            return self
        by_id = {key: area for key, area in self._areas.items() if key != area_id}
        projected = {key: value for key, value in self._projected.items() if key != area_id}
        return FenceIndex._from_parts(by_id, projected, self._exit_buffer_m, self._reference_lat)

    def locate(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> list[Location]:
        """The :class:`Location` of each (lon, lat) fix, in input order.

        One tree query finds the exit-buffered polygons each point is in; only those areas'
        plain polygons are then tested (an area's polygon lies inside its buffered one)."""
        lon_array = np.asarray(lons, dtype=np.float64)
        lat_array = np.asarray(lats, dtype=np.float64)
        count = lon_array.shape[0]
        locations: list[Location] = [OUTSIDE] * count
        if not self._ids or count == 0:
            return locations
        xs = np.radians(lon_array) * self._scale_x
        ys = np.radians(lat_array) * EARTH_RADIUS_M
        points = shapely.points(xs, ys)
        point_indices, polygon_indices = self._near_tree.query(points, predicate="intersects")
        if point_indices.size == 0:
            return locations
        inside = shapely.intersects(self._polygons[polygon_indices], points[point_indices])
        hits = zip(
            point_indices.tolist(),
            self._id_array[polygon_indices].tolist(),
            inside.tolist(),
            strict=True,
        )
        for point_index, point_hits in groupby(hits, key=itemgetter(0)):
            near: list[str] = []
            within: list[str] = []
            for _, area_id, is_inside in point_hits:
                near.append(area_id)
                if is_inside:
                    within.append(area_id)
            locations[point_index] = shared_location(frozenset(within), frozenset(near))
        return locations

    def crossings(
        self,
        from_lon: float,
        from_lat: float,
        to_lon: float,
        to_lat: float,
        skip: Container[str] = frozenset(),
    ) -> tuple[Crossing, ...]:
        """The areas (but those in ``skip``) whose polygon the straight segment between two
        points runs through (for more than a point), by area id, with where it does
        (:class:`Crossing`).

        The segment is straight in the index's plane (as fixes are interpolated linearly in
        lon/lat). It is called once per fix, so the common answer (nothing) is found in plain
        Python: the grid cells its bounding box covers list the areas whose bounding box
        meets them (:func:`_bounding_grid`), and only the areas whose box meets the segment's,
        not skipped and that the segment meets (a prepared test) are cut exactly."""
        if not self._ids:
            return ()
        x0 = math.radians(from_lon) * self._scale_x
        y0 = math.radians(from_lat) * EARTH_RADIUS_M
        x1 = math.radians(to_lon) * self._scale_x
        y1 = math.radians(to_lat) * EARTH_RADIUS_M
        dx, dy = x1 - x0, y1 - y0
        length_sq = dx * dx + dy * dy
        if length_sq == 0.0:
            return ()
        west, east = (x0, x1) if x0 <= x1 else (x1, x0)
        south, north = (y0, y1) if y0 <= y1 else (y1, y0)
        cell_m, cells, bounds, ids = self._cell_m, self._cells, self._bounds, self._ids
        first_column, last_column = math.floor(west / cell_m), math.floor(east / cell_m)
        first_row, last_row = math.floor(south / cell_m), math.floor(north / cell_m)
        candidates: Iterable[int]
        if first_column == last_column and first_row == last_row:  # most segments
            candidates = cells.get((first_column, first_row), ())
        else:
            candidates = set()
            for column in range(first_column, last_column + 1):
                for row in range(first_row, last_row + 1):
                    found_here = cells.get((column, row))
                    if found_here:
                        candidates.update(found_here)
        if not candidates:
            return ()
        wanted = [
            position
            for position in candidates
            if ids[position] not in skip
            and bounds[position][0] <= east
            and bounds[position][2] >= west
            and bounds[position][1] <= north
            and bounds[position][3] >= south
        ]
        if not wanted:
            return ()
        wanted.sort()
        segment = shapely.linestrings([(x0, y0), (x1, y1)])
        length = math.sqrt(length_sq)
        found: list[Crossing] = []
        for position in wanted:
            polygon = self._polygons[position]
            if not shapely.intersects(polygon, segment):
                continue
            part = shapely.intersection(polygon, segment)
            inside_m = float(shapely.length(part))
            if inside_m <= 0.0:
                continue
            along = [
                ((x - x0) * dx + (y - y0) * dy) / length_sq
                for x, y in shapely.get_coordinates(part).tolist()
            ]
            found.append(
                Crossing(
                    ids[position],
                    max(min(along), 0.0),
                    min(max(along), 1.0),
                    min(inside_m / length, 1.0),
                )
            )
        found.sort(key=lambda crossing: crossing.area_id)
        return tuple(found)


_GRID_CELLS_MAX: Final = 65_536
_GRID_CELL_MIN_M: Final = 250.0


def _bounding_grid(
    polygons: npt.NDArray[np.object_],
) -> tuple[list[tuple[float, float, float, float]], float, dict[tuple[int, int], tuple[int, ...]]]:
    """The polygons' bounding boxes, and a square grid over them: the cell size (at least
    250 m, larger if the extent would need more than 65,536 cells) and, by (column, row), the
    positions of the polygons that meet each cell (cells meeting none are left out): a segment
    within cells that list no area crosses none."""
    if len(polygons) == 0:
        return [], _GRID_CELL_MIN_M, {}
    box_array = shapely.bounds(polygons)
    extent = float(
        (box_array[:, 2].max() - box_array[:, 0].min())
        * (box_array[:, 3].max() - box_array[:, 1].min())
    )
    cell_m = max(_GRID_CELL_MIN_M, math.sqrt(extent / _GRID_CELLS_MAX))
    boxes = [(float(a), float(b), float(c), float(d)) for a, b, c, d in box_array.tolist()]
    pairs: list[tuple[int, int, int]] = [
        (position, column, row)
        for position, (west, south, east, north) in enumerate(boxes)
        for column in range(math.floor(west / cell_m), math.floor(east / cell_m) + 1)
        for row in range(math.floor(south / cell_m), math.floor(north / cell_m) + 1)
    ]
    positions = np.fromiter((pair[0] for pair in pairs), np.int64, len(pairs))
    columns = np.fromiter((pair[1] for pair in pairs), np.float64, len(pairs))
    rows = np.fromiter((pair[2] for pair in pairs), np.float64, len(pairs))
    cell_boxes = shapely.box(
        columns * cell_m, rows * cell_m, (columns + 1) * cell_m, (rows + 1) * cell_m
    )
    meets = shapely.intersects(polygons[positions], cell_boxes).tolist()
    grid: dict[tuple[int, int], list[int]] = {}
    for (position, column, row), met in zip(pairs, meets, strict=True):
        if met:
            grid.setdefault((column, row), []).append(position)
    return boxes, cell_m, {cell: tuple(found) for cell, found in grid.items()}


def _middle_latitude(areas: Iterable[AreaDefinition]) -> float:
    """The latitude halfway between the southern- and northernmost points of ``areas``."""
    bounds = shapely.bounds(np.array([area.geometry for area in areas], dtype=object))
    return float((bounds[:, 1].min() + bounds[:, 3].max()) / 2.0)


def _project_area(
    area: AreaDefinition, reference_lat: float, exit_buffer_m: float
) -> _ProjectedArea:
    """``area`` in the metric plane around ``reference_lat``, plain and exit-buffered, prepared."""
    scale_x = EARTH_RADIUS_M * math.cos(math.radians(reference_lat))

    def to_metres(coordinates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        radians = np.radians(coordinates)
        return np.column_stack((radians[:, 0] * scale_x, radians[:, 1] * EARTH_RADIUS_M))

    polygon = shapely.transform(area.geometry, to_metres)
    near_polygon = shapely.buffer(polygon, exit_buffer_m, quad_segs=_BUFFER_QUAD_SEGMENTS)
    shapely.prepare(polygon)
    shapely.prepare(near_polygon)
    return _ProjectedArea(polygon=polygon, near_polygon=near_polygon)
