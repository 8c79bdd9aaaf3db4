"""Turning raw input bytes into domain values, or into a rejection with a reason.

The checks mirror the JSON Schemas in ``schemas/`` (tests hold them to agree) but are written
out by hand for the hot path: a generic JSON Schema validator costs more per message than the
rest of the pipeline together. Pings, the hottest input, are first decoded by a ``msgspec``
struct that checks their types and ranges in C; only a ping it refuses takes the hand-written
path, which names the reason (a test holds the two paths to the same answer for every input).

Dates: every event time enters the service through :func:`parse_timestamp`, which refuses a
time outside ``[EARLIEST_TS, LATEST_TS)`` (2000-01-01 to 2100-01-01 UTC) whatever the clock says:
a time before is ``stale_timestamp``, one after ``future_timestamp``. So a time the service
holds (and the event clock, which only accepted times move) is always a date the domain's
calendar arithmetic can represent, with days to spare on both sides (local days, the next
day's midnight, windows of hours); the domain relies on it instead of checking again on its
hot paths (see :func:`streams.domain.ledger.day_bounds`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal, TypeVar

import msgspec
import orjson

from streams.domain.fixes import Fix

Reason = Literal[
    "invalid_json",
    "invalid_schema",
    "wrong_schema_version",
    "invalid_coordinates",
    "invalid_geometry",
    "future_timestamp",
    "stale_timestamp",
    "too_late",
    "implausible_speed",
    "oversized",
    "unknown_reference",
    "impossible_event",
    "internal_error",
]

REASONS: Final[tuple[Reason, ...]] = (
    "invalid_json",
    "invalid_schema",
    "wrong_schema_version",
    "invalid_coordinates",
    "invalid_geometry",
    "future_timestamp",
    "stale_timestamp",
    "too_late",
    "implausible_speed",
    "oversized",
    "unknown_reference",
    "impossible_event",
    "internal_error",
)

T = TypeVar("T")

EARLIEST_TS: Final = 946684800.0
"""2000-01-01T00:00:00Z: an event time before it is ``stale_timestamp`` whatever the clock."""
LATEST_TS: Final = 4102444800.0
"""2100-01-01T00:00:00Z: an event time at or after it is ``future_timestamp`` whatever the clock."""

ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input message was not accepted: a reason from :data:`REASONS` and a detail."""

    reason: Reason
    detail: str


class Rejected(Exception):  # noqa: N818 - it reads as the event: the message was rejected
    """Raised inside decoders; carries the :class:`Rejection`."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.rejection = Rejection(reason, detail)


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """How far from ``now`` an event time may be before it is rejected."""

    max_future_skew_s: float = 30.0
    max_age_s: float = 86400.0
    max_message_bytes: int = 65536


def parse_object(raw: bytes | None, topic: str, limits: TimeLimits) -> dict[str, object]:
    """Decode ``raw`` as one JSON object of ``topic``, checking size and the schema marker."""
    if raw is None:
        raise Rejected("invalid_schema", "value is null (tombstones are not allowed here)")
    if len(raw) > limits.max_message_bytes:
        raise Rejected(
            "oversized", f"value is {len(raw)} bytes; the limit is {limits.max_message_bytes}"
        )
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Rejected("invalid_json", f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise Rejected("invalid_schema", f"value must be a JSON object, not {type(value).__name__}")
    marker = value.get("schema")
    if marker is not None and marker != f"{topic}/1":
        raise Rejected("wrong_schema_version", f"schema is {marker!r}; expected '{topic}/1'")
    return value


def parse_timestamp(value: object, field: str) -> float:
    """An RFC 3339 timestamp with an offset, as seconds since the Unix epoch, within the dates
    the service accepts (module docstring)."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise Rejected("invalid_schema", f"{field} must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(
            "invalid_schema", f"{field} {value!r} is not an RFC 3339 date-time"
        ) from None
    if moment.tzinfo is None:
        raise Rejected("invalid_schema", f"{field} {value!r} has no UTC offset")
    ts = moment.timestamp()  # never overflows: an aware datetime's year is 1..9999
    check_date_range(ts, f"{field} {value!r}")
    return ts


def check_date_range(ts: float, what: str) -> None:
    """Reject a time outside ``[EARLIEST_TS, LATEST_TS)``, naming it as ``what``."""
    if ts < EARLIEST_TS:
        raise Rejected(
            "stale_timestamp", f"{what} is before 2000-01-01T00:00:00Z, the earliest date accepted"
        )
    if not ts < LATEST_TS:
        raise Rejected(
            "future_timestamp",
            f"{what} is not before 2100-01-01T00:00:00Z, the latest date accepted",
        )


def check_not_ahead(ts: float, now: float | None, limits: TimeLimits) -> None:
    """Reject an event time more than ``limits.max_future_skew_s`` after ``now`` (None: no
    clock yet, nothing to judge against)."""
    if now is not None and ts > now + limits.max_future_skew_s:
        raise Rejected(
            "future_timestamp",
            f"event time is {ts - now:.0f} s after now; "
            f"the limit is {limits.max_future_skew_s:.0f} s",
        )


def check_event_time(ts: float, now: float | None, limits: TimeLimits) -> None:
    """Reject event times too far in the future or the past of ``now`` (None: no clock yet)."""
    if now is None:
        return
    check_not_ahead(ts, now, limits)
    if ts < now - limits.max_age_s:
        raise Rejected(
            "stale_timestamp",
            f"event time is {now - ts:.0f} s before now; the limit is {limits.max_age_s:.0f} s",
        )


def require_id(value: Mapping[str, object], field: str) -> str:
    """A required identifier field."""
    found = value.get(field)
    if not isinstance(found, str) or ID_PATTERN.fullmatch(found) is None:
        raise Rejected(
            "invalid_schema", f"{field} must be an id string matching {ID_PATTERN.pattern}"
        )
    return found


def require_number(value: Mapping[str, object], field: str) -> float:
    """A required JSON number (not a boolean, not NaN)."""
    found = value.get(field)
    if isinstance(found, bool) or not isinstance(found, int | float) or math.isnan(found):
        raise Rejected("invalid_schema", f"{field} must be a number")
    return float(found)


def optional_number(
    value: Mapping[str, object], field: str, low: float, high: float
) -> float | None:
    """An optional number within [low, high]."""
    if field not in value:
        return None
    number = require_number(value, field)
    if not low <= number <= high:
        raise Rejected("invalid_schema", f"{field} {number} is outside {low}..{high}")
    return number


def check_coordinates(lat: float, lon: float) -> None:
    """Reject coordinates that cannot be a place on Earth, or the (0, 0) "null island" fix."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise Rejected("invalid_coordinates", f"lat {lat}, lon {lon} is not a WGS84 position")
    if lat == 0.0 and lon == 0.0:
        raise Rejected("invalid_coordinates", "lat 0, lon 0 is the null-island fix of a dead GPS")


def check_fields(value: Mapping[str, object], allowed: frozenset[str]) -> None:
    """Reject properties the schema does not define."""
    unknown = value.keys() - allowed
    if unknown:
        raise Rejected("invalid_schema", f"unknown properties: {', '.join(sorted(unknown))}")


def check_key(key: bytes | None, expected: str, field: str) -> None:
    """When a message has a key, it must be the entity id (it decides the partition).

    The detail names neither: an id may be an ISSI, and the deadletter record keeps the original
    key and value anyway.
    """
    if key is not None and key.decode("utf-8", "replace") != expected:
        raise Rejected("invalid_schema", f"the message key differs from its {field}")


_PING_FIELDS: Final = frozenset(
    {"schema", "issi", "ts", "lat", "lon", "accuracy_m", "speed_mps", "heading_deg"}
)


@dataclass(frozen=True, slots=True)
class LocatedEvent:
    """The parts every located input shares: its JSON object, id, event time and place."""

    value: dict[str, object]
    identity: str
    ts: float
    lat: float
    lon: float


def decode_located(
    key: bytes | None,
    raw: bytes | None,
    topic: str,
    fields: frozenset[str],
    id_field: str,
    now: float | None,
    limits: TimeLimits,
) -> LocatedEvent:
    """Decode a message with an id, a time and a place, checking each; or raise."""
    value = parse_object(raw, topic, limits)
    check_fields(value, fields)
    identity = require_id(value, id_field)
    check_key(key, identity, id_field)
    ts = parse_timestamp(value.get("ts"), "ts")
    lat = require_number(value, "lat")
    lon = require_number(value, "lon")
    check_coordinates(lat, lon)
    check_event_time(ts, now, limits)
    return LocatedEvent(value, identity, ts, lat, lon)


class _Ping(msgspec.Struct, forbid_unknown_fields=True):
    """A well-formed ping as far as types and ranges go (the event time is checked after)."""

    issi: Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN.pattern}\\Z")]
    ts: str
    lat: float
    lon: float
    schema: Literal["airwave.pings/1"] = "airwave.pings/1"
    accuracy_m: Annotated[float, msgspec.Meta(ge=0.0)] | msgspec.UnsetType = msgspec.UNSET
    speed_mps: Annotated[float, msgspec.Meta(ge=0.0)] | msgspec.UnsetType = msgspec.UNSET
    heading_deg: Annotated[float, msgspec.Meta(ge=0.0, le=360.0)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


_PING_DECODER: Final = msgspec.json.Decoder(_Ping)


def _optional(value: float | msgspec.UnsetType) -> float | None:
    return None if value is msgspec.UNSET else float(value)


def decode_ping(key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits) -> Fix:
    """Decode one ``airwave.pings`` message into a :class:`Fix`, or raise :class:`Rejected`."""
    if raw is None or len(raw) > limits.max_message_bytes:
        return _decode_ping_by_hand(key, raw, now, limits)
    try:
        ping = _PING_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _decode_ping_by_hand(key, raw, now, limits)
    check_key(key, ping.issi, "issi")
    ts = parse_timestamp(ping.ts, "ts")
    lat = float(ping.lat)
    lon = float(ping.lon)
    check_coordinates(lat, lon)
    check_event_time(ts, now, limits)
    return Fix(
        ping.issi,
        ts,
        lat,
        lon,
        _optional(ping.accuracy_m),
        _optional(ping.speed_mps),
        _optional(ping.heading_deg),
    )


def _decode_ping_by_hand(
    key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits
) -> Fix:
    """:func:`decode_ping` for a ping the struct refused: the same checks, each with a reason."""
    event = decode_located(key, raw, "airwave.pings", _PING_FIELDS, "issi", now, limits)
    value = event.value
    accuracy_m = optional_number(value, "accuracy_m", 0.0, math.inf)
    speed_mps = optional_number(value, "speed_mps", 0.0, math.inf)
    heading_deg = optional_number(value, "heading_deg", 0.0, 360.0)
    return Fix(event.identity, event.ts, event.lat, event.lon, accuracy_m, speed_mps, heading_deg)


def decode_all(
    messages: list[tuple[bytes | None, bytes | None]],
    decoder: Callable[[bytes | None, bytes | None], T],
) -> tuple[list[tuple[int, T]], list[tuple[int, Rejection]]]:
    """Decode a batch: (index, value) for the accepted and (index, rejection) for the rest."""
    accepted: list[tuple[int, T]] = []
    rejected: list[tuple[int, Rejection]] = []
    for index, (key, raw) in enumerate(messages):
        try:
            accepted.append((index, decoder(key, raw)))
        except Rejected as error:
            rejected.append((index, error.rejection))
    return accepted, rejected
