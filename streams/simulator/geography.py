"""The simulated force's geography: a local metric projection and the default area pack.

The default pack is synthetic and illustrative: 19 Impact Areas and 20 comparison areas in a
West-Midlands-like patrol area around Birmingham (lat 52.48, lon -1.89), plus the patrol area
itself (kind ``other``), and the 39 displacement rings of the Impact and comparison areas
(kind ``ring``, 250 m, :mod:`streams.domain.rings`). It is not any police force's real Impact
Areas. Each area is a union
of Voronoi cells around seeded points (so its edges look like street blocks) inside a random
ellipse; a few have a hole (a park) or are split in two by a main road (a MultiPolygon).

Regenerate the committed file with ``python -m streams.simulator.geography > FILE``; the same
seed always gives the same bytes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import orjson
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.ops import unary_union

from streams.domain.areas import (
    AreaDefinition,
    AreaGeometry,
    AreaKind,
    area_to_feature,
    parse_area_pack,
)
from streams.domain.rings import with_rings

FloatArray = npt.NDArray[np.float64]

EARTH_RADIUS_M: Final = 6_371_008.8
BIRMINGHAM_LON: Final = -1.89
BIRMINGHAM_LAT: Final = 52.48
DEFAULT_PACK_SEED: Final = 2026
IMPACT_AREAS: Final = 19
COMPARISON_AREAS: Final = 20
PATROL_AREA_ID: Final = "patrol-area"
MIN_AREA_ACROSS_M: Final = 300.0
MAX_AREA_ACROSS_M: Final = 1500.0
MIN_GAP_BETWEEN_AREAS_M: Final = 400.0
AREAS_WITH_A_PARK: Final = frozenset({"ia-05", "ca-08"})
AREAS_SPLIT_BY_A_ROAD: Final = frozenset({"ia-12", "ca-15"})
PACK_FILE: Final = "area-pack.geojson"

IMPACT_POLICY: Final[dict[str, object]] = {
    "bands": [{"start": "18:00", "end": "02:00", "max_gap_minutes": 120}],
    "default_max_gap_minutes": 240,
    "alert": True,
}
COMPARISON_POLICY: Final[dict[str, object]] = {"alert": False}
"""Comparison areas are measured against the Impact Areas' dosage policy, but never alert."""

_NAME_STARTS: Final = (
    "Ash", "Birch", "Bram", "Brook", "Calder", "Cinder", "Clay", "Cole", "Elder", "Elm",
    "Fen", "Fox", "Gorse", "Hart", "Hazel", "Holly", "Kestrel", "Lark", "Linden", "Marl",
    "Mere", "Nettle", "Oak", "Pebble", "Quarry", "Rook", "Rowan", "Sedge", "Sorrel", "Tansy",
    "Thorn", "Wren", "Yew", "Alder", "Bracken", "Heron", "Bell", "Chester", "Dun", "Farn",
    "Gold", "Hawk", "Ivy", "Kings", "Lang", "Maple", "Nor", "Otter", "Pike", "Sand",
)  # fmt: skip
_NAME_ENDS: Final = (
    "bury", "combe", "cote", "dale", "field", "ford", "gate", "hurst", "ley", "mead",
    "moor", "stead", "ton", "well", "wick", "worth",
)  # fmt: skip
_NAME_QUALIFIERS: Final = ("", "", "", " Estate", " Green", " Park", " Village", " North", " South")


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection to metres east (x) and north (y) of an origin.

    Accurate to well under a metre across a force area of a few tens of kilometres.
    """

    origin_lon: float
    origin_lat: float

    @property
    def metres_per_degree_lat(self) -> float:
        """Metres per degree of latitude."""
        return EARTH_RADIUS_M * math.pi / 180.0

    @property
    def metres_per_degree_lon(self) -> float:
        """Metres per degree of longitude at the origin's latitude."""
        return self.metres_per_degree_lat * math.cos(math.radians(self.origin_lat))

    def to_local(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Lon/lat degrees to x/y metres."""
        x = (lon - self.origin_lon) * self.metres_per_degree_lon
        y = (lat - self.origin_lat) * self.metres_per_degree_lat
        return x, y

    def to_lonlat(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """X/y metres to lon/lat degrees."""
        lon = self.origin_lon + x / self.metres_per_degree_lon
        lat = self.origin_lat + y / self.metres_per_degree_lat
        return lon, lat

    def geometry_to_local(self, geometry: AreaGeometry) -> AreaGeometry:
        """A lon/lat geometry in local metres."""
        return shapely.transform(
            geometry, lambda xy: np.column_stack(self.to_local(xy[:, 0], xy[:, 1]))
        )

    def geometry_to_lonlat(self, geometry: AreaGeometry) -> AreaGeometry:
        """A local-metre geometry in lon/lat."""
        return shapely.transform(
            geometry, lambda xy: np.column_stack(self.to_lonlat(xy[:, 0], xy[:, 1]))
        )


BIRMINGHAM: Final = LocalProjection(BIRMINGHAM_LON, BIRMINGHAM_LAT)


def across_m(geometry: AreaGeometry) -> float:
    """How far across a local-metre geometry is: the longer side of its bounding box."""
    min_x, min_y, max_x, max_y = geometry.bounds
    return float(max(max_x - min_x, max_y - min_y))


def build_default_area_pack(seed: int = DEFAULT_PACK_SEED) -> list[AreaDefinition]:
    """The illustrative pack: ``ia-01``..``ia-19``, ``ca-01``..``ca-20``, ``patrol-area``, then
    the rings ``ia-01-ring``..``ca-20-ring``."""
    rng = np.random.default_rng(seed)
    patrol = _patrol_outline(rng)
    names = _neighbourhood_names(rng, IMPACT_AREAS + COMPARISON_AREAS)
    placed: list[Polygon | MultiPolygon] = []
    areas: list[AreaDefinition] = []
    plan = [("ia", index, "impact", 4500.0) for index in range(1, IMPACT_AREAS + 1)]
    plan += [("ca", index, "comparison", 6500.0) for index in range(1, COMPARISON_AREAS + 1)]
    for (prefix, number, kind, spread_m), name in zip(plan, names, strict=True):
        area_id = f"{prefix}-{number:02d}"
        shape = _place_area(rng, area_id, patrol, placed, spread_m)
        placed.append(shape)
        policy = IMPACT_POLICY if kind == "impact" else COMPARISON_POLICY
        areas.append(_definition(area_id, name, _kind(kind), shape, policy))
    areas.append(
        _definition(PATROL_AREA_ID, "Illustrative force patrol area", "other", patrol, None)
    )
    return with_rings(areas)


def area_pack_document(
    areas: Sequence[AreaDefinition], seed: int = DEFAULT_PACK_SEED
) -> dict[str, object]:
    """The pack as a GeoJSON FeatureCollection labelled synthetic and illustrative."""
    features = []
    for area in areas:
        feature = area_to_feature(area)
        del feature["schema"]
        features.append(feature)
    return {
        "type": "FeatureCollection",
        "name": "Coverwatch illustrative area pack (West-Midlands-like)",
        "attribution": (
            f"Synthetic boundaries generated by streams.simulator.geography (seed {seed}). "
            "Illustrative only: not any police force's real Impact Areas."
        ),
        "description": (
            f"{IMPACT_AREAS} illustrative Impact Areas (ia-*), {COMPARISON_AREAS} comparison areas "
            "(ca-*), the surrounding patrol area (patrol-area) and the 250 m displacement ring of "
            "each Impact and comparison area (*-ring) around Birmingham, for demos, tests and the "
            "simulator."
        ),
        "features": features,
    }


def load_default_area_pack() -> list[AreaDefinition]:
    """The committed default pack, parsed and checked."""
    raw = resources.files("streams.simulator").joinpath("data", PACK_FILE).read_bytes()
    return parse_area_pack(orjson.loads(raw))


def _kind(kind: str) -> AreaKind:
    """The literal kind for the plan's kind text."""
    return "impact" if kind == "impact" else "comparison"


def _definition(
    area_id: str,
    name: str,
    kind: AreaKind,
    local_shape: AreaGeometry,
    policy: dict[str, object] | None,
) -> AreaDefinition:
    """An area from a local-metre shape, with lon/lat rounded to 6 decimals (~0.1 m)."""
    lonlat = BIRMINGHAM.geometry_to_lonlat(local_shape)
    rounded = shapely.transform(shapely.set_precision(lonlat, 1e-6), lambda xy: np.round(xy, 6))
    return AreaDefinition(area_id, name, kind, rounded, policy, {})


def _patrol_outline(rng: np.random.Generator) -> Polygon:
    """A wobbly oval about 25 km x 20 km: star-shaped around the centre, so always valid."""
    angles = np.linspace(0.0, 2.0 * math.pi, 180, endpoint=False)
    wobble = np.ones_like(angles)
    for harmonic, amplitude in ((3, 0.07), (5, 0.05), (9, 0.03), (17, 0.015)):
        wobble += amplitude * np.sin(harmonic * angles + rng.uniform(0.0, 2.0 * math.pi))
    x = 12_500.0 * np.cos(angles) * wobble
    y = 10_000.0 * np.sin(angles) * wobble
    return Polygon(np.column_stack((x, y)))


def _place_area(
    rng: np.random.Generator,
    area_id: str,
    patrol: Polygon,
    placed: Sequence[AreaGeometry],
    spread_m: float,
) -> AreaGeometry:
    """A neighbourhood-like shape inside the patrol area, clear of every area placed so far."""
    allowed = patrol.buffer(-1500.0)
    while True:
        centre = Point(rng.normal(0.0, spread_m * 1.0), rng.normal(0.0, spread_m * 0.8))
        if not allowed.contains(centre):
            continue
        shape = _neighbourhood_shape(rng, centre, area_id)
        if shape is None or not MIN_AREA_ACROSS_M <= across_m(shape) <= MAX_AREA_ACROSS_M:
            continue
        if all(shape.distance(other) >= MIN_GAP_BETWEEN_AREAS_M for other in placed):
            return shape


def _neighbourhood_shape(
    rng: np.random.Generator, centre: Point, area_id: str
) -> AreaGeometry | None:
    """Voronoi cells whose seeds fall in a random ellipse around ``centre``, merged; or None."""
    window = box(centre.x - 1400.0, centre.y - 1400.0, centre.x + 1400.0, centre.y + 1400.0)
    seeds = np.column_stack(
        (
            rng.uniform(window.bounds[0], window.bounds[2], 90),
            rng.uniform(window.bounds[1], window.bounds[3], 90),
        )
    )
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=window)
    cells_by_seed = _cells_in_seed_order(cells, seeds)
    inside = _in_ellipse(rng, seeds - np.array([centre.x, centre.y]))
    inside[int(np.argmin(np.hypot(seeds[:, 0] - centre.x, seeds[:, 1] - centre.y)))] = True
    shape = unary_union([cells_by_seed[index] for index in np.flatnonzero(inside)]).intersection(
        window
    )
    if not isinstance(shape, Polygon) or shape.interiors:
        return None
    if area_id in AREAS_WITH_A_PARK:
        return _with_park(rng, shape)
    if area_id in AREAS_SPLIT_BY_A_ROAD:
        return _split_by_road(rng, shape)
    return shape


def _cells_in_seed_order(cells: shapely.Geometry, seeds: FloatArray) -> list[Polygon]:
    """Voronoi cells reordered so that cell ``i`` contains seed ``i``."""
    polygons = list(shapely.get_parts(cells))
    ordered: list[Polygon] = []
    for x, y in seeds:
        ordered.append(next(cell for cell in polygons if cell.intersects(Point(x, y))))
    return ordered


def _in_ellipse(rng: np.random.Generator, offsets: FloatArray) -> npt.NDArray[np.bool_]:
    """Which offsets fall inside a random rotated ellipse of 250-650 m semi-major axis."""
    semi_major = rng.uniform(250.0, 650.0)
    semi_minor = semi_major * rng.uniform(0.5, 0.9)
    angle = rng.uniform(0.0, math.pi)
    along = offsets[:, 0] * math.cos(angle) + offsets[:, 1] * math.sin(angle)
    across = -offsets[:, 0] * math.sin(angle) + offsets[:, 1] * math.cos(angle)
    inside: npt.NDArray[np.bool_] = (along / semi_major) ** 2 + (across / semi_minor) ** 2 <= 1.0
    return inside


def _with_park(rng: np.random.Generator, shape: Polygon) -> AreaGeometry | None:
    """The shape with a small heptagonal park cut out of its middle (a hole); None if no fit."""
    centre = shape.representative_point()
    radius_m = rng.uniform(50.0, 80.0)
    angles = np.linspace(0.0, 2.0 * math.pi, 7, endpoint=False) + rng.uniform(0.0, 1.0)
    park = Polygon(
        np.column_stack(
            (centre.x + radius_m * np.cos(angles), centre.y + radius_m * np.sin(angles))
        )
    )
    if not shape.buffer(-40.0).contains(park):
        return None
    holed = shape.difference(park)
    return holed if isinstance(holed, Polygon) else None


def _split_by_road(rng: np.random.Generator, shape: Polygon) -> AreaGeometry | None:
    """The shape cut in two by a 40 m wide main road through its middle; None if it does not."""
    centre = shape.centroid
    angle = rng.uniform(0.0, math.pi)
    dx, dy = 4000.0 * math.cos(angle), 4000.0 * math.sin(angle)
    road = shapely.LineString(
        [(centre.x - dx, centre.y - dy), (centre.x + dx, centre.y + dy)]
    ).buffer(20.0)
    split = shape.difference(road)
    if (
        isinstance(split, MultiPolygon)
        and len(split.geoms) == 2
        and min(p.area for p in split.geoms) > 20_000.0
    ):
        return split
    return None


def _neighbourhood_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct made-up neighbourhood names such as "Rowanley Green"."""
    names: list[str] = []
    while len(names) < count:
        start = _NAME_STARTS[int(rng.integers(len(_NAME_STARTS)))]
        end = _NAME_ENDS[int(rng.integers(len(_NAME_ENDS)))]
        qualifier = _NAME_QUALIFIERS[int(rng.integers(len(_NAME_QUALIFIERS)))]
        if all(not name.startswith(start) for name in names):
            names.append(start + end + qualifier)
    return names


def main() -> None:
    """Write the default pack as GeoJSON to standard output."""
    document = area_pack_document(build_default_area_pack())
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
