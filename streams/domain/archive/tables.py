"""The archive's tables (contract A, docs/archive.md): their columns, column types, the topic each
is made from and the event-time column that decides a row's ``day``.

Column types are named here, not given as Arrow types, so the domain stays free of the writer's
library; :mod:`streams.archive.parquet` maps each to one fixed Arrow type.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

ColumnType: TypeAlias = Literal["string", "int32", "int64", "float64", "bool", "timestamp"]
"""``timestamp``: milliseconds since the Unix epoch, UTC (``timestamp[ms, tz=UTC]``)."""

Table: TypeAlias = Literal[
    "visits", "fixes", "incident_events", "crimes", "stop_searches", "alerts", "areas", "roster"
]

SOURCE_COLUMNS: Final[tuple[tuple[str, ColumnType], ...]] = (
    ("source_topic", "string"),
    ("source_partition", "int32"),
    ("source_offset", "int64"),
)
"""Every row's source record: unique per table, the key readers de-duplicate on."""

_COLUMNS: Final[dict[Table, tuple[tuple[str, ColumnType], ...]]] = {
    "visits": (
        ("visit_id", "string"), ("area_id", "string"), ("officer", "string"), ("role", "string"),
        ("unit", "string"), ("mode", "string"), ("activity", "string"),
        ("incident_category", "string"), ("stop_search", "bool"), ("start", "timestamp"),
        ("end", "timestamp"), ("seconds", "float64"), ("credited_seconds", "float64"),
        ("qualifying", "bool"), ("drive_through", "bool"), ("inferred", "bool"),
        ("revision", "int32"), ("status", "string"),
    ),
    "fixes": (
        ("ts", "timestamp"), ("officer", "string"), ("lon", "float64"), ("lat", "float64"),
        ("speed_mps", "float64"), ("heading_deg", "float64"), ("accuracy_m", "float64"),
    ),
    "incident_events": (
        ("ts", "timestamp"), ("incident_id", "string"), ("event", "string"), ("grade", "string"),
        ("category", "string"), ("lon", "float64"), ("lat", "float64"), ("callsigns", "string"),
    ),
    "crimes": (
        ("crime_id", "string"), ("ts", "timestamp"), ("category", "string"), ("lon", "float64"),
        ("lat", "float64"), ("incident_id", "string"),
    ),
    "stop_searches": (
        ("id", "string"), ("ts", "timestamp"), ("object_of_search", "string"),
        ("outcome", "string"), ("callsign", "string"), ("lon", "float64"), ("lat", "float64"),
    ),
    "alerts": (
        ("alert_id", "string"), ("area_id", "string"), ("event", "string"), ("state", "string"),
        ("severity", "string"), ("reason", "string"), ("since", "timestamp"),
        ("ts", "timestamp"), ("evidence", "string"),
    ),
    "areas": (
        ("area_id", "string"), ("name", "string"), ("kind", "string"), ("ring_of", "string"),
        ("ring_m", "float64"), ("valid_from", "timestamp"), ("geometry", "string"),
        ("policy", "string"), ("deleted", "bool"),
    ),
    "roster": (
        ("ts", "timestamp"), ("officer", "string"), ("callsign", "string"), ("unit", "string"),
        ("role", "string"), ("device", "string"), ("on_duty", "bool"),
    ),
}  # fmt: skip

TABLE_OF_TOPIC: Final[dict[str, Table]] = {
    "presence.visits": "visits",
    "airwave.pings": "fixes",
    "cad.incidents": "incident_events",
    "crimes.recorded": "crimes",
    "stopsearch.events": "stop_searches",
    "coverage.alerts": "alerts",
    "areas.definitions": "areas",
    "resources.roster": "roster",
}
"""The archived topics (contract names, without the broker prefix) and the table of each."""

ARCHIVED_TOPICS: Final[tuple[str, ...]] = tuple(TABLE_OF_TOPIC)
TABLES: Final[tuple[Table, ...]] = tuple(_COLUMNS)

DAY_COLUMN: Final[dict[Table, str]] = {
    "visits": "start",
    "fixes": "ts",
    "incident_events": "ts",
    "crimes": "ts",
    "stop_searches": "ts",
    "alerts": "ts",
    "areas": "valid_from",
    "roster": "ts",
}
"""The event-time column whose local date is a row's ``day``."""


def columns(table: Table) -> tuple[tuple[str, ColumnType], ...]:
    """Every column of ``table`` in file order: its own, then the source columns."""
    return _COLUMNS[table] + SOURCE_COLUMNS
