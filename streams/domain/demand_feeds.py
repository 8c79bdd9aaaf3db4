"""The demand feeds' messages: CAD incident events, recorded crimes and stop-searches.

Decoders turn ``cad.incidents``, ``crimes.recorded`` and ``stopsearch.events`` messages into
values or raise :class:`~streams.domain.validation.Rejected`, with the checks and reasons of
:mod:`streams.domain.validation` (tests hold them to agree with the JSON Schemas). What an
incident's events add up to is :mod:`streams.domain.incidents`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from streams.domain.validation import (
    Rejected,
    TimeLimits,
    check_coordinates,
    check_event_time,
    check_fields,
    check_key,
    decode_located,
    parse_object,
    parse_timestamp,
    require_id,
    require_number,
)

IncidentEventKind: TypeAlias = Literal["opened", "graded", "assigned", "arrived", "closed"]
Grade: TypeAlias = Literal["immediate", "priority", "scheduled", "resolution"]

INCIDENT_EVENT_KINDS: Final[tuple[IncidentEventKind, ...]] = (
    "opened",
    "graded",
    "assigned",
    "arrived",
    "closed",
)
"""The lifecycle stages, in the order an incident normally goes through them."""
GRADES: Final[tuple[Grade, ...]] = ("immediate", "priority", "scheduled", "resolution")
"""CAD grades, most urgent first."""

_MAX_TEXT_CHARS: Final = 256
_INCIDENT_FIELDS: Final = frozenset(
    {"schema", "incident_id", "event", "ts", "grade", "category", "lat", "lon", "callsigns"}
)
_CRIME_FIELDS: Final = frozenset(
    {"schema", "crime_id", "ts", "lat", "lon", "category", "incident_id"}
)
_STOP_SEARCH_FIELDS: Final = frozenset(
    {"schema", "id", "ts", "lat", "lon", "object_of_search", "outcome", "callsign"}
)


# ---- input values ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One ``cad.incidents`` lifecycle event; optional fields are None (or no callsigns)."""

    incident_id: str
    event: IncidentEventKind
    ts: float
    grade: Grade | None = None
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    callsigns: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CrimeRecorded:
    """One ``crimes.recorded`` message: a crime at a place and time."""

    crime_id: str
    ts: float
    lat: float
    lon: float
    category: str
    incident_id: str | None = None


@dataclass(frozen=True, slots=True)
class StopSearchRecorded:
    """One ``stopsearch.events`` message: a stop and search, what it was for and its outcome."""

    search_id: str
    ts: float
    lat: float
    lon: float
    object_of_search: str
    outcome: str
    callsign: str | None = None


def shown_place(fact: CrimeRecorded | StopSearchRecorded) -> dict[str, object]:
    """What the live map shows of a crime or a stop-search: where, when, what for and (a
    stop-search) its outcome; never who (a stop-search's callsign is left out)."""
    if isinstance(fact, CrimeRecorded):
        return {
            "kind": "crime",
            "lat": fact.lat,
            "lon": fact.lon,
            "ts": fact.ts,
            "what": fact.category,
            "outcome": None,
        }
    return {
        "kind": "stop_search",
        "lat": fact.lat,
        "lon": fact.lon,
        "ts": fact.ts,
        "what": fact.object_of_search,
        "outcome": fact.outcome,
    }


# ---- decoding --------------------------------------------------------------------------------


def decode_incident(
    key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits
) -> IncidentEvent:
    """Decode one ``cad.incidents`` message into an :class:`IncidentEvent`, or raise."""
    value = parse_object(raw, "cad.incidents", limits)
    check_fields(value, _INCIDENT_FIELDS)
    incident_id = require_id(value, "incident_id")
    check_key(key, incident_id, "incident_id")
    event = value.get("event")
    if event not in INCIDENT_EVENT_KINDS:
        raise Rejected("invalid_schema", f"event {event!r} is not one of the lifecycle events")
    ts = parse_timestamp(value.get("ts"), "ts")
    grade = value.get("grade")
    if grade is not None and grade not in GRADES:
        raise Rejected("invalid_schema", f"grade {grade!r} is not one of {', '.join(GRADES)}")
    category = _optional_text(value, "category")
    lat, lon = _optional_position(value)
    callsigns = _optional_callsigns(value)
    if event == "opened" and (lat is None or category is None):
        raise Rejected("invalid_schema", "an opened event needs lat, lon and category")
    if event == "assigned" and not callsigns:
        raise Rejected("invalid_schema", "an assigned event needs at least one callsign")
    check_event_time(ts, now, limits)
    return IncidentEvent(incident_id, event, ts, grade, category, lat, lon, callsigns)


def decode_crime(
    key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits
) -> CrimeRecorded:
    """Decode one ``crimes.recorded`` message into a :class:`CrimeRecorded`, or raise."""
    event = decode_located(key, raw, "crimes.recorded", _CRIME_FIELDS, "crime_id", now, limits)
    value = event.value
    category = _require_text(value, "category")
    incident_id = require_id(value, "incident_id") if "incident_id" in value else None
    return CrimeRecorded(event.identity, event.ts, event.lat, event.lon, category, incident_id)


def decode_stop_search(
    key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits
) -> StopSearchRecorded:
    """Decode one ``stopsearch.events`` message into a :class:`StopSearchRecorded`, or raise."""
    event = decode_located(key, raw, "stopsearch.events", _STOP_SEARCH_FIELDS, "id", now, limits)
    value = event.value
    object_of_search = _require_text(value, "object_of_search")
    outcome = _require_text(value, "outcome")
    callsign = require_id(value, "callsign") if "callsign" in value else None
    return StopSearchRecorded(
        event.identity, event.ts, event.lat, event.lon, object_of_search, outcome, callsign
    )


def _require_text(value: dict[str, object], field: str) -> str:
    """A required free-text field of 1..256 characters."""
    found = value.get(field)
    if not isinstance(found, str) or not 1 <= len(found) <= _MAX_TEXT_CHARS:
        raise Rejected("invalid_schema", f"{field} must be a string of 1..256 characters")
    return found


def _optional_text(value: dict[str, object], field: str) -> str | None:
    """An optional free-text field of 1..256 characters."""
    return _require_text(value, field) if field in value else None


def _optional_position(value: dict[str, object]) -> tuple[float | None, float | None]:
    """Optional lat and lon, which come together or not at all."""
    if "lat" not in value and "lon" not in value:
        return None, None
    if "lat" not in value or "lon" not in value:
        raise Rejected("invalid_schema", "lat and lon must come together")
    lat = require_number(value, "lat")
    lon = require_number(value, "lon")
    check_coordinates(lat, lon)
    return lat, lon


def _optional_callsigns(value: dict[str, object]) -> frozenset[str]:
    """The optional ``callsigns`` array: distinct callsign ids."""
    if "callsigns" not in value:
        return frozenset()
    found = value["callsigns"]
    if not isinstance(found, list):
        raise Rejected("invalid_schema", "callsigns must be an array of callsigns")
    callsigns = [require_id({"callsign": item}, "callsign") for item in found]
    if len(set(callsigns)) != len(callsigns):
        raise Rejected("invalid_schema", "callsigns must not repeat")
    return frozenset(callsigns)
