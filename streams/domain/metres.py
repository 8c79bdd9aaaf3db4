"""Metres on the ground for WGS84 lon/lat geometry: a local equirectangular projection.

``x = R·(λ - λ0)·cos φ0``, ``y = R·(φ - φ0)`` around an origin (λ0, φ0): linear in lon/lat, so
it keeps which points lie inside which polygons, and distances and areas are right to well
under a percent across a force area of a few tens of kilometres (the cosine of the latitude
changes by 0.3 % over 20 km north or south of the origin in the Midlands). The same projection
as :mod:`streams.domain.fences` and the simulator's geography; no external CRS library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeVar, cast

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""
SQUARE_METRES_PER_KM2: Final = 1_000_000.0

Shape = TypeVar("Shape", bound=BaseGeometry)


@dataclass(frozen=True, slots=True)
class LocalMetres:
    """The local projection around ``(origin_lon, origin_lat)``: metres east and north."""

    origin_lon: float
    origin_lat: float

    @classmethod
    def around(cls, geometries: Iterable[BaseGeometry]) -> LocalMetres:
        """The projection centred on the middle of the geometries' bounding box."""
        bounds = shapely.bounds(np.array(list(geometries), dtype=object))
        return cls(
            float((bounds[:, 0].min() + bounds[:, 2].max()) / 2.0),
            float((bounds[:, 1].min() + bounds[:, 3].max()) / 2.0),
        )

    @property
    def _scale_x(self) -> float:
        return EARTH_RADIUS_M * math.cos(math.radians(self.origin_lat))

    def to_metres(self, geometry: Shape) -> Shape:
        """A lon/lat geometry in local metres."""

        def forward(lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            radians = np.radians(lonlat - (self.origin_lon, self.origin_lat))
            return np.column_stack((radians[:, 0] * self._scale_x, radians[:, 1] * EARTH_RADIUS_M))

        return cast(Shape, shapely.transform(geometry, forward))

    def to_lonlat(self, geometry: Shape) -> Shape:
        """A local-metre geometry in lon/lat."""

        def backward(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            lon = np.degrees(xy[:, 0] / self._scale_x) + self.origin_lon
            lat = np.degrees(xy[:, 1] / EARTH_RADIUS_M) + self.origin_lat
            return np.column_stack((lon, lat))

        return cast(Shape, shapely.transform(geometry, backward))


def area_km2(geometry: BaseGeometry) -> float:
    """The ground area of a lon/lat geometry in square kilometres (projected around itself)."""
    projected = LocalMetres.around([geometry]).to_metres(geometry)
    return float(projected.area) / SQUARE_METRES_PER_KM2
