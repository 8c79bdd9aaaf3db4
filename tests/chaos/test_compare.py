"""The chaos suite's own logic, without a broker: the canonical final state, its differences,
the recorded days and the malformed messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from streams import topics
from streams.simulator.world import Record
from tests.chaos.compare import (
    ArchiveState,
    FinalState,
    RedisFigures,
    archive_state,
    diff,
    diff_archive,
    final_state,
    state_to_json,
    summary_line,
    undeadlettered,
    without_sources,
)
from tests.chaos.day import INPUT_TOPICS, YEAR_9999, interleave, malformed_messages, recorded_day


def visit(visit_id: str = "v1", revision: int = 0, seconds: float = 60.0, **extra: Any) -> dict:
    return {
        "schema": "presence.visits/1",
        "visit_id": visit_id,
        "area_id": "ia-01",
        "officer": "o_0123456789abcdef",
        "role": "response",
        "mode": "vehicle",
        "start": "2026-11-20T17:00:00Z",
        "end": None,
        "seconds": seconds,
        "qualifying": False,
        "drive_through": False,
        "activity": "proactive",
        "revision": revision,
        "status": "open",
        **extra,
    }


def alert(alert_id: str = "ia-01:1", event: str = "raised", ts: str = "T1") -> dict:
    return {"alert_id": alert_id, "area_id": "ia-01", "event": event, "severity": "low", "ts": ts}


def deadletter(offset: int, ts: str = "T1", reason: str = "invalid_json") -> dict:
    return {
        "source_topic": "airwave.pings",
        "source_partition": 0,
        "source_offset": offset,
        "reason": reason,
        "ts": ts,
    }


def figures(dose: Mapping[str, str] | None = None, coverage: str = "covered") -> RedisFigures:
    return RedisFigures(
        dose=[(dict(dose or {"ia-01|response|vehicle|proactive": "120.5"}), {})],
        demand=[({"ia-01|crimes|theft": "2"}, {"3600|ia-01|crimes|theft": "1"})],
        open_incidents=[{"ia-01|priority": "1"}],
        coverage={"ia-01": orjson.dumps({"state": coverage, "severity": None}).decode()},
        incidents={"I1": orjson.dumps({"id": "I1", "closed": None}).decode()},
        clock="1795194000.0",
    )


def state(
    visits: Sequence[dict] = (),
    alerts: Sequence[dict] = (),
    deadletters: Sequence[dict] = (),
    redis: RedisFigures | None = None,
    source_ids: Mapping[tuple[str, int, int], str] | None = None,
) -> FinalState:
    return final_state(
        {topics.VISITS: visits, topics.ALERTS: alerts, topics.DEADLETTER: deadletters},
        redis or figures(),
        source_ids if source_ids is not None else {("airwave.pings", 0, 7): "r7"},
    )


def test_the_same_records_in_another_order_and_repeated_make_the_same_state() -> None:
    records = [visit(revision=0), visit(revision=1, seconds=90.0), visit("v2")]
    first = state(records, [alert()], [deadletter(7)])
    second = state(
        [*reversed(records), records[1]], [alert(), alert()], [deadletter(7), deadletter(7)]
    )

    assert diff(first, second) == []


def test_a_visit_counts_at_its_highest_revision() -> None:
    final = state([visit(revision=2, seconds=300.0), visit(revision=1, seconds=200.0)])

    assert final.visits["v1"].seconds == 300.0
    assert final.visits["v1"].revision == 2


def test_a_visit_of_other_length_is_reported_with_its_field() -> None:
    differences = diff(state([visit(seconds=60.0)]), state([visit(seconds=65.0)]))

    assert differences[0].startswith("visits: 0 missing, 0 extra, 1 differ (of 1)")
    assert "seconds 60.0->65.0" in differences[0]
    assert differences[1].startswith("topic presence.visits: 0 missing, 0 extra, 1 differ")


def test_dose_is_equal_within_float_rounding_only() -> None:
    base = state(redis=figures({"a|r|m|p": "120.5"}))
    rounding = state(redis=figures({"a|r|m|p": "120.50000000001"}))
    other = state(redis=figures({"a|r|m|p": "120.51"}))

    assert diff(base, rounding) == []
    (line,) = diff(base, other)
    assert line.startswith("dose: 5 of 5 figures differ")
    assert "total|a|r|m|p 120.5s->120.51s" in line


def test_patrol_is_measured_over_every_partitions_steps_together() -> None:
    minute = 29_920_000
    two_partitions = [
        (minute, {"a|0": "1", "a|60000": "-1"}),
        (minute, {"a|0": "1", "a|60000": "-1"}),
    ]
    split_otherwise = [(minute, {"a|0": "2", "a|30000": "-1", "a|60000": "-1"})]
    shorter = [(minute, {"a|0": "1", "a|30000": "-1"})]

    def with_patrol(patrol: list[tuple[int, dict[str, str]]]) -> FinalState:
        return state(redis=replace(figures(), patrol=patrol))

    assert with_patrol(two_partitions).dose[f"patrol|a|{minute}"] == 60.0
    assert diff(with_patrol(two_partitions), with_patrol(split_otherwise)) == []
    (line,) = diff(with_patrol(two_partitions), with_patrol(shorter))
    assert f"patrol|a|{minute} 60s->30s" in line


def test_a_missing_alert_and_another_coverage_state_are_reported() -> None:
    before = state(alerts=[alert("ia-01:1"), alert("ia-01:2")])
    after = state(alerts=[alert("ia-01:1")], redis=figures(coverage="uncovered"))

    differences = diff(before, after)

    assert any(d.startswith("coverage: 0 missing, 0 extra, 1 differ") for d in differences)
    assert any("state covered->uncovered" in d for d in differences)
    assert "alert ids: 1 missing, 0 extra (of 2); e.g. missing ia-01:2" in differences
    assert any(d.startswith("topic coverage.alerts: 1 missing") for d in differences)


def test_an_alert_decided_at_another_time_differs() -> None:
    differences = diff(state(alerts=[alert(ts="T1")]), state(alerts=[alert(ts="T2")]))

    assert differences == [
        "topic coverage.alerts: 0 missing, 0 extra, 1 differ (of 1); e.g. "
        "ia-01:1/raised/low: ts T1->T2"
    ]


def test_a_deadletter_is_named_by_its_source_record_not_its_offset_or_time() -> None:
    here = state(deadletters=[deadletter(7, ts="T1")], source_ids={("airwave.pings", 0, 7): "r7"})
    shifted = state(
        deadletters=[deadletter(9, ts="T2")], source_ids={("airwave.pings", 0, 9): "r7"}
    )
    other_reason = state(
        deadletters=[deadletter(7, reason="too_late")], source_ids={("airwave.pings", 0, 7): "r7"}
    )

    assert diff(here, shifted) == []
    assert diff(here, other_reason) == [
        "topic deadletter: 0 missing, 0 extra, 1 differ (of 1); e.g. "
        "airwave.pings/r7: reason invalid_json->too_late"
    ]


def test_two_contents_under_one_identity_are_a_difference() -> None:
    differences = diff(
        state([visit(seconds=60.0)]), state([visit(seconds=60.0), visit(seconds=61.0)])
    )

    assert any("1 identities with several contents" in d for d in differences)


def test_injected_messages_are_checked_on_deadletter_and_left_out_of_the_comparison() -> None:
    ids = {("airwave.pings", 0, 7): "r7", ("airwave.pings", 0, 8): "x0"}
    clean = state(deadletters=[deadletter(7)], source_ids=ids)
    injected = state(deadletters=[deadletter(7), deadletter(8)], source_ids=ids)

    assert undeadlettered(injected, {"x0": "airwave.pings"}) == ""
    assert undeadlettered(clean, {"x0": "airwave.pings", "x1": "clock.ticks"}) == (
        "injected: 2 of 2 not on deadletter (airwave.pings 1, clock.ticks 1)"
    )
    assert diff(clean, without_sources(injected, {"x0"})) == []
    assert diff(clean, injected)[0].startswith("topic deadletter: 0 missing, 1 extra")


def test_a_lost_trail_point_or_state_change_is_a_difference_but_a_repeated_change_is_not() -> None:
    change = orjson.dumps({"area_id": "ia-01", "state": "at_risk", "ts": "T1"}).decode()
    point = "12500,52.48000,-1.90000,response,foot"
    whole = replace(figures(), trail=[(29919900, {"r1": point})], state_changes=[change])
    twice = replace(whole, state_changes=[change, change])
    lost = replace(whole, trail=[(29919900, {})], state_changes=[])

    assert diff(state(redis=whole), state(redis=twice)) == []
    assert diff(state(redis=whole), state(redis=lost)) == [
        "trail points: 1 missing, 0 extra (of 1); e.g. missing"
        " 29919900|r1|12500,52.48000,-1.90000,response,foot",
        "state changes: 1 missing, 0 extra (of 1); e.g. missing ia-01|at_risk|T1",
    ]


def test_the_state_dumps_as_json_and_the_summary_names_the_figures() -> None:
    final = state([visit()], [alert()], [deadletter(7)])

    document = orjson.loads(state_to_json(final))
    line = summary_line("batch-1", "FAIL", final, 42.0, ["visits: 1 missing"])

    assert document["visits"]["v1"]["seconds"] == 60.0
    assert line.split() == [
        "batch-1",
        "FAIL",
        "visits=1",
        "dose=120s",
        "alerts=1",
        "deadletters=1",
        "archived=-",
        "trail=0",
        "changes=0",
        "42s",
        "visits:",
        "1",
        "missing",
    ]


def crime_row(offset: int, category: str = "theft", crime_id: str = "") -> dict[str, Any]:
    return {
        "crime_id": crime_id or f"C{offset}",
        "ts": datetime(2026, 11, 20, 17, 5, tzinfo=UTC),
        "category": category,
        "lon": -1.5,
        "lat": 52.4,
        "incident_id": None,
        "source_topic": "crimes.recorded",
        "source_partition": 0,
        "source_offset": offset,
    }


def archived(
    crimes: Sequence[dict[str, Any]] = (),
    files: Mapping[str, bytes] | None = None,
    area_days: Sequence[dict[str, Any]] = (),
    first_offset: int = 0,
) -> ArchiveState:
    """An archive whose crimes at offsets ``first_offset``.. are the records r0, r1, ..."""
    ids = {("crimes.recorded", 0, first_offset + i): f"r{i}" for i in range(5)}
    return archive_state(
        {"crimes": crimes},
        files if files is not None else {"table=crimes/day=2026-11-20/c.parquet": b"PAR1"},
        {"area_days": area_days},
        ids,
    )


def test_the_same_archive_rows_make_no_difference_and_are_counted() -> None:
    rows = [crime_row(0), crime_row(1)]

    kept = replace(state(), archive=archived(rows))

    assert diff_archive(archived(rows), archived(list(reversed(rows)))) == []
    assert diff(kept, state()) == ["archive: an archive -> no archive"]
    assert "archived=2" in summary_line("clean", "BASE", kept, 1.0, [])


def test_a_missing_a_duplicated_and_a_changed_archive_row_are_reported() -> None:
    clean = archived([crime_row(0), crime_row(1), crime_row(2)])
    faulty = archived([crime_row(0), crime_row(0), crime_row(2, category="arson")])

    assert diff_archive(clean, faulty) == [
        "archive crimes: 1 missing, 0 extra, 1 duplicated, 1 differ (of 3 records); e.g. "
        "missing r1; r0 2 times; r2: category theft->arson"
    ]


def test_an_extra_archive_row_is_reported() -> None:
    (line,) = diff_archive(archived([crime_row(0)]), archived([crime_row(0), crime_row(1)]))

    assert line.startswith("archive crimes: 0 missing, 1 extra, 0 duplicated, 0 differ (of 1")
    assert "extra r1" in line


def test_archive_rows_are_named_by_their_record_not_their_offset() -> None:
    here = archived([crime_row(0)])
    shifted = archived([crime_row(3, crime_id="C0")], first_offset=3)

    assert diff_archive(here, shifted) == []


def test_archive_files_compare_byte_for_byte_only_when_published_alike() -> None:
    rows = [crime_row(0)]
    other_bytes = {"table=crimes/day=2026-11-20/c.parquet": b"PAR2"}

    (line,) = diff_archive(archived(rows), archived(rows, other_bytes))
    assert line == (
        "archive files: 0 missing, 0 extra, 1 differ (of 1 input table files); e.g. "
        "other bytes table=crimes/day=2026-11-20/c.parquet"
    )
    shifted = archived([crime_row(3, crime_id="C0")], other_bytes, first_offset=3)
    assert diff_archive(archived(rows), shifted) == []


def test_facts_are_compared_row_by_row_to_the_last_bit() -> None:
    day = {"area_id": "ia-01", "day": date(2026, 11, 20), "officer_minutes": 12.5, "gap": None}
    rounded = {**day, "officer_minutes": 12.5000000000001}
    other = {**day, "officer_minutes": 13.0}

    assert diff_archive(archived(area_days=[day]), archived(area_days=[dict(day)])) == []
    (last_bit,) = diff_archive(archived(area_days=[day]), archived(area_days=[rounded]))
    assert last_bit.startswith("facts area_days: 1 rows missing, 1 extra (of 1)")
    assert diff_archive(archived(area_days=[day]), archived(area_days=[day, day])) == [
        "facts area_days: 0 rows missing, 1 extra (of 1); e.g. extra "
        '{"area_id":"ia-01","day":"2026-11-20","gap":null,"officer_minutes":12.5}'
    ]
    (line,) = diff_archive(archived(area_days=[day]), archived(area_days=[other]))
    assert line.startswith("facts area_days: 1 rows missing, 1 extra (of 1)")


def test_malformed_messages_cover_every_input_topic_once_each() -> None:
    messages = malformed_messages(1000)

    assert len(messages) == 1000
    assert {record.topic for _, record in messages} == set(INPUT_TOPICS)
    assert len({(r.topic, r.key, r.value) for _, r in messages}) == 1000
    far_future = [r.topic for _, r in messages if r.value and YEAR_9999.encode() in r.value]
    assert {topics.PINGS, topics.CLOCK_TICKS} <= set(far_future)


def test_interleaving_spreads_the_extra_records_and_keeps_both_orders() -> None:
    live = [(f"r{i}", Record(float(i), "airwave.pings", "1", b"{}")) for i in range(10)]
    extra = [(f"x{i}", Record(0.0, "clock.ticks", "s", b"[]")) for i in range(3)]

    merged = interleave(live, extra)

    assert [i for i, _ in merged] == [
        "x0", "r0", "r1", "r2", "r3", "x1", "r4", "r5", "r6", "x2", "r7", "r8", "r9"
    ]  # fmt: skip
    assert [r.at for i, r in merged if i.startswith("x")] == [0.0, 4.0, 7.0]


@pytest.mark.parametrize("size", ["short", "full"])
def test_the_recorded_days_have_the_size_the_suite_promises(size: str) -> None:
    day = recorded_day(size)  # type: ignore[arg-type]

    topics_seen = {record.topic for _, record in day.live}
    assert {topics.INCIDENTS, topics.CRIMES, topics.STOPSEARCH, topics.CLOCK_TICKS} <= topics_seen
    assert {record.topic for _, record in day.opening} == {topics.AREAS, topics.ROSTER}
    if size == "full":
        assert day.options.duration_seconds >= 2 * 3600
        assert day.radios >= 300
    assert recorded_day(size) == day
