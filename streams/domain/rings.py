"""Displacement rings: the buffer around each Impact and comparison area where displaced crime
would show.

The ring of an area is ``buffer(area, ring_m)`` minus the area itself and minus every other
impact or comparison area (rings of neighbouring areas may overlap each other). The buffer is
taken in metres, in the local projection of :mod:`streams.domain.metres` centred on the pack.
``ring_m`` is the area's ``properties.ring_m`` when it has one, else the default (250 m).

A ring is an area of kind ``ring`` with id ``<area id>-ring``, ``ring_of`` naming its area and
``ring_m`` the width it was generated with. A ring in a pack **without** ``ring_m`` was drawn
by the user (given, not generated): :func:`with_rings` keeps it as it is and generates no ring
for its area. A ring **with** ``ring_m`` is generated, so :func:`with_rings` generates it again
from the current areas (a pack edited after its rings were made gets rings that fit it).

The buffer's coordinates are rounded to 6 decimals (about 0.1 m); the areas are then cut out
in lon/lat, so a ring shares its areas' edges exactly (no sliver of area inside a ring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, cast

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from streams.domain.areas import (
    RINGED_KINDS,
    AreaDefinition,
    AreaGeometry,
    AreaPackError,
    area_to_feature,
    parse_area_pack,
)
from streams.domain.metres import LocalMetres
from streams.domain.validation import ID_PATTERN

DEFAULT_RING_M: Final = 250.0
RING_ID_SUFFIX: Final = "-ring"
_BUFFER_QUAD_SEGMENTS: Final = 8
"""Segments per quarter circle at buffered corners (1.2 m short of a 250 m arc at worst)."""
_DECIMALS: Final = 6


def ring_id(area_id: str) -> str:
    """The id of an area's ring: ``<area id>-ring``."""
    return f"{area_id}{RING_ID_SUFFIX}"


def ring_width_m(area: AreaDefinition, default_ring_m: float = DEFAULT_RING_M) -> float:
    """How wide the area's ring is: its ``ring_m`` property, else ``default_ring_m``."""
    width = area.properties.get("ring_m", default_ring_m)
    return float(width) if isinstance(width, int | float) else default_ring_m


def is_given_ring(area: AreaDefinition) -> bool:
    """A ring the user drew (no ``ring_m``): kept as given, never regenerated."""
    return area.kind == "ring" and "ring_m" not in area.properties


def with_rings(
    areas: Sequence[AreaDefinition], default_ring_m: float = DEFAULT_RING_M
) -> list[AreaDefinition]:
    """The pack with fresh generated rings: every area and given ring in its place (generated
    rings dropped), then one generated ring per impact or comparison area without a given one,
    in the areas' order. :class:`AreaPackError` when a ring id would not be a valid id."""
    kept = [area for area in areas if area.kind != "ring" or is_given_ring(area)]
    given_for = {area.properties.get("ring_of") for area in kept if area.kind == "ring"}
    ringed = [area for area in kept if area.kind in RINGED_KINDS]
    too_long = [a.area_id for a in ringed if ID_PATTERN.fullmatch(ring_id(a.area_id)) is None]
    if too_long:
        raise AreaPackError(
            [f"feature {i!r}: ring id {ring_id(i)!r} is too long" for i in too_long]
        )
    return kept + build_rings(
        ringed, [area for area in ringed if area.area_id not in given_for], default_ring_m
    )


def build_rings(
    ringed: Sequence[AreaDefinition],
    wanted: Sequence[AreaDefinition],
    default_ring_m: float = DEFAULT_RING_M,
) -> list[AreaDefinition]:
    """The ring of each area in ``wanted``, keeping every area in ``ringed`` (the impact and
    comparison areas of the pack) out of it; an area whose ring would be empty has none."""
    if not wanted:
        return []
    projection = LocalMetres.around(area.geometry for area in ringed)
    all_areas = shapely.union_all([area.geometry for area in ringed])
    rings: list[AreaDefinition] = []
    for area in wanted:
        width_m = ring_width_m(area, default_ring_m)
        grown_m = shapely.buffer(
            projection.to_metres(area.geometry), width_m, quad_segs=_BUFFER_QUAD_SEGMENTS
        )
        grown = _rounded(projection.to_lonlat(grown_m))
        ring = _polygons(shapely.difference(grown, all_areas))  # exact area edges, no sliver
        if ring is not None:
            properties = {"ring_of": area.area_id, "ring_m": width_m}
            name = f"{area.name[:251]} ring"  # names are at most 256 characters
            rings.append(
                AreaDefinition(ring_id(area.area_id), name, "ring", ring, None, properties)
            )
    return rings


def _rounded(geometry: AreaGeometry) -> shapely.Geometry:
    """A lon/lat geometry with coordinates rounded to 6 decimals, kept valid."""
    snapped = shapely.set_precision(geometry, 10.0**-_DECIMALS)
    return shapely.transform(snapped, lambda xy: np.round(xy, _DECIMALS))


def _polygons(geometry: shapely.Geometry) -> AreaGeometry | None:
    """The polygons of a geometry as a Polygon or MultiPolygon; None when there are none."""
    polygons = [
        part for part in shapely.get_parts(geometry) if isinstance(part, Polygon) and part.area
    ]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def pack_with_rings(
    document: Mapping[str, object], default_ring_m: float = DEFAULT_RING_M
) -> dict[str, object]:
    """An area pack document with fresh generated rings (:func:`with_rings`): its members and
    every feature kept as they were (a GIS's extra properties too), generated rings dropped,
    the new rings appended. :class:`AreaPackError` when the pack has problems."""
    areas = parse_area_pack(document)
    rings = with_rings(areas, default_ring_m)
    kept = {area.area_id for area in areas if area.kind != "ring" or is_given_ring(area)}
    features = cast(list[Mapping[str, object]], document["features"])
    new_features = [_pack_feature(ring) for ring in rings if ring.area_id not in kept]
    return {
        **document,
        "features": [feature for feature in features if feature["id"] in kept] + new_features,
    }


def _pack_feature(area: AreaDefinition) -> dict[str, object]:
    """An area as a pack feature (an ``areas.definitions`` value without its schema marker)."""
    feature = area_to_feature(area)
    del feature["schema"]
    return feature
