"""Facts built by hand, exactly in the shape of contract C (``load_facts``'s frames), for tests
of the report that must not depend on the archive: a few areas with rings, and visits, crimes,
incidents and stop-searches placed at chosen times. The derived frames (area_days,
presence_splits, hour_bands) are computed from the rows given, so they always agree."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from streams.evaluation.facts import Facts

ZONE = "Europe/London"
LONDON = ZoneInfo(ZONE)
AREAS = pd.DataFrame(
    {
        "area_id": ["i1", "i2", "c1", "c2", "i1-ring", "i2-ring", "c1-ring", "c2-ring"],
        "name": [
            "Impact 1",
            "Impact 2",
            "Comparison 1",
            "Comparison 2",
            "Ring i1",
            "Ring i2",
            "Ring c1",
            "Ring c2",
        ],
        "kind": ["impact", "impact", "comparison", "comparison", "ring", "ring", "ring", "ring"],
        "ring_of": [None, None, None, None, "i1", "i2", "c1", "c2"],
        "km2": [0.5, 0.4, 0.6, 0.5, 0.3, 0.3, 0.3, 0.3],
    }
)
HOUR_BANDS = ("00-04", "04-08", "08-12", "12-16", "16-20", "20-24")
_serial = itertools.count()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (London) time on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def visit(
    area_id: str,
    start: datetime,
    minutes: float,
    *,
    officer: str = "o_00000000000000aa",
    role: str = "response",
    unit: str = "Response",
    mode: str = "foot",
    activity: str = "proactive",
    incident_category: str | None = None,
    stop_search: bool = False,
) -> dict[str, object]:
    """One final visit row."""
    return {
        "visit_id": f"{next(_serial):016x}",
        "area_id": area_id,
        "officer": officer,
        "role": role,
        "unit": unit,
        "mode": mode,
        "activity": activity,
        "incident_category": incident_category,
        "stop_search": stop_search,
        "start": pd.Timestamp(start).tz_convert("UTC"),
        "end": pd.Timestamp(start + timedelta(minutes=minutes)).tz_convert("UTC"),
        "seconds": minutes * 60.0,
        "qualifying": minutes >= 10,
        "drive_through": minutes < 2,
        "inferred": False,
        "day": start.astimezone(LONDON).date(),
    }


def crime(
    area_id: str, ts: datetime, category: str = "burglary", incident_id: str | None = None
) -> dict[str, object]:
    """One crime row (one place)."""
    return {
        "crime_id": f"CR{next(_serial)}",
        "ts": pd.Timestamp(ts).tz_convert("UTC"),
        "day": ts.astimezone(LONDON).date(),
        "category": category,
        "harm": 10.0,
        "area_id": area_id,
        "incident_id": incident_id,
    }


def incident(
    area_id: str, opened: datetime, grade: str = "priority", category: str = "burglary"
) -> dict[str, object]:
    """One incident row (one place)."""
    opened_utc = pd.Timestamp(opened).tz_convert("UTC")
    return {
        "incident_id": f"INC{next(_serial)}",
        "opened": opened_utc,
        "assigned": opened_utc + pd.Timedelta(minutes=2),
        "arrived": opened_utc + pd.Timedelta(minutes=12),
        "closed": opened_utc + pd.Timedelta(minutes=60),
        "grade": grade,
        "category": category,
        "day": opened.astimezone(LONDON).date(),
        "area_id": area_id,
    }


def stop_search(
    area_id: str, ts: datetime, object_of_search: str = "controlled_drugs", outcome: str = "arrest"
) -> dict[str, object]:
    """One stop-search row (one place)."""
    return {
        "id": f"SS{next(_serial)}",
        "ts": pd.Timestamp(ts).tz_convert("UTC"),
        "day": ts.astimezone(LONDON).date(),
        "object_of_search": object_of_search,
        "outcome": outcome,
        "callsign": "AB12",
        "area_id": area_id,
    }


def _frame(rows: list[dict[str, object]], like: dict[str, object]) -> pd.DataFrame:
    """Rows as a frame, with the columns of ``like`` even when there is no row."""
    return pd.DataFrame(rows, columns=list(like))


def make_facts(
    first: date,
    last: date,
    visits: Sequence[dict[str, object]] = (),
    crimes: Sequence[dict[str, object]] = (),
    incidents: Sequence[dict[str, object]] = (),
    stop_searches: Sequence[dict[str, object]] = (),
    met_minutes: float = 30.0,
) -> Facts:
    """The facts of ``first``..``last`` from the rows given; an area-day meets its policy when
    it had at least ``met_minutes`` officer-minutes (a stand-in for the real policy)."""
    now = at(first, 0)
    visit_frame = _frame(list(visits), visit("x", now, 1))
    demand = {
        "crimes": (_frame(list(crimes), crime("x", now)), "crime_id"),
        "incidents": (_frame(list(incidents), incident("x", now)), "incident_id"),
        "stop_searches": (_frame(list(stop_searches), stop_search("x", now)), "id"),
    }
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    minutes = visit_frame.assign(m=visit_frame["seconds"] / 60)
    splits = (
        minutes.assign(
            hour_band=[HOUR_BANDS[t.astimezone(LONDON).hour // 4] for t in minutes["start"]]
        )
        .groupby(["area_id", "day", "hour_band", "role", "unit", "mode", "activity"])
        .agg(
            officer_minutes=("m", "sum"),
            visits=("visit_id", "count"),
            qualifying_visits=("qualifying", "sum"),
            drive_throughs=("drive_through", "sum"),
        )
        .reset_index()
    )
    bands = splits.groupby(["area_id", "day", "hour_band"])[["officer_minutes"]].sum().reset_index()
    bands = bands.assign(
        patrol_minutes=bands["officer_minutes"], crimes=0, incidents=0, stop_searches=0
    )
    return Facts(
        AREAS,
        visit_frame,
        demand["crimes"][0],
        demand["incidents"][0],
        demand["stop_searches"][0],
        _area_days(minutes, demand, days, met_minutes),
        splits,
        bands,
    )


def _area_days(
    minutes: pd.DataFrame,
    demand: dict[str, tuple[pd.DataFrame, str]],
    days: list[date],
    met_minutes: float,
) -> pd.DataFrame:
    """Every (area, day): presence from the visits (``m`` = minutes), demand counts, harm."""
    grid = pd.MultiIndex.from_product([AREAS["area_id"], days], names=["area_id", "day"])
    keys = ["area_id", "day"]
    per_day = minutes.groupby(keys).agg(
        officer_minutes=("m", "sum"),
        visits=("visit_id", "count"),
        qualifying_visits=("qualifying", "sum"),
        drive_throughs=("drive_through", "sum"),
        inferred_visits=("inferred", "sum"),
    )
    area_days = per_day.reindex(grid, fill_value=0).astype(float)
    proactive = minutes.loc[minutes["activity"] == "proactive"]
    area_days["patrol_minutes"] = proactive.groupby(keys)["m"].sum().reindex(grid, fill_value=0.0)
    for name, (frame, key) in demand.items():
        area_days[name] = frame.groupby(keys)[key].count().reindex(grid, fill_value=0)
    crimes = demand["crimes"][0]
    area_days["harm"] = crimes.groupby(keys)["harm"].sum().reindex(grid, fill_value=0.0)
    area_days = area_days.reset_index()
    area_days["kind"] = area_days["area_id"].map(
        dict(zip(AREAS["area_id"], AREAS["kind"], strict=True))
    )
    visited = area_days["visits"] > 0
    area_days["minutes_per_visit"] = (area_days["officer_minutes"] / area_days["visits"]).where(
        visited
    )
    area_days["mean_gap_minutes"] = float("nan")
    area_days["max_gap_minutes"] = float("nan")
    met = (area_days["officer_minutes"] >= met_minutes).astype("boolean")
    area_days["met_policy"] = met.where(area_days["kind"] != "ring", pd.NA)
    counts = ["visits", "qualifying_visits", "drive_throughs", "inferred_visits"]
    return area_days.astype(dict.fromkeys(counts, int))
