"""The places facts are counted in: the impact and comparison areas and their rings, as the
archive's ``areas`` table defined them; and which of them contain a batch of points.

An area is its latest definition that is not a tombstone and was valid by the end of the period
(``valid_from`` at or before it; the latest ``valid_from``, then the latest offset), so a period
is judged on the boundaries in force at its end. An area withdrawn (a tombstone) during the
period or after it keeps its last definition and its history; one withdrawn before the period
began, and not defined again by its end, is left out. Areas of kind ``other`` (the force's
patrol area) are left out too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

import duckdb
import numpy as np
import numpy.typing as npt
import orjson
import shapely

from streams.domain.areas import AreaDefinition, AreaGeometry, AreaKind, parse_area_geometry
from streams.domain.coverage import CoveragePolicy, policy_for
from streams.domain.metres import area_km2

PLACE_KINDS: Final = ("impact", "comparison", "ring")


@dataclass(frozen=True, slots=True)
class Place:
    """An area or ring facts are counted in; ``policy`` is None for a ring (rings have none)."""

    area_id: str
    name: str
    kind: AreaKind
    ring_of: str | None
    geometry: AreaGeometry
    km2: float
    policy: CoveragePolicy | None


def places_as_of(
    connection: duckdb.DuckDBPyConnection, since: datetime, until: datetime, zone: str
) -> list[Place]:
    """The places of the period from ``since`` to ``until`` in the registered ``areas`` table
    (rules: module docstring), by area_id."""
    rows = connection.execute(
        """
        WITH valid AS (
            SELECT * FROM areas WHERE valid_from <= $until
        ), withdrawn AS (
            SELECT area_id FROM valid
            QUALIFY row_number() OVER (
                PARTITION BY area_id ORDER BY valid_from DESC, source_offset DESC) = 1
                AND coalesce(deleted, false) AND valid_from < $since
        )
        SELECT area_id, name, kind, ring_of, geometry, policy FROM valid
        WHERE NOT coalesce(deleted, false) AND area_id NOT IN (SELECT area_id FROM withdrawn)
        QUALIFY row_number() OVER (
            PARTITION BY area_id ORDER BY valid_from DESC, source_offset DESC) = 1
        ORDER BY area_id
        """,
        {"since": since, "until": until},
    ).fetchall()
    return [_place(*row, zone=zone) for row in rows if row[2] in PLACE_KINDS]


def _place(
    area_id: str,
    name: str,
    kind: str,
    ring_of: str | None,
    geometry: str,
    policy: str | None,
    *,
    zone: str,
) -> Place:
    """One ``areas`` row as a place: its geometry parsed, measured and its policy read."""
    document = orjson.loads(geometry)
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    shape = parse_area_geometry(document, f"archived area {area_id!r}")
    area_kind = cast(AreaKind, kind)
    coverage = None
    if kind != "ring":
        overrides = orjson.loads(policy) if policy else None
        definition = AreaDefinition(area_id, name, area_kind, shape, overrides)
        coverage = policy_for(definition, zone)
    return Place(area_id, name, area_kind, ring_of, shape, area_km2(shape), coverage)


def containing_places(
    places: Sequence[Place], lons: npt.ArrayLike, lats: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Every (point, place containing it) pair: the point's index and the place's id, in place
    order. A point in two places (two overlapping rings) gives one pair for each; a point with
    no coordinates (NaN) is in none."""
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    indexes: list[npt.NDArray[np.int64]] = []
    ids: list[str] = []
    for place in places:
        shapely.prepare(place.geometry)
        inside = np.flatnonzero(shapely.contains_xy(place.geometry, lon, lat))
        indexes.append(inside.astype(np.int64))
        ids += [place.area_id] * inside.size
    joined = np.concatenate(indexes) if indexes else np.zeros(0, dtype=np.int64)
    return joined, ids
