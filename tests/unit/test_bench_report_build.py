"""The report bench's synthetic archive follows contract A: Hive-style table/day folders, files
named by topic, partition and offset range, unique source offsets, and rows placed inside the
areas and rings of the bundled pack."""

from __future__ import annotations

import re
from datetime import date

import pyarrow.parquet as pq
import pytest
import shapely

from streams.devtools.bench import report_build

FILE = re.compile(
    r"^table=(?P<table>[a-z_]+)/day=(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<topic>[a-z.]+)-(?P<partition>\d+)-(?P<first>\d{12})-(?P<last>\d{12})\.parquet$"
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    counts = report_build.write_synthetic_archive(root, date(2026, 10, 1), days=2, radios=10)
    return root, counts


def test_every_file_is_named_as_contract_a_says(archive):
    root, _ = archive
    names = [str(path.relative_to(root)) for path in root.rglob("*.parquet")]
    assert names
    for name in names:
        match = FILE.match(name)
        assert match, name
        rows = pq.read_table(root / name)
        offsets = rows.column("source_offset").to_pylist()
        assert (min(offsets), max(offsets)) == (int(match["first"]), int(match["last"]))
        assert set(rows.column("source_topic").to_pylist()) == {match["topic"]}


def test_source_offsets_are_unique_per_topic(archive):
    root, counts = archive
    for table in ("visits", "crimes", "incident_events", "stop_searches"):
        offsets = pq.read_table(root / f"table={table}").column("source_offset").to_pylist()
        assert len(offsets) == len(set(offsets)) == counts[table]


def test_visits_are_twenty_a_radio_day_with_some_open_revisions_to_drop(archive):
    root, _ = archive
    visits = pq.read_table(root / "table=visits").to_pandas()
    closed = visits[visits["status"] == "closed"]
    assert len(closed) == 10 * 2 * report_build.VISITS_PER_RADIO_DAY
    opened = visits[visits["status"] == "open"]
    assert 0 < len(opened) < len(closed) / 4
    assert set(opened["visit_id"]) <= set(closed["visit_id"])
    assert (opened["revision"] < 1).all()
    assert visits["officer"].str.fullmatch(r"o_[0-9a-f]{16}").all()


def test_rings_exist_and_every_crime_lies_in_its_place(archive):
    root, _ = archive
    places = {place.area_id: place for place in report_build.pack_places()}
    rings = [place for place in places.values() if place.kind == "ring"]
    programme = [p for p in places.values() if p.kind in ("impact", "comparison")]
    assert len(rings) == len(programme)
    crimes = pq.read_table(root / "table=crimes").to_pandas()
    inside = shapely.contains_xy(
        shapely.union_all([place.geometry for place in [*programme, *rings]]),
        crimes["lon"].to_numpy(),
        crimes["lat"].to_numpy(),
    )
    assert inside.all()


def test_a_missing_result_is_a_row_that_says_why():
    (row,) = report_build.rows({"error": "ModuleNotFoundError: no facts"})
    assert row.value is None
    assert row.note == "ModuleNotFoundError: no facts"
