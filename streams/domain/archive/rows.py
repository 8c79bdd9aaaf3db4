"""From one source record to the row it adds to its archive table (contract A), or why none.

A record is decoded by the topic's own decoder (the one the agents use), with no clock: the
archive is a function of the log alone, so a replay gives the same rows whenever it runs. The
time checks against ``now`` (stale, future, too late) are the live service's business; the
archive keeps every record whose contents are valid, dated 2000..2100 like every accepted time.

Privacy: a row holds no raw ISSI, collar number (``officer_id``) or name. Radios become the
keyed pseudonym (:func:`streams.domain.publication.pseudonym`), as in ``presence.visits``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from functools import lru_cache
from typing import Final

import orjson

from streams.domain.archive.outputs import decode_alert, decode_visit
from streams.domain.archive.tables import DAY_COLUMN, TABLE_OF_TOPIC, Table
from streams.domain.areas import AreaDefinition, geometry_to_geojson
from streams.domain.areas_feed import AreaRemoved, decode_area
from streams.domain.demand_feeds import decode_crime, decode_incident, decode_stop_search
from streams.domain.publication import pseudonym
from streams.domain.roster import RosterRemoved, decode_roster
from streams.domain.ticks import Heartbeat, decode_or_heartbeat
from streams.domain.timefmt import local_day
from streams.domain.validation import (
    REASONS,
    Rejected,
    TimeLimits,
    check_date_range,
    decode_ping,
    parse_timestamp,
)

Values = dict[str, object]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record was read: its contract topic (no broker prefix), partition, offset and
    Kafka timestamp (milliseconds)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class RowContext:
    """What turning records into rows needs: the pseudonym key, the local zone (``day``) and
    the size limit of a value."""

    pseudonym_key: bytes
    zone: tzinfo
    limits: TimeLimits


@dataclass(frozen=True, slots=True)
class Row:
    """One archive row: its table, local day and values (timestamps as epoch milliseconds),
    the source columns included."""

    table: Table
    day: str
    values: Values


SKIP_REASONS: Final[tuple[str, ...]] = (*REASONS, "tombstone", "internal_error")
"""Why a record gives no row: a deadletter reason, ``tombstone`` (a removed roster entry) or
``internal_error`` (the row builder failed on it)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record of an archived topic that gives no row, and why (a deadletter reason, or
    ``tombstone`` for a removed roster entry, which the roster table has no row for)."""

    table: Table
    reason: str


class _Tombstone(Exception):  # noqa: N818 - it reads as what the record is
    """A roster removal: the roster table has no row for it."""


Builder = Callable[[bytes | None, bytes | None, Source, RowContext], Values | None]
"""Decodes one record into its table's values, None for an in-band heartbeat, or raises
:class:`Rejected`."""


def archive_row(
    source: Source, key: bytes | None, raw: bytes | None, context: RowContext
) -> Row | Skipped | None:
    """The row ``source``'s record adds to its table; :class:`Skipped` when it is not valid;
    None when it is an in-band clock heartbeat (time, not data)."""
    table = TABLE_OF_TOPIC[source.topic]
    try:
        values = _BUILDERS[table](key, raw, source, context)
    except Rejected as error:
        return Skipped(table, error.rejection.reason)
    except _Tombstone:
        return Skipped(table, "tombstone")
    if values is None:
        return None
    day = _local_day(_quarter_hour(values[DAY_COLUMN[table]]), context.zone)
    values["source_topic"] = source.topic
    values["source_partition"] = source.partition
    values["source_offset"] = source.offset
    return Row(table, day, values)


def _ms(ts: float) -> int:
    return round(ts * 1000)


QUARTER_HOUR_MS: Final = 900_000


def _quarter_hour(ms: object) -> int:
    """The quarter hour ``ms`` falls in: every time zone's offset from UTC is a whole number of
    quarter hours, so every moment of one quarter hour has the same local day."""
    assert isinstance(ms, int)
    return ms // QUARTER_HOUR_MS


@lru_cache(maxsize=4096)
def _local_day(quarter_hour: int, zone: tzinfo) -> str:
    return local_day(quarter_hour * QUARTER_HOUR_MS / 1000, zone)


@lru_cache(maxsize=65536)
def _pseudonym(key: bytes, issi: str) -> str:
    """:func:`pseudonym`, remembered for the radios seen lately (a fix of each radio every few
    seconds)."""
    return pseudonym(key, issi)


def _kafka_time(source: Source) -> float:
    """The record's Kafka timestamp, within the dates every event time must be in."""
    ts = source.timestamp_ms / 1000
    check_date_range(ts, "the record's Kafka timestamp")
    return ts


def _json(value: object) -> str:
    """``value`` as compact JSON with sorted keys (the same bytes for the same value)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _fix(key: bytes | None, raw: bytes | None, _: Source, context: RowContext) -> Values | None:
    fix = decode_or_heartbeat(decode_ping, key, raw, None, context.limits)
    if isinstance(fix, Heartbeat):
        return None
    return {
        "ts": _ms(fix.ts),
        "officer": _pseudonym(context.pseudonym_key, fix.issi),
        "lon": fix.lon,
        "lat": fix.lat,
        "speed_mps": fix.speed_mps,
        "heading_deg": fix.heading_deg,
        "accuracy_m": fix.accuracy_m,
    }


def _incident_event(
    key: bytes | None, raw: bytes | None, _: Source, context: RowContext
) -> Values | None:
    event = decode_or_heartbeat(decode_incident, key, raw, None, context.limits)
    if isinstance(event, Heartbeat):
        return None
    return {
        "ts": _ms(event.ts),
        "incident_id": event.incident_id,
        "event": event.event,
        "grade": event.grade,
        "category": event.category,
        "lon": event.lon,
        "lat": event.lat,
        "callsigns": ",".join(sorted(event.callsigns)) if event.callsigns else None,
    }


def _crime(key: bytes | None, raw: bytes | None, _: Source, context: RowContext) -> Values:
    crime = decode_crime(key, raw, None, context.limits)
    return {
        "crime_id": crime.crime_id,
        "ts": _ms(crime.ts),
        "category": crime.category,
        "lon": crime.lon,
        "lat": crime.lat,
        "incident_id": crime.incident_id,
    }


def _stop_search(
    key: bytes | None, raw: bytes | None, _: Source, context: RowContext
) -> Values | None:
    search = decode_or_heartbeat(decode_stop_search, key, raw, None, context.limits)
    if isinstance(search, Heartbeat):
        return None
    return {
        "id": search.search_id,
        "ts": _ms(search.ts),
        "object_of_search": search.object_of_search,
        "outcome": search.outcome,
        "callsign": search.callsign,
        "lon": search.lon,
        "lat": search.lat,
    }


def _visit(_: bytes | None, raw: bytes | None, __: Source, context: RowContext) -> Values:
    visit = decode_visit(raw, context.limits)
    value = visit.value
    return {
        "visit_id": value["visit_id"],
        "area_id": value["area_id"],
        "officer": value["officer"],
        "role": value["role"],
        "unit": value.get("unit"),
        "mode": value["mode"],
        "activity": value["activity"],
        "incident_category": value.get("incident_category"),
        "stop_search": bool(value.get("stop_search", False)),
        "start": _ms(visit.start),
        "end": None if visit.end is None else _ms(visit.end),
        "seconds": float(value["seconds"]),  # type: ignore[arg-type]
        "credited_seconds": _optional_float(value.get("credited_seconds")),
        "qualifying": value["qualifying"],
        "drive_through": value["drive_through"],
        "inferred": bool(value.get("inferred", False)),
        "revision": value["revision"],
        "status": value["status"],
    }


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _alert(_: bytes | None, raw: bytes | None, __: Source, context: RowContext) -> Values:
    alert = decode_alert(raw, context.limits)
    value = alert.value
    return {
        "alert_id": value["alert_id"],
        "area_id": value["area_id"],
        "event": value["event"],
        "state": value["state"],
        "severity": value["severity"],
        "reason": value["reason"],
        "since": _ms(alert.since),
        "ts": _ms(alert.ts),
        "evidence": _json(value["evidence"]),
    }


def _area(key: bytes | None, raw: bytes | None, source: Source, context: RowContext) -> Values:
    area = decode_area(key, raw, context.limits)
    if isinstance(area, AreaRemoved):
        return {
            "area_id": area.area_id,
            "name": None,
            "kind": None,
            "ring_of": None,
            "ring_m": None,
            "valid_from": _ms(_kafka_time(source)),
            "geometry": None,
            "policy": None,
            "deleted": True,
        }
    return _area_values(area, source)


def _area_values(area: AreaDefinition, source: Source) -> Values:
    extra = area.properties
    ring_of = extra.get("ring_of")
    ring_m = extra.get("ring_m")
    valid_from = extra.get("valid_from")
    return {
        "area_id": area.area_id,
        "name": area.name,
        "kind": area.kind,
        "ring_of": ring_of if isinstance(ring_of, str) else None,
        "ring_m": _optional_float(ring_m) if not isinstance(ring_m, bool) else None,
        "valid_from": _ms(
            parse_timestamp(valid_from, "valid_from")
            if valid_from is not None
            else _kafka_time(source)
        ),
        "geometry": _json(geometry_to_geojson(area.geometry)),
        "policy": None if area.policy is None else _json(area.policy),
        "deleted": False,
    }


def _roster(key: bytes | None, raw: bytes | None, source: Source, context: RowContext) -> Values:
    entry = decode_roster(key, raw, context.limits)
    if isinstance(entry, RosterRemoved):
        raise _Tombstone
    ts = entry.ts if entry.ts is not None else _kafka_time(source)
    return {
        "ts": _ms(ts),
        "officer": _pseudonym(context.pseudonym_key, entry.issi),
        "callsign": entry.callsign,
        "unit": entry.unit,
        "role": entry.role,
        "device": entry.device,
        "on_duty": entry.on_duty,
    }


_BUILDERS: Final[dict[Table, Builder]] = {
    "visits": _visit,
    "fixes": _fix,
    "incident_events": _incident_event,
    "crimes": _crime,
    "stop_searches": _stop_search,
    "alerts": _alert,
    "areas": _area,
    "roster": _roster,
}
