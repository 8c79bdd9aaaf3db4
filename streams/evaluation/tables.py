"""The archive tables the facts read (contract A, written by ``streams.archive``): the columns
and Arrow types each must have at least. A table or column missing from the archive reads as
empty / null with these types."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

TIMESTAMP: Final = pa.timestamp("ms", tz="UTC")
_SOURCE: Final = [
    ("source_topic", pa.string()),
    ("source_partition", pa.int32()),
    ("source_offset", pa.int64()),
]

VISITS: Final = pa.schema(
    [
        ("visit_id", pa.string()),
        ("area_id", pa.string()),
        ("officer", pa.string()),
        ("role", pa.string()),
        ("unit", pa.string()),
        ("mode", pa.string()),
        ("activity", pa.string()),
        ("incident_category", pa.string()),
        ("stop_search", pa.bool_()),
        ("start", TIMESTAMP),
        ("end", TIMESTAMP),
        ("seconds", pa.float64()),
        ("credited_seconds", pa.float64()),
        ("qualifying", pa.bool_()),
        ("drive_through", pa.bool_()),
        ("inferred", pa.bool_()),
        ("revision", pa.int32()),
        ("status", pa.string()),
        *_SOURCE,
    ]
)
INCIDENT_EVENTS: Final = pa.schema(
    [
        ("ts", TIMESTAMP),
        ("incident_id", pa.string()),
        ("event", pa.string()),
        ("grade", pa.string()),
        ("category", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("callsigns", pa.string()),
        *_SOURCE,
    ]
)
CRIMES: Final = pa.schema(
    [
        ("crime_id", pa.string()),
        ("ts", TIMESTAMP),
        ("category", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("incident_id", pa.string()),
        *_SOURCE,
    ]
)
STOP_SEARCHES: Final = pa.schema(
    [
        ("id", pa.string()),
        ("ts", TIMESTAMP),
        ("object_of_search", pa.string()),
        ("outcome", pa.string()),
        ("callsign", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        *_SOURCE,
    ]
)
AREAS: Final = pa.schema(
    [
        ("area_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("ring_of", pa.string()),
        ("ring_m", pa.float64()),
        ("valid_from", TIMESTAMP),
        ("geometry", pa.string()),
        ("policy", pa.string()),
        ("deleted", pa.bool_()),
        *_SOURCE,
    ]
)

SCHEMAS: Final = {
    "visits": VISITS,
    "incident_events": INCIDENT_EVENTS,
    "crimes": CRIMES,
    "stop_searches": STOP_SEARCHES,
    "areas": AREAS,
}
