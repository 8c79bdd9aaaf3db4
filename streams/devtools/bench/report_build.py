"""The time to build the evaluation report (issue 23: 30 days x 1,000 radios x 40 areas, target
<= 60 s), from a synthetic archive written here in contract A's layout.

:func:`write_synthetic_archive` writes, with pyarrow, the tables the report reads for a run of
days: ``areas`` (the bundled pack, rings included; when the pack has no ring, rings of 250 m
made here with shapely), ``visits`` (about 20 per radio-day, a tenth of them with an earlier
``open`` revision that readers must drop), ``crimes``, ``incident_events`` (opened, assigned,
arrived, closed) and ``stop_searches``, each point inside an area or ring. It writes no fixes,
roster or alerts: the report does not read them. :func:`measure` times ``write_report`` on the
last ``PERIOD_DAYS`` days against the default baseline (the same number of days before), so the
archive spans twice the period.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from shapely.geometry import shape

from streams.devtools.bench.harness import Bench
from streams.devtools.bench.support import Row, missing_reason

PERIOD_DAYS = 30
QUICK_PERIOD_DAYS = 7
RADIOS = 1000
VISITS_PER_RADIO_DAY = 20
TARGET_S = 60.0
ZONE = "Europe/London"
RING_M = 250.0
CRIMES_PER_AREA_DAY = 3.0
CALLS_PER_CRIME = 1.6
SEARCHES_PER_AREA_DAY = 1.0
TIMESTAMP = pa.timestamp("ms", tz="UTC")
CRIME_CATEGORIES = ("violence_against_the_person", "burglary", "robbery", "theft", "drugs")
ROLES = ("response", "neighbourhood", "roads", "offender_management", "partnership")
UNITS = ("Response", "NPT", "Roads Policing", "IOM", "Partnerships")
TEXT_COLUMNS = ("visit_id", "area_id", "officer", "role", "unit", "mode", "activity")


@dataclass(frozen=True)
class Place:
    """One area or ring of the archive: id, kind, ring_of and its shape (lon/lat)."""

    area_id: str
    name: str
    kind: str
    ring_of: str | None
    geometry: shapely.Geometry
    policy: dict[str, Any] | None


def pack_places() -> list[Place]:
    """The bundled pack's areas and rings (rings made here if the pack has none)."""
    raw = resources.files("streams.simulator").joinpath("data", "area-pack.geojson").read_bytes()
    places = [
        Place(
            str(feature["id"]),
            str(feature["properties"].get("name", feature["id"])),
            str(feature["properties"].get("kind", "other")),
            feature["properties"].get("ring_of"),
            shape(feature["geometry"]),
            feature["properties"].get("policy"),
        )
        for feature in json.loads(raw)["features"]
    ]
    if any(place.kind == "ring" for place in places):
        return places
    return places + _rings(places)


def _rings(places: list[Place]) -> list[Place]:
    """A 250 m ring around each impact and comparison area, less every such area."""
    programme = [place for place in places if place.kind in ("impact", "comparison")]
    lat0 = float(np.mean([place.geometry.centroid.y for place in programme]))
    x_m, y_m = 111_320.0 * np.cos(np.radians(lat0)), 110_540.0
    to_m = lambda xy: xy * [x_m, y_m]  # noqa: E731
    to_deg = lambda xy: xy / [x_m, y_m]  # noqa: E731
    union = shapely.transform(shapely.union_all([p.geometry for p in programme]), to_m)
    return [
        Place(
            f"{place.area_id}-ring",
            f"{place.name} ring",
            "ring",
            place.area_id,
            shapely.transform(
                shapely.transform(place.geometry, to_m).buffer(RING_M).difference(union), to_deg
            ),
            None,
        )
        for place in programme
    ]


def _points_in(geometry: shapely.Geometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random lon/lat points inside ``geometry`` (rejection sampling in its bounds)."""
    west, south, east, north = geometry.bounds
    found: list[np.ndarray] = []
    while sum(len(part) for part in found) < count:
        candidates = rng.uniform([west, south], [east, north], size=(max(count, 16) * 4, 2))
        found.append(candidates[shapely.contains_xy(geometry, candidates[:, 0], candidates[:, 1])])
    return np.concatenate(found)[:count]


def _write(root: Path, table: str, topic: str, rows: pa.Table, event_column: str) -> int:
    """``rows`` in event-time order with offsets from 0, one file per local day; files written."""
    rows = rows.sort_by(event_column)
    count = rows.num_rows
    rows = rows.append_column("source_topic", pa.array([topic] * count, pa.string()))
    rows = rows.append_column("source_partition", pa.array(np.zeros(count, np.int32)))
    rows = rows.append_column("source_offset", pa.array(np.arange(count, dtype=np.int64)))
    stamps = rows.column(event_column).to_pandas().dt.tz_convert(ZONE)
    days = stamps.dt.date.to_numpy()
    written = 0
    for day in sorted(set(days)):
        where = np.flatnonzero(days == day)
        first, last = int(where[0]), int(where[-1])
        folder = root / f"table={table}" / f"day={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        part = rows.slice(first, last - first + 1)
        pq.write_table(part, folder / f"{topic}-0-{first:012d}-{last:012d}.parquet")
        written += 1
    return written


def _stamps(first: date, day_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random moment on each given local day (as UTC milliseconds)."""
    zone = ZoneInfo(ZONE)
    midnights = [
        datetime.combine(first + timedelta(days=d), datetime.min.time(), zone).timestamp()
        for d in range(int(day_index.max()) + 1)
    ]
    seconds = np.asarray(midnights)[day_index] + rng.uniform(0, 86_400, day_index.size)
    stamps: np.ndarray = (seconds * 1000).astype(np.int64)
    return stamps


AREA_SCHEMA = pa.schema(
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
    ]
)


def _areas_table(places: list[Place], first: date) -> pa.Table:
    """The areas table: every place valid from the day before the first."""
    valid_from = datetime.combine(first - timedelta(days=1), datetime.min.time(), UTC)
    return pa.table(
        {
            "area_id": [p.area_id for p in places],
            "name": [p.name for p in places],
            "kind": [p.kind for p in places],
            "ring_of": [p.ring_of for p in places],
            "ring_m": [RING_M if p.kind == "ring" else None for p in places],
            "valid_from": [valid_from] * len(places),
            "geometry": [json.dumps(shapely.geometry.mapping(p.geometry)) for p in places],
            "policy": [json.dumps(p.policy) if p.policy else None for p in places],
            "deleted": [False] * len(places),
        },
        schema=AREA_SCHEMA,
    )


def _visits_table(
    programme: list[Place], first: date, days: int, radios: int, rng: np.random.Generator
) -> pa.Table:
    """About :data:`VISITS_PER_RADIO_DAY` closed visits per radio-day in the programme areas,
    and an earlier ``open`` revision of a tenth of them."""
    count = radios * days * VISITS_PER_RADIO_DAY
    radio = rng.integers(0, radios, count)
    start = _stamps(first, rng.integers(0, days, count), rng)
    seconds = np.round(rng.lognormal(np.log(300), 1.0, count).clip(5, 3 * 3600), 3)
    closed: dict[str, np.ndarray] = {
        "visit_id": np.array([f"{n:016x}" for n in range(count)]),
        "area_id": np.array([p.area_id for p in programme])[rng.integers(0, len(programme), count)],
        "officer": np.array([f"o_{n:016x}" for n in range(radios)])[radio],
        "role": np.array(ROLES)[radio % len(ROLES)],
        "unit": np.array(UNITS)[radio % len(UNITS)],
        "mode": np.where(radio % 3 == 0, "foot", "vehicle"),
        "activity": np.where(rng.random(count) < 0.7, "proactive", "reactive"),
        "start": start,
        "end": start + (seconds * 1000).astype(np.int64),
        "seconds": seconds,
        "stop_search": rng.random(count) < 0.01,
        "revision": np.ones(count, np.int32),
        "status": np.array(["closed"] * count),
    }
    closed["incident_category"] = np.array(
        ["burglary" if activity == "reactive" else None for activity in closed["activity"]]
    )
    reopened = rng.random(count) < 0.1
    open_rows = {key: value[reopened] for key, value in closed.items()}
    open_rows["revision"] = np.zeros(int(reopened.sum()), np.int32)
    open_rows["status"] = np.array(["open"] * int(reopened.sum()))
    both = {key: np.concatenate([closed[key], open_rows[key]]) for key in closed}
    seconds_all = both["seconds"]
    return pa.table(
        {
            **{key: both[key] for key in TEXT_COLUMNS},
            "incident_category": pa.array(both["incident_category"], pa.string()),
            "stop_search": both["stop_search"],
            "start": pa.array(both["start"], TIMESTAMP),
            "end": pa.array(both["end"], TIMESTAMP),
            "seconds": seconds_all,
            "credited_seconds": seconds_all.clip(0, 1200),
            "qualifying": seconds_all >= 600,
            "drive_through": seconds_all < 120,
            "inferred": np.zeros(seconds_all.size, bool),
            "revision": both["revision"],
            "status": both["status"],
        }
    )


def _demand_tables(
    places: list[Place], first: date, days: int, rng: np.random.Generator
) -> dict[str, pa.Table]:
    """Crimes, incident events and stop-searches at points inside the areas and rings."""
    crimes, calls, searches = [], [], []
    for place in places:
        if place.kind not in ("impact", "comparison", "ring"):
            continue
        n_crimes = int(rng.poisson(CRIMES_PER_AREA_DAY * days))
        n_calls = int(rng.poisson(CRIMES_PER_AREA_DAY * CALLS_PER_CRIME * days))
        n_searches = int(rng.poisson(SEARCHES_PER_AREA_DAY * days))
        points = _points_in(place.geometry, n_crimes + n_calls + n_searches, rng)
        crimes.append((place.area_id, points[:n_crimes]))
        calls.append((place.area_id, points[n_crimes : n_crimes + n_calls]))
        searches.append((place.area_id, points[n_crimes + n_calls :]))
    crime_points = np.concatenate([p for _, p in crimes])
    call_points = np.concatenate([p for _, p in calls])
    search_points = np.concatenate([p for _, p in searches])
    crime_ts = _stamps(first, rng.integers(0, days, len(crime_points)), rng)
    call_ts = _stamps(first, rng.integers(0, days, len(call_points)), rng)
    linked = rng.random(len(crime_points)) < 0.4
    incident_ids = np.array([f"INC{n}" for n in range(len(call_points))])
    return {
        "crimes": pa.table(
            {
                "crime_id": [f"CR{n}" for n in range(len(crime_points))],
                "ts": pa.array(crime_ts, TIMESTAMP),
                "category": np.array(CRIME_CATEGORIES)[rng.integers(0, 5, len(crime_points))],
                "lon": crime_points[:, 0],
                "lat": crime_points[:, 1],
                "incident_id": pa.array(
                    incident_ids[rng.integers(0, len(call_points), len(crime_points))],
                    pa.string(),
                    mask=~linked,
                ),
            }
        ),
        "incident_events": _incident_events(call_points, call_ts, incident_ids, rng),
        "stop_searches": pa.table(
            {
                "id": [f"SS{n}" for n in range(len(search_points))],
                "ts": pa.array(
                    _stamps(first, rng.integers(0, days, len(search_points)), rng), TIMESTAMP
                ),
                "object_of_search": ["controlled_drugs"] * len(search_points),
                "outcome": np.where(
                    rng.random(len(search_points)) < 0.7, "no_further_action", "arrest"
                ),
                "callsign": ["AB12"] * len(search_points),
                "lon": search_points[:, 0],
                "lat": search_points[:, 1],
            }
        ),
    }


def _incident_events(
    points: np.ndarray, opened: np.ndarray, ids: np.ndarray, rng: np.random.Generator
) -> pa.Table:
    """Four events per incident: opened, assigned (+2 min), arrived (+12), closed (+60)."""
    events = ("opened", "assigned", "arrived", "closed")
    delays_ms = np.array([0, 2, 12, 60]) * 60_000
    grades = np.array(("immediate", "priority", "scheduled", "resolution"))[
        rng.integers(0, 4, len(ids))
    ]
    return pa.table(
        {
            "ts": pa.array(np.concatenate([opened + d for d in delays_ms]), TIMESTAMP),
            "incident_id": np.tile(ids, 4),
            "event": np.repeat(events, len(ids)),
            "grade": np.tile(grades, 4),
            "category": ["burglary"] * (4 * len(ids)),
            "lon": np.tile(points[:, 0], 4),
            "lat": np.tile(points[:, 1], 4),
            "callsigns": ["AB12"] * (4 * len(ids)),
        }
    )


def write_synthetic_archive(
    root: Path, first: date, days: int, radios: int, seed: int = 23
) -> dict[str, int]:
    """Write the archive of ``days`` local days from ``first`` under ``root``; rows per table."""
    rng = np.random.default_rng(seed)
    places = pack_places()
    programme = [p for p in places if p.kind in ("impact", "comparison")]
    tables = {
        "areas": (_areas_table(places, first), "areas.definitions", "valid_from"),
        "visits": (_visits_table(programme, first, days, radios, rng), "presence.visits", "start"),
    }
    topics = {
        "crimes": "crimes.recorded",
        "incident_events": "cad.incidents",
        "stop_searches": "stopsearch.events",
    }
    for name, table in _demand_tables(places, first, days, rng).items():
        tables[name] = (table, topics[name], "ts")
    for name, (table, topic, column) in tables.items():
        _write(root, name, topic, table, column)
    return {name: table.num_rows for name, (table, _, _) in tables.items()}


def measure(bench: Bench) -> dict[str, Any]:
    """Write the archive in a temporary directory and time ``write_report`` over it (the
    evaluation stack, pandas and statsmodels, is imported only when this step runs)."""
    from streams.evaluation.report import write_report

    days = QUICK_PERIOD_DAYS if bench.plan.quick else PERIOD_DAYS
    work = Path(tempfile.mkdtemp(prefix="coverwatch-report-bench-"))
    try:
        first = date(2026, 10, 1)
        started = time.perf_counter()
        rows = write_synthetic_archive(work / "archive", first, 2 * days, RADIOS)
        generated_s = time.perf_counter() - started
        period = (first + timedelta(days=days), first + timedelta(days=2 * days - 1))
        started = time.perf_counter()
        write_report((work / "archive").as_uri(), work / "report", period=period, zone=ZONE)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "generated_s": generated_s, "rows": rows, "days": days}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rows(result: object) -> list[Row]:
    """The report's build time against the issue's 60 s target."""
    days = result.get("days", PERIOD_DAYS) if isinstance(result, dict) else PERIOD_DAYS
    name = f"report build, {days} days x {RADIOS:,} radios x 40 areas"
    if not isinstance(result, dict) or "seconds" not in result:
        return [Row(name, None, "s", target=f"<= {TARGET_S:.0f} s", note=missing_reason(result))]
    counts = result["rows"]
    return [
        Row(
            name,
            result["seconds"],
            "s",
            target=f"<= {TARGET_S:.0f} s",
            passed=result["seconds"] <= TARGET_S if days == PERIOD_DAYS else None,
            note=f"period {days} days + baseline {days} days read; "
            f"{counts['visits']:,} visit rows, {counts['crimes']:,} crimes, "
            f"{counts['incident_events']:,} incident events (archive written in "
            f"{result['generated_s']:.0f} s, not counted)",
        )
    ]
