"""A day's visits summarised: parts of visit values, merged over partitions."""

from __future__ import annotations

from streams.domain.dayvisits import DayVisits, add_summary_field, visit_part

NOON = 1_795_176_000.0  # 2026-11-20T12:00:00Z


def value(status: str = "closed", **fields: object) -> dict[str, object]:
    visit: dict[str, object] = {
        "visit_id": "v1",
        "area_id": "ia-01",
        "role": "response",
        "mode": "vehicle",
        "activity": "reactive",
        "start": "2026-11-20T11:00:00.000Z",
        "end": None if status == "open" else "2026-11-20T11:20:00.000Z",
        "seconds": 1200.0,
        "qualifying": True,
        "drive_through": False,
        "status": status,
    }
    visit.update(fields)
    return visit


def test_a_part_holds_what_the_summary_needs_of_a_visit() -> None:
    assert visit_part(value()) == (
        "ia-01|1|0|response|vehicle|reactive|1200.0|1|2026-11-20T11:00:00.000Z"
        "|2026-11-20T11:20:00.000Z"
    )
    assert visit_part(value("open")).endswith("|1|2026-11-20T11:00:00.000Z|")
    assert visit_part(value("retracted")).startswith("ia-01|0|")
    assert visit_part(value(drive_through=True, qualifying=False)).split("|")[2::5] == ["1", "0"]


def test_an_inferred_visits_part_keeps_its_dose_apart() -> None:
    part = visit_part(value(inferred=True, seconds=11.5, qualifying=False, drive_through=True))
    assert part == (
        "ia-01|1|1|response|vehicle|reactive|inferred|11.5|0|2026-11-20T11:00:00.000Z"
        "|2026-11-20T11:20:00.000Z"
    )
    assert visit_part(value(inferred=False)) == visit_part(value())


def test_the_summaries_of_partitions_merge_by_area() -> None:
    summaries: dict[str, DayVisits] = {}
    for partition in (
        {"ia-01|n": "2", "ia-01|dt": "1", "ia-01|d|response|vehicle|reactive": "90.5"},
        {"ia-01|n": "1", "ia-01|d|response|vehicle|reactive": "1200", "ia-02|n": "1"},
        {"ia-01|q|v7": "2026-11-20T11:00:00.000Z|2026-11-20T11:20:00.000Z"},
        {"ia-01|q|v9": "2026-11-20T11:50:00.000Z|"},
    ):
        for name, amount in partition.items():
            add_summary_field(summaries, name, amount)

    area = summaries["ia-01"]
    assert (area.visits, area.drive_throughs) == (3, 1)
    assert area.dose() == {"response|vehicle|reactive": 1290.5}
    assert area.qualifying_spans(NOON) == [(NOON - 3600, NOON - 2400), (NOON - 600, NOON)]
    assert summaries["ia-02"] == DayVisits(visits=1)


def test_dose_taken_out_again_leaves_neither_drift_nor_an_empty_split() -> None:
    summary = DayVisits(
        dose_seconds={"a|foot|proactive": 0.1 + 0.2 - 0.3, "b|foot|proactive": 60.1 + 1e-12}
    )
    assert summary.dose() == {"b|foot|proactive": 60.1}
