"""Area-period facts over a small archive written as contract A lays it out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from shapely.geometry import Point, box, mapping

from streams.evaluation.facts import Facts, area_day_history, load_facts
from tests.helpers.archive_files import write_rows

LONDON = "Europe/London"
DAY = date(2026, 12, 1)
IMPACT = box(-1.900, 52.480, -1.890, 52.490)
RING_A = box(-1.910, 52.470, -1.880, 52.500).difference(IMPACT)
COMPARISON = box(-1.850, 52.480, -1.840, 52.490)
RING_B = box(-1.890, 52.470, -1.830, 52.500).difference(COMPARISON).difference(IMPACT)
IN_IMPACT = (-1.895, 52.485)
IN_BOTH_RINGS = (-1.885, 52.495)
IN_RING_A_ONLY = (-1.905, 52.485)
POLICY = {"bands": [], "default_max_gap_minutes": 240}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def area_row(area_id: str, kind: str, shape: Any, **extra: Any) -> dict[str, Any]:
    return {
        "area_id": area_id,
        "name": area_id,
        "kind": kind,
        "valid_from": utc(2026, 1, 1),
        "geometry": orjson.dumps(mapping(shape)).decode(),
        "deleted": False,
        **extra,
    }


def visit(visit_id: str, start: datetime, minutes: float, **extra: Any) -> dict[str, Any]:
    return {
        "visit_id": visit_id,
        "area_id": "ia-01",
        "officer": "o_0000000000000001",
        "role": "response",
        "unit": "NPU-A",
        "mode": "foot",
        "activity": "proactive",
        "start": start,
        "end": start + timedelta(minutes=minutes),
        "seconds": minutes * 60.0,
        "qualifying": minutes >= 10,
        "drive_through": minutes < 2,
        "inferred": False,
        "revision": 0,
        "status": "closed",
        **extra,
    }


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Areas: an impact area (4 h policy all day), its ring, a comparison area and its ring
    (overlapping the first ring), and the patrol area (other, never counted)."""
    write_rows(
        tmp_path,
        "areas",
        "2026-01-01",
        [
            area_row("ia-01", "impact", IMPACT, policy=orjson.dumps(POLICY).decode()),
            area_row("ia-01-ring", "ring", RING_A, ring_of="ia-01", ring_m=250.0),
            area_row("ca-01", "comparison", COMPARISON),
            area_row("ca-01-ring", "ring", RING_B, ring_of="ca-01", ring_m=250.0),
            area_row("patrol", "other", box(-2.0, 52.0, -1.0, 53.0)),
        ],
        topic="areas.definitions",
    )
    return tmp_path


def facts(root: Path, start: date = DAY, end: date = DAY) -> Facts:
    return load_facts(root.as_uri(), start, end, LONDON)


def day_row(found: Facts, area_id: str, day: date = DAY) -> dict[str, Any]:
    rows = found.area_days[
        (found.area_days["area_id"] == area_id) & (found.area_days["day"] == day)
    ]
    assert len(rows) == 1
    return dict(rows.iloc[0])


def test_every_area_and_ring_has_a_zero_row_for_an_empty_day(archive: Path) -> None:
    found = facts(archive, DAY, DAY + timedelta(days=1))
    assert sorted(found.areas["area_id"]) == ["ca-01", "ca-01-ring", "ia-01", "ia-01-ring"]
    assert len(found.area_days) == 8
    row = day_row(found, "ca-01", DAY + timedelta(days=1))
    assert (row["officer_minutes"], row["visits"], row["crimes"], row["harm"]) == (0, 0, 0, 0)
    assert row["minutes_per_visit"] != row["minutes_per_visit"]  # NaN: no visit
    assert len(found.hour_bands) == 8 * 6
    assert found.visits.empty
    assert found.crimes.empty
    assert found.presence_splits.empty


def test_km2_is_measured_on_the_ground(archive: Path) -> None:
    km2 = dict(zip(facts(archive).areas["area_id"], facts(archive).areas["km2"], strict=True))
    assert km2["ia-01"] == pytest.approx(0.679 * 1.112, rel=0.01)


def test_duplicated_rows_in_overlapping_files_count_once(archive: Path) -> None:
    crimes = [
        {
            "crime_id": f"c{n}",
            "ts": utc(2026, 12, 1, 12, n),
            "category": "robbery",
            "lon": IN_IMPACT[0],
            "lat": IN_IMPACT[1],
        }
        for n in range(3)
    ]
    write_rows(archive, "crimes", "2026-12-01", crimes[:2], topic="crimes.recorded")
    write_rows(archive, "crimes", "2026-12-01", crimes, topic="crimes.recorded")  # offsets 0-2
    row = day_row(facts(archive), "ia-01")
    assert row["crimes"] == 3
    assert row["harm"] == 3 * 365.0


def test_the_final_revision_counts_and_retracted_visits_do_not(archive: Path) -> None:
    start = utc(2026, 12, 1, 10)
    rows = [
        visit("v1", start, 5, revision=0, status="open"),
        visit("v1", start, 30, revision=1),
        visit("v2", start, 20, revision=0),
        visit("v2", start, 20, revision=1, status="retracted"),
        visit("v3", start, 15, revision=0, status="open"),
    ]
    write_rows(archive, "visits", "2026-12-01", rows, topic="presence.visits")
    found = facts(archive)
    assert found.visits["visit_id"].tolist() == ["v1"]
    row = day_row(found, "ia-01")
    assert (row["officer_minutes"], row["visits"], row["qualifying_visits"]) == (30, 1, 1)


def test_a_visit_across_midnight_counts_in_both_days_and_starts_in_the_first(archive: Path) -> None:
    rows = [visit("v1", utc(2026, 12, 1, 23, 30), 60)]
    write_rows(archive, "visits", "2026-12-01", rows, topic="presence.visits")
    found = facts(archive, DAY, DAY + timedelta(days=1))
    first, second = day_row(found, "ia-01"), day_row(found, "ia-01", DAY + timedelta(days=1))
    assert (first["officer_minutes"], first["visits"]) == (30, 1)
    assert (second["officer_minutes"], second["visits"]) == (30, 0)
    assert first["minutes_per_visit"] == 60


def test_a_visit_from_the_day_before_the_period_counts_for_its_part_inside(archive: Path) -> None:
    rows = [visit("v1", utc(2026, 11, 30, 23, 50), 20)]
    write_rows(archive, "visits", "2026-11-30", rows, topic="presence.visits")
    found = facts(archive)
    assert found.visits.empty  # it started before the period
    assert day_row(found, "ia-01")["officer_minutes"] == 10


def test_minutes_fall_in_local_hour_bands_and_patrol_counts_overlap_once(archive: Path) -> None:
    rows = [
        visit("v1", utc(2026, 12, 1, 7, 50), 20),
        visit("v2", utc(2026, 12, 1, 7, 55), 10, officer="o_0000000000000002", mode="vehicle"),
    ]
    write_rows(archive, "visits", "2026-12-01", rows, topic="presence.visits")
    found = facts(archive)
    bands = found.hour_bands[found.hour_bands["area_id"] == "ia-01"].set_index("hour_band")
    assert bands.loc["04-08", "officer_minutes"] == 15
    assert bands.loc["08-12", "officer_minutes"] == 15
    assert bands.loc["04-08", "patrol_minutes"] == 10
    assert bands.loc["08-12", "patrol_minutes"] == 10
    splits = found.presence_splits.set_index(["hour_band", "mode"])
    assert splits.loc[("04-08", "foot"), "visits"] == 1
    assert splits.loc[("08-12", "vehicle"), "officer_minutes"] == 5
    assert splits.loc[("08-12", "vehicle"), "visits"] == 0


def test_the_long_autumn_day_has_25_hours_of_bands(archive: Path) -> None:
    autumn = date(2026, 10, 25)
    rows = [visit("v1", utc(2026, 10, 24, 23, 30), 180)]  # 00:30 BST to 02:30 GMT: 3 h
    write_rows(archive, "visits", "2026-10-25", rows, topic="presence.visits")
    found = facts(archive, autumn, autumn)
    bands = found.hour_bands[found.hour_bands["area_id"] == "ia-01"].set_index("hour_band")
    assert bands.loc["00-04", "officer_minutes"] == 180
    assert day_row(found, "ia-01", autumn)["visits"] == 1


def test_rings_count_demand_and_a_point_in_two_rings_counts_in_each(archive: Path) -> None:
    assert RING_A.contains(Point(*IN_BOTH_RINGS))
    assert RING_B.contains(Point(*IN_BOTH_RINGS))
    assert not RING_B.contains(Point(*IN_RING_A_ONLY))
    crimes = [
        {
            "crime_id": "c1",
            "ts": utc(2026, 12, 1, 9),
            "category": "burglary",
            "lon": IN_BOTH_RINGS[0],
            "lat": IN_BOTH_RINGS[1],
        },
        {
            "crime_id": "c2",
            "ts": utc(2026, 12, 1, 9),
            "category": "burglary",
            "lon": IN_RING_A_ONLY[0],
            "lat": IN_RING_A_ONLY[1],
        },
        {"crime_id": "c3", "ts": utc(2026, 12, 1, 9), "category": "burglary"},
    ]
    write_rows(archive, "crimes", "2026-12-01", crimes, topic="crimes.recorded")
    searches = [
        {
            "id": "s1",
            "ts": utc(2026, 12, 1, 9),
            "object_of_search": "drugs",
            "outcome": "nfa",
            "callsign": "B21",
            "lon": IN_BOTH_RINGS[0],
            "lat": IN_BOTH_RINGS[1],
        },
    ]
    write_rows(archive, "stop_searches", "2026-12-01", searches, topic="stopsearch.events")
    found = facts(archive)
    assert sorted(zip(found.crimes["crime_id"], found.crimes["area_id"], strict=True)) == [
        ("c1", "ca-01-ring"),
        ("c1", "ia-01-ring"),
        ("c2", "ia-01-ring"),
    ]
    assert (day_row(found, "ia-01-ring")["crimes"], day_row(found, "ca-01-ring")["crimes"]) == (
        2,
        1,
    )
    assert day_row(found, "ca-01-ring")["stop_searches"] == 1
    assert day_row(found, "ia-01")["crimes"] == 0
    assert pd.isna(day_row(found, "ia-01-ring")["met_policy"])  # rings have no policy


def test_incidents_collapse_to_one_row_with_their_times_and_final_grade(archive: Path) -> None:
    events = [
        {
            "ts": utc(2026, 12, 1, 18, 0),
            "incident_id": "i1",
            "event": "opened",
            "grade": "priority",
            "category": "burglary",
            "lon": IN_IMPACT[0],
            "lat": IN_IMPACT[1],
        },
        {
            "ts": utc(2026, 12, 1, 18, 5),
            "incident_id": "i1",
            "event": "graded",
            "grade": "immediate",
        },
        {
            "ts": utc(2026, 12, 1, 18, 6),
            "incident_id": "i1",
            "event": "assigned",
            "callsigns": "B21",
        },
        {
            "ts": utc(2026, 12, 1, 18, 20),
            "incident_id": "i1",
            "event": "arrived",
            "callsigns": "B21",
        },
        {"ts": utc(2026, 12, 1, 19, 0), "incident_id": "i1", "event": "closed"},
        {
            "ts": utc(2026, 12, 1, 19, 0),
            "incident_id": "i2",
            "event": "assigned",
            "callsigns": "B2",
        },
    ]
    write_rows(archive, "incident_events", "2026-12-01", events, topic="cad.incidents")
    found = facts(archive)
    (incident,) = found.incidents.to_dict("records")
    assert incident["incident_id"] == "i1"
    assert (incident["grade"], incident["category"], incident["area_id"]) == (
        "immediate",
        "burglary",
        "ia-01",
    )
    assert incident["arrived"] - incident["opened"] == timedelta(minutes=20)
    assert incident["closed"] == utc(2026, 12, 1, 19)
    assert day_row(found, "ia-01")["incidents"] == 1


def qualifying_every(minutes: int, day: date = DAY) -> list[dict[str, Any]]:
    first = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(minutes=5)
    return [
        visit(f"v{n}", first + timedelta(minutes=minutes * n), 15)
        for n in range(24 * 60 // minutes + 2)
    ]


def test_an_area_day_with_a_qualifying_visit_every_3_hours_met_a_4_hour_policy(
    archive: Path,
) -> None:
    write_rows(archive, "visits", "2026-12-01", qualifying_every(180), topic="presence.visits")
    row = day_row(facts(archive), "ia-01")
    assert bool(row["met_policy"]) is True
    assert row["max_gap_minutes"] == 165
    assert row["mean_gap_minutes"] == 165


def test_an_area_day_with_a_5_hour_gap_missed_its_policy(archive: Path) -> None:
    write_rows(archive, "visits", "2026-12-01", qualifying_every(300), topic="presence.visits")
    assert not day_row(facts(archive), "ia-01")["met_policy"]


def test_areas_are_the_latest_definition_valid_by_the_period_end(archive: Path) -> None:
    later = area_row("ca-01", "comparison", box(-1.86, 52.48, -1.84, 52.49))
    future = area_row("ca-01", "comparison", box(-1.80, 52.48, -1.79, 52.49))
    write_rows(
        archive,
        "areas",
        "2026-11-20",
        [{**later, "valid_from": utc(2026, 11, 20)}],
        topic="areas.definitions",
        first_offset=10,
    )
    write_rows(
        archive,
        "areas",
        "2026-12-20",
        [{**future, "valid_from": utc(2026, 12, 20)}],
        topic="areas.definitions",
        first_offset=11,
    )
    found = facts(archive).areas.set_index("area_id")
    assert found.loc["ca-01", "km2"] == pytest.approx(2 * 0.679 * 1.112, rel=0.01)


def withdraw_ca_01(archive: Path, when: datetime) -> None:
    removed = {**area_row("ca-01", "comparison", COMPARISON), "deleted": True, "valid_from": when}
    day = when.date().isoformat()
    write_rows(archive, "areas", day, [removed], topic="areas.definitions", first_offset=20)


def test_an_area_withdrawn_before_the_period_is_left_out(archive: Path) -> None:
    withdraw_ca_01(archive, utc(2026, 11, 21))
    assert "ca-01" not in set(facts(archive).areas["area_id"])


def test_an_area_withdrawn_during_the_period_keeps_its_last_definition(archive: Path) -> None:
    withdraw_ca_01(archive, utc(2026, 12, 1, 12))
    assert "ca-01" in set(facts(archive).areas["area_id"])


def test_area_day_history_is_json_ready(archive: Path) -> None:
    write_rows(
        archive,
        "visits",
        "2026-12-01",
        [visit("v1", utc(2026, 12, 1, 10), 30)],
        topic="presence.visits",
    )
    history = area_day_history(archive.as_uri(), "ia-01", DAY, DAY + timedelta(days=1), LONDON)
    assert [row["day"] for row in history] == ["2026-12-01", "2026-12-02"]
    assert history[0]["officer_minutes"] == 30.0
    assert history[1]["minutes_per_visit"] is None
    assert history[1]["met_policy"] is False
    orjson.dumps(history)
    assert area_day_history(archive.as_uri(), "nowhere", DAY, DAY, LONDON) == []


def test_an_empty_archive_gives_empty_facts_with_every_column(tmp_path: Path) -> None:
    found = facts(tmp_path)
    assert found.area_days.empty
    assert "met_policy" in found.area_days.columns
    assert list(found.hour_bands.columns) == [
        "area_id",
        "day",
        "hour_band",
        "officer_minutes",
        "patrol_minutes",
        "crimes",
        "incidents",
        "stop_searches",
    ]
