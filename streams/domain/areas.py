"""Area definitions: parsing and checking GeoJSON area packs, and turning areas back into GeoJSON.

An area pack is a GeoJSON FeatureCollection in WGS84 lon/lat whose features each carry an
``id`` (the area_id), ``properties.name``, ``properties.kind`` (``impact``, ``comparison``,
``ring`` or ``other``), an optional coverage ``policy`` and a Polygon or MultiPolygon geometry.
Anything a user's GIS adds to ``properties`` beyond that is kept in
:attr:`AreaDefinition.properties` but not published (the ``areas.definitions`` contract allows
``ring_of``, ``ring_m`` and ``valid_from`` only).

A ``ring`` is a displacement buffer around another area (:mod:`streams.domain.rings`): it names
that area in ``ring_of``. Rings travel on ``areas.definitions`` for the offline evaluation, but
the live service leaves them out (:func:`is_live`): no presence, coverage or snapshots for them.
``ring_m`` (metres, positive) on an impact or comparison area sets the width of its ring; on a
ring, the width it was generated with. ``valid_from`` (RFC 3339) is when a definition began to
apply, for the archive and the evaluation's history (a definition without it applies from when it
was published); the live service applies a definition when it reads it.

Problems are reported per feature, naming it by id, or by its index in ``features`` (from 0)
when it has no usable id, so a user can find and fix every one in a single pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, TypeVar, cast

import shapely
from shapely.geometry import MultiPolygon, Polygon

from streams.domain.validation import ID_PATTERN, Reason, Rejected, parse_timestamp

AreaKind = Literal["impact", "comparison", "ring", "other"]
AREA_KINDS: Final[tuple[AreaKind, ...]] = ("impact", "comparison", "ring", "other")
RINGED_KINDS: Final[tuple[AreaKind, ...]] = ("impact", "comparison")
"""The kinds of area that get a displacement ring (and that every ring keeps out of itself)."""
AreaGeometry: TypeAlias = Polygon | MultiPolygon

PUBLISHED_EXTRA_PROPERTIES: Final = ("ring_of", "ring_m", "valid_from")
"""Properties besides name, kind and policy that ``areas.definitions`` carries."""

T = TypeVar("T")

_SELF_INTERSECTION = re.compile(r"(?:Ring )?Self-intersection\[(\S+) (\S+)\]")


@dataclass(frozen=True, slots=True)
class AreaDefinition:
    """One area: its id, display name, kind, WGS84 geometry and optional coverage policy."""

    area_id: str
    name: str
    kind: AreaKind
    geometry: AreaGeometry
    policy: Mapping[str, object] | None = None
    properties: Mapping[str, object] = field(default_factory=dict)


def is_live(area: AreaDefinition) -> bool:
    """Whether the live service tracks the area: every kind but ``ring`` (rings are for the
    offline evaluation only)."""
    return area.kind != "ring"


def live_areas(areas: Iterable[AreaDefinition]) -> list[AreaDefinition]:
    """The areas the live service tracks (:func:`is_live`), in their order."""
    return [area for area in areas if is_live(area)]


class InvalidArea(Rejected):
    """One area feature cannot be used. ``detail`` names the feature and its problems, joined
    by "; "; ``problems`` has them one by one. ``reason`` is that of the first problem."""

    def __init__(self, reason: Reason, detail: str, problems: Sequence[str] = ()) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail
        self.problems: tuple[str, ...] = tuple(problems) or (detail,)


class AreaPackError(ValueError):
    """An area pack has problems; ``problems`` lists every one, each naming its feature."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        if len(self.problems) == 1:
            super().__init__(f"area pack has 1 problem: {self.problems[0]}")
            return
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"area pack has {len(self.problems)} problems:\n{listing}")


def parse_area_pack(document: object) -> list[AreaDefinition]:
    """Every area of a GeoJSON FeatureCollection, or :class:`AreaPackError` listing all problems."""
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise AreaPackError(["the document is not a GeoJSON FeatureCollection"])
    features = document.get("features")
    if not isinstance(features, list):
        raise AreaPackError(["'features' must be a list of GeoJSON Features"])
    if not features:
        raise AreaPackError(["the pack has no features"])
    problems = _duplicate_id_problems(features)
    areas: list[AreaDefinition] = []
    for index, feature in enumerate(features):
        try:
            areas.append(parse_area_feature(feature, index=index))
        except InvalidArea as invalid:
            problems.extend(invalid.problems)
    if problems:
        raise AreaPackError(problems)
    return areas


def parse_area_feature(feature: object, *, index: int | None = None) -> AreaDefinition:
    """One GeoJSON Feature as an :class:`AreaDefinition`, or :class:`InvalidArea` listing all
    of its problems.

    ``index`` (the feature's position in its pack) names the feature in messages when it has
    no usable id.
    """
    label = _feature_label(feature, index)
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InvalidArea("invalid_schema", f"{label}: not a GeoJSON Feature")
    failures: list[InvalidArea] = []
    area_id = _attempt(failures, lambda: _required_id(feature, label))
    properties = feature.get("properties")
    if not isinstance(properties, Mapping):
        failures.append(InvalidArea("invalid_schema", f"{label}: missing 'properties' object"))
        properties = {}
    else:
        name = _attempt(failures, lambda: _required_text(properties, "name", label))
        kind = _attempt(failures, lambda: _required_kind(properties, label))
        policy = _attempt(failures, lambda: _optional_policy(properties, label))
        _attempt(failures, lambda: _check_ring_properties(properties, kind, label))
    geometry = _attempt(failures, lambda: parse_area_geometry(feature.get("geometry"), label))
    if failures:
        details = [failure.detail for failure in failures]
        raise InvalidArea(failures[0].reason, "; ".join(details), details)
    rest = {
        key: value for key, value in properties.items() if key not in {"name", "kind", "policy"}
    }
    return AreaDefinition(
        cast(str, area_id), cast(str, name), cast(AreaKind, kind), cast(AreaGeometry, geometry),
        policy, rest,
    )  # fmt: skip


def _attempt(failures: list[InvalidArea], check: Callable[[], T]) -> T | None:
    """The check's result, or None after noting why it failed."""
    try:
        return check()
    except InvalidArea as failure:
        failures.append(failure)
        return None


def _required_id(feature: Mapping[str, object], label: str) -> str:
    """The feature's id: the area_id."""
    area_id = feature.get("id")
    if not isinstance(area_id, str) or ID_PATTERN.fullmatch(area_id) is None:
        raise InvalidArea(
            "invalid_schema",
            f"{label}: missing or malformed 'id' (1-64 of A-Z a-z 0-9 _ . : / -, "
            "starting with a letter or digit)",
        )
    return area_id


def parse_area_geometry(geometry: object, label: str) -> AreaGeometry:
    """A GeoJSON Polygon or MultiPolygon in WGS84 as a valid shapely geometry, or InvalidArea."""
    if geometry is None:
        raise InvalidArea("invalid_geometry", f"{label}: empty geometry")
    if not isinstance(geometry, Mapping):
        raise InvalidArea("invalid_schema", f"{label}: 'geometry' must be a GeoJSON object")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidArea(
            "invalid_geometry", f"{label}: geometry type {kind!r} is not Polygon or MultiPolygon"
        )
    if coordinates is None or coordinates == []:
        raise InvalidArea("invalid_geometry", f"{label}: empty geometry")
    if kind == "Polygon":
        shape: AreaGeometry = _polygon(coordinates, label)
    else:
        if not isinstance(coordinates, list):
            raise InvalidArea("invalid_schema", f"{label}: MultiPolygon coordinates must be a list")
        shape = MultiPolygon([_polygon(part, label) for part in coordinates])
    _check_valid(shape, label)
    return shape


def area_to_feature(area: AreaDefinition) -> dict[str, object]:
    """The area as a GeoJSON Feature: the ``areas.definitions`` value (with its schema marker)."""
    properties: dict[str, object] = {"name": area.name, "kind": area.kind}
    if area.policy is not None:
        properties["policy"] = dict(area.policy)
    for key in PUBLISHED_EXTRA_PROPERTIES:
        if key in area.properties:
            properties[key] = area.properties[key]
    return {
        "schema": "areas.definitions/1",
        "type": "Feature",
        "id": area.area_id,
        "properties": properties,
        "geometry": geometry_to_geojson(area.geometry),
    }


def geometry_to_geojson(geometry: AreaGeometry) -> dict[str, object]:
    """A Polygon or MultiPolygon as a GeoJSON geometry object made of plain lists."""
    if isinstance(geometry, Polygon):
        return {"type": "Polygon", "coordinates": _polygon_coordinates(geometry)}
    return {
        "type": "MultiPolygon",
        "coordinates": [_polygon_coordinates(part) for part in geometry.geoms],
    }


def _polygon_coordinates(polygon: Polygon) -> list[list[list[float]]]:
    """The exterior ring then the holes, each as a closed list of [lon, lat]."""
    rings = [polygon.exterior, *polygon.interiors]
    return [[[x, y] for x, y in ring.coords] for ring in rings]


def _feature_label(feature: object, index: int | None) -> str:
    """How messages name a feature: by its id when it has a string one, else by its index."""
    if isinstance(feature, Mapping):
        area_id = feature.get("id")
        if isinstance(area_id, str) and area_id:
            return f"feature {area_id!r}"
    return "feature" if index is None else f"feature #{index}"


def _duplicate_id_problems(features: Sequence[object]) -> list[str]:
    """One message per id that more than one feature uses."""
    first_index: dict[str, int] = {}
    problems: list[str] = []
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping):
            continue
        area_id = feature.get("id")
        if not isinstance(area_id, str):
            continue
        if area_id in first_index:
            problems.append(
                f"duplicate id {area_id!r} (features #{first_index[area_id]} and #{index})"
            )
        else:
            first_index[area_id] = index
    return problems


def _required_text(properties: Mapping[str, object], key: str, label: str) -> str:
    """A non-empty string property of at most 256 characters."""
    if key not in properties:
        raise InvalidArea("invalid_schema", f"{label}: missing property {key!r}")
    value = properties[key]
    if not isinstance(value, str) or not 1 <= len(value) <= 256:
        raise InvalidArea(
            "invalid_schema", f"{label}: property {key!r} must be text of 1-256 characters"
        )
    return value


def _required_kind(properties: Mapping[str, object], label: str) -> AreaKind:
    """The area's kind: impact, comparison, ring or other."""
    if "kind" not in properties:
        raise InvalidArea("invalid_schema", f"{label}: missing property 'kind'")
    kind = properties["kind"]
    if kind not in AREA_KINDS:
        raise InvalidArea(
            "invalid_schema",
            f"{label}: property 'kind' is {kind!r}; expected one of {', '.join(AREA_KINDS)}",
        )
    return kind


def _optional_policy(properties: Mapping[str, object], label: str) -> Mapping[str, object] | None:
    """The coverage policy object, when there is one (its meaning is checked by coverage code)."""
    policy = properties.get("policy")
    if policy is None or isinstance(policy, Mapping):
        return policy
    raise InvalidArea("invalid_schema", f"{label}: property 'policy' must be an object")


def _check_ring_properties(
    properties: Mapping[str, object], kind: AreaKind | None, label: str
) -> None:
    """A ring names the area it surrounds in ``ring_of``; ``ring_m``, where given, is a
    positive number of metres; ``valid_from``, where given, an RFC 3339 time."""
    ring_of = properties.get("ring_of")
    if kind == "ring" and (not isinstance(ring_of, str) or ID_PATTERN.fullmatch(ring_of) is None):
        raise InvalidArea("invalid_schema", f"{label}: a ring needs 'ring_of', the id of its area")
    if "valid_from" in properties:
        try:
            parse_timestamp(properties["valid_from"], "valid_from")
        except Rejected as error:
            raise InvalidArea("invalid_schema", f"{label}: {error.rejection.detail}") from error
    if "ring_m" not in properties:
        return
    ring_m = properties["ring_m"]
    if not _is_number(ring_m) or not 0 < cast(float, ring_m) < math.inf:
        raise InvalidArea("invalid_schema", f"{label}: property 'ring_m' must be metres above 0")


def _polygon(rings: object, label: str) -> Polygon:
    """GeoJSON polygon coordinates (exterior ring, then holes) as a shapely Polygon."""
    if not isinstance(rings, list) or not rings:
        raise InvalidArea("invalid_geometry", f"{label}: empty geometry")
    exterior, *holes = (_ring(ring, label) for ring in rings)
    return Polygon(exterior, holes)


def _ring(ring: object, label: str) -> list[tuple[float, float]]:
    """A closed GeoJSON linear ring of at least four WGS84 positions."""
    if not isinstance(ring, list):
        raise InvalidArea("invalid_schema", f"{label}: a polygon ring must be a list of positions")
    positions = [_position(position, label) for position in ring]
    if len(positions) < 4:
        raise InvalidArea(
            "invalid_geometry",
            f"{label}: a polygon ring needs at least 4 positions, has {len(positions)}",
        )
    if positions[0] != positions[-1]:
        lon, lat = positions[0]
        raise InvalidArea(
            "invalid_geometry", f"{label}: polygon ring is not closed (starts at ({lon}, {lat}))"
        )
    return positions


def _position(position: object, label: str) -> tuple[float, float]:
    """A GeoJSON [lon, lat] or [lon, lat, altitude] position inside the WGS84 ranges."""
    if (
        not isinstance(position, list)
        or not 2 <= len(position) <= 3
        or not all(_is_number(number) for number in position)
    ):
        raise InvalidArea(
            "invalid_schema", f"{label}: position {position!r} is not [lon, lat] numbers"
        )
    lon, lat = float(position[0]), float(position[1])
    if not math.isfinite(lon) or not -180.0 <= lon <= 180.0:
        raise InvalidArea(
            "invalid_coordinates",
            f"{label}: coordinates look projected (lon {lon} outside -180..180); use WGS84 lon/lat",
        )
    if not math.isfinite(lat) or not -90.0 <= lat <= 90.0:
        raise InvalidArea(
            "invalid_coordinates",
            f"{label}: coordinates look projected (lat {lat} outside -90..90); use WGS84 lon/lat",
        )
    return lon, lat


def _is_number(value: object) -> bool:
    """A JSON number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_valid(shape: AreaGeometry, label: str) -> None:
    """Reject empty or OGC-invalid geometry, describing where it goes wrong."""
    if shape.is_empty:
        raise InvalidArea("invalid_geometry", f"{label}: empty geometry")
    reason = str(shapely.is_valid_reason(shape))
    if reason == "Valid Geometry":
        return
    crossing = _SELF_INTERSECTION.fullmatch(reason)
    if crossing is not None:
        lon, lat = crossing.groups()
        raise InvalidArea(
            "invalid_geometry", f"{label}: self-intersecting polygon at ({lon}, {lat})"
        )
    raise InvalidArea("invalid_geometry", f"{label}: invalid geometry: {reason}")
