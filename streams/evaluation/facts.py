"""Area-period facts over the archive (contract C): per area and ring, per local day and hour
band, the presence, crimes, incidents and stop-searches of a period. docs/evaluation.md
defines every column.

:func:`load_facts` reads the archive with :class:`~streams.evaluation.archive_read.Archive`
(DuckDB over the Parquet files), takes the places from its ``areas`` table
(:mod:`~streams.evaluation.places`), puts every crime, incident and stop-search in each place
containing it, and computes presence with :mod:`~streams.evaluation.presence`. Visits are read
from the day before the period too: a visit that began before midnight counts in the period
for its part after it, and the first gap of the period is measured from the visits before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from streams.archive.parquet import schema
from streams.domain.harm import DEFAULT_HARM_WEIGHTS, HarmWeights
from streams.evaluation import events
from streams.evaluation.archive_read import Archive
from streams.evaluation.intervals import HOUR_BANDS, BandEdges, band_edges
from streams.evaluation.places import Place, containing_places, places_as_of
from streams.evaluation.presence import (
    SPLIT_KEYS,
    day_gaps,
    officer_pieces,
    patrol_minutes,
    policy_met,
    presence_unions,
    slot_labels,
    visit_counts,
)

VISIT_COLUMNS = [
    "visit_id", "area_id", "officer", "role", "unit", "mode", "activity", "incident_category",
    "stop_search", "start", "end", "seconds", "qualifying", "drive_through", "inferred", "day",
]  # fmt: skip
CRIME_COLUMNS = ["crime_id", "ts", "day", "category", "harm", "area_id", "incident_id"]
INCIDENT_COLUMNS = [
    "incident_id", "opened", "assigned", "arrived", "closed", "grade", "category", "day", "area_id",
]  # fmt: skip
STOP_SEARCH_COLUMNS = ["id", "ts", "day", "object_of_search", "outcome", "callsign", "area_id"]
COUNT_COLUMNS = ["visits", "qualifying_visits", "drive_throughs", "inferred_visits"]
PRESENCE_COLUMNS = [
    "officer_minutes", "patrol_minutes", *COUNT_COLUMNS, "minutes_per_visit",
    "mean_gap_minutes", "max_gap_minutes",
]  # fmt: skip
AREA_DAY_COLUMNS = [
    "area_id", "kind", "day", *PRESENCE_COLUMNS, "met_policy",
    "crimes", "harm", "incidents", "stop_searches",
]  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """The facts of one period (contract C); docs/evaluation.md defines every column."""

    areas: pd.DataFrame
    visits: pd.DataFrame
    crimes: pd.DataFrame
    incidents: pd.DataFrame
    stop_searches: pd.DataFrame
    area_days: pd.DataFrame
    presence_splits: pd.DataFrame
    hour_bands: pd.DataFrame


def load_facts(
    archive_url: str,
    start: date,
    end: date,
    zone: str,
    *,
    harm: HarmWeights = DEFAULT_HARM_WEIGHTS,
) -> Facts:
    """The facts of the local days ``start`` to ``end`` (inclusive) in ``zone``."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    connection = duckdb.connect()
    try:
        return _facts(Archive(archive_url, connection), start, end, zone, harm)
    finally:
        connection.close()


def area_day_history(
    archive_url: str, area_id: str, start: date, end: date, zone: str
) -> list[dict[str, object]]:
    """The area_days rows of one area (or ring), oldest first, JSON-ready (ISO dates, None for
    missing values); empty when the archive has no such area."""
    days = load_facts(archive_url, start, end, zone).area_days
    rows = days[days["area_id"] == area_id].sort_values("day")
    return [{key: _plain(value) for key, value in row.items()} for row in _records(rows)]


def _facts(archive: Archive, start: date, end: date, zone: str, harm: HarmWeights) -> Facts:
    look_back = start - timedelta(days=1)
    archive.load("areas", None, end, schema("areas"))
    archive.load("visits", look_back, end, schema("visits"))
    archive.load("crimes", start, end, schema("crimes"))
    archive.load("incident_events", start, end + timedelta(days=1), schema("incident_events"))
    archive.load("stop_searches", start, end, schema("stop_searches"))
    edges = band_edges(look_back, end, zone)
    since = datetime.fromtimestamp(edges.day_start(1), UTC)
    until = datetime.fromtimestamp(edges.day_end(len(edges.days) - 1), UTC)
    places = places_as_of(archive.connection, since, until, zone)
    period = set(edges.days[1:])
    all_visits = _with_day(events.final_visits(archive.connection), "start", zone)
    all_visits = all_visits[all_visits["area_id"].isin({p.area_id for p in places})]
    crimes = _placed(_in_period(events.crimes(archive.connection), "ts", zone, period), places)
    crimes["harm"] = [harm.days_of(category or "") for category in crimes["category"]]
    incidents = _placed(
        _in_period(events.incidents(archive.connection), "opened", zone, period), places
    )
    stop_searches = _placed(
        _in_period(events.stop_searches(archive.connection), "ts", zone, period), places
    )
    hour_bands = _hour_bands(all_visits, places, edges, crimes, incidents, stop_searches)
    return Facts(
        areas=_areas_frame(places),
        visits=all_visits[all_visits["day"].isin(period)][VISIT_COLUMNS].reset_index(drop=True),
        crimes=crimes[CRIME_COLUMNS],
        incidents=incidents[INCIDENT_COLUMNS],
        stop_searches=stop_searches[STOP_SEARCH_COLUMNS],
        area_days=_area_days(all_visits, places, edges, hour_bands, crimes),
        presence_splits=_presence_splits(all_visits, edges),
        hour_bands=hour_bands,
    )


def _with_day(frame: pd.DataFrame, column: str, zone: str) -> pd.DataFrame:
    """``frame`` with ``day``: the local date of ``column``."""
    frame = frame.copy()
    local = frame[column].dt.tz_convert(zone)
    frame["day"] = pd.Series([stamp.date() for stamp in local], index=frame.index, dtype=object)
    return frame


def _in_period(frame: pd.DataFrame, column: str, zone: str, period: set[date]) -> pd.DataFrame:
    """The rows whose ``column`` falls on a local day of the period, with that ``day``."""
    dated = _with_day(frame, column, zone)
    return dated[dated["day"].isin(period)].reset_index(drop=True)


def _placed(frame: pd.DataFrame, places: list[Place]) -> pd.DataFrame:
    """One row per (row, place containing its lon/lat), with the place's ``area_id``."""
    lons = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lats = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    index, area_ids = containing_places(places, lons, lats)
    placed = frame.iloc[index].reset_index(drop=True)
    placed["area_id"] = pd.Series(area_ids, dtype="str")
    return placed


def _areas_frame(places: list[Place]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_id": [place.area_id for place in places],
            "name": [place.name for place in places],
            "kind": [place.kind for place in places],
            "ring_of": [place.ring_of for place in places],
            "km2": [place.km2 for place in places],
        }
    )


def _grid(places: list[Place], days: tuple[date, ...], bands: bool) -> pd.DataFrame:
    """Every (area_id, kind, day[, hour_band]) of the places and days."""
    grid = pd.DataFrame(
        [
            (place.area_id, place.kind, day, band)
            for place in places
            for day in days
            for band in (HOUR_BANDS if bands else ("",))
        ],
        columns=["area_id", "kind", "day", "hour_band"],
    )
    return grid if bands else grid.drop(columns="hour_band")


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its key columns typed, also when it is empty (so merges line up)."""
    types = {"area_id": "str", "day": "object", "hour_band": "str", "kind": "str"}
    return frame.astype({key: kind for key, kind in types.items() if key in frame.columns})


def _count(frame: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    return frame.groupby(keys).size().rename(name).reset_index()


def _hour_bands(
    visits: pd.DataFrame,
    places: list[Place],
    edges: BandEdges,
    crimes: pd.DataFrame,
    incidents: pd.DataFrame,
    stop_searches: pd.DataFrame,
) -> pd.DataFrame:
    """Per (area_id, day, hour_band) of the period: officer and patrol minutes and counts."""
    labels = slot_labels(edges)
    officer = officer_pieces(visits, edges).groupby(["area_id", "slot"])["officer_minutes"].sum()
    patrol = patrol_minutes(presence_unions(visits), edges.edges)
    minutes = _keyed(officer.reset_index()).merge(
        _keyed(patrol), on=["area_id", "slot"], how="outer"
    )
    minutes = minutes.join(labels, on="slot").drop(columns="slot")
    keys = ["area_id", "day", "hour_band"]
    grid = _keyed(_grid(places, edges.days[1:], bands=True))
    grid = grid.merge(_keyed(minutes), on=keys, how="left")
    for frame, column, name in (
        (crimes, "ts", "crimes"),
        (incidents, "opened", "incidents"),
        (stop_searches, "ts", "stop_searches"),
    ):
        bands = [_band_of(stamp, edges) for stamp in frame[column]]
        banded = frame.assign(hour_band=pd.Series(bands, index=frame.index, dtype="str"))
        grid = grid.merge(_keyed(_count(banded, keys, name)), on=keys, how="left")
    filled = grid.fillna(dict.fromkeys(grid.columns.drop([*keys, "kind"]), 0))
    for name in ("crimes", "incidents", "stop_searches"):
        filled[name] = filled[name].astype(int)
    return filled.drop(columns="kind")


def _band_of(stamp: pd.Timestamp, edges: BandEdges) -> str:
    slot = int(np.searchsorted(edges.edges, stamp.timestamp(), side="right")) - 1
    return HOUR_BANDS[slot % len(HOUR_BANDS)]


def _area_days(
    visits: pd.DataFrame,
    places: list[Place],
    edges: BandEdges,
    hour_bands: pd.DataFrame,
    crimes: pd.DataFrame,
) -> pd.DataFrame:
    """Per (area_id, day) of the period, every place: presence, policy and demand (zeros on a
    day when nothing happened; gaps, minutes per visit and met_policy null when they do not
    apply)."""
    keys = ["area_id", "day"]
    sums = hour_bands.groupby(keys)[
        ["officer_minutes", "patrol_minutes", "crimes", "incidents", "stop_searches"]
    ].sum()
    counts = visit_counts(visits, edges).join(slot_labels(edges), on="slot")
    per_day = counts.groupby(keys)[[*COUNT_COLUMNS, "visit_minutes"]].sum()
    days = _keyed(_grid(places, edges.days[1:], bands=False))
    days = days.merge(_keyed(sums.reset_index()), on=keys)
    days = days.merge(_keyed(per_day.reset_index()), on=keys, how="left")
    days[COUNT_COLUMNS] = days[COUNT_COLUMNS].fillna(0).astype(int)
    days["minutes_per_visit"] = days["visit_minutes"] / days["visits"].where(days["visits"] > 0)
    gaps = day_gaps(presence_unions(visits), edges.edges[:: len(HOUR_BANDS)])
    gaps["day"] = [edges.days[slot] for slot in gaps["day_slot"]]
    days = days.merge(_keyed(gaps.drop(columns="day_slot")), on=keys, how="left")
    days = days.merge(_keyed(policy_met(visits, places, edges, 1)), on=keys, how="left")
    days["met_policy"] = days["met_policy"].astype("boolean")
    harm = _keyed(crimes.groupby(keys)["harm"].sum().reset_index())
    days = days.merge(harm, on=keys, how="left").fillna({"harm": 0.0})
    return days[AREA_DAY_COLUMNS]


def _presence_splits(visits: pd.DataFrame, edges: BandEdges) -> pd.DataFrame:
    """Per (area_id, day, hour_band, role, unit, mode, activity) with any presence: officer
    minutes and the visits that started there."""
    labels = slot_labels(edges)
    keys = ["area_id", "slot", *SPLIT_KEYS]
    minutes = officer_pieces(visits, edges).groupby(keys, dropna=False)["officer_minutes"].sum()
    counted = visit_counts(visits, edges).groupby(keys, dropna=False)[COUNT_COLUMNS[:3]].sum()
    splits = _keyed(minutes.reset_index()).merge(
        _keyed(counted.reset_index()), on=keys, how="outer"
    )
    splits = splits[splits["slot"] >= len(HOUR_BANDS)].join(labels, on="slot")
    splits = splits.fillna(dict.fromkeys(["officer_minutes", *COUNT_COLUMNS[:3]], 0))
    splits[COUNT_COLUMNS[:3]] = splits[COUNT_COLUMNS[:3]].astype(int)
    columns = ["area_id", "day", "hour_band", *SPLIT_KEYS, "officer_minutes", *COUNT_COLUMNS[:3]]
    return splits[columns].reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False)]


def _plain(value: object) -> object:
    """A JSON-ready value: dates as ISO text, numpy numbers as Python, missing as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
