from __future__ import annotations

from dataclasses import replace

from shapely.geometry import box

from schemas import assert_valid
from streams.domain.areas import AreaDefinition
from streams.domain.dayvisits import DayVisits, add_summary_field, visit_part
from streams.domain.snapshots import (
    AreaFacts,
    dose_today,
    dose_windows,
    drive_throughs_today,
    inferred_today,
    officers_present,
    qualifying_visits,
    snapshot_value,
    visits_group,
)

AREA = AreaDefinition("ia-01", "Yewford North", "impact", box(-1.9, 52.48, -1.89, 52.49))
NOW = 1_795_197_600.0  # 2026-11-20T18:00:00Z


def visit(start: str, end: str | None, seconds: float, **fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "schema": "presence.visits/1",
        "visit_id": f"v-{start}",
        "area_id": "ia-01",
        "officer": "o_0123456789abcdef",
        "role": "neighbourhood",
        "mode": "foot",
        "start": start,
        "end": end,
        "seconds": seconds,
        "qualifying": seconds >= 600,
        "drive_through": end is not None and seconds < 120,
        "activity": "proactive",
        "revision": 1,
        "status": "open" if end is None else "closed",
    }
    value.update(fields)
    return value


def day_visits(*values: dict[str, object]) -> DayVisits:
    """The day summary Redis keeps of these (latest) visit values (streams.state's Lua): each
    visit's part, summed."""
    summary: dict[str, str] = {}
    for value in values:
        area, live, dt, *split, seconds, q, start, end = visit_part(value).split("|")
        summary[f"{area}|n"] = str(int(summary.get(f"{area}|n", "0")) + 1)
        if live == "1":
            summary[f"{area}|dt"] = str(int(summary.get(f"{area}|dt", "0")) + int(dt))
            dose = f"{area}|d|" + "|".join(split)
            summary[dose] = repr(float(summary.get(dose, "0")) + float(seconds))
            if q == "1":
                summary[f"{area}|q|{value['visit_id']}"] = f"{start}|{end}"
    summaries: dict[str, DayVisits] = {}
    for name, amount in summary.items():
        add_summary_field(summaries, name, amount)
    return summaries.get("ia-01", DayVisits())


FACTS = AreaFacts(
    area=AREA,
    present={"2001": ("response", "vehicle"), "2002": ("neighbourhood", "foot")},
    dose_windows={
        900: {
            "response|vehicle|reactive|Birmingham East Response": 600.0,
            "neighbourhood|foot|proactive": 300.0,  # stored before units were kept
        }
    },
    last_qualifying_end=NOW - 1800,
    visits_today=day_visits(
        visit("2026-11-20T17:00:00.000Z", "2026-11-20T17:30:00.000Z", 1800.0),
        visit("2026-11-20T17:40:00.000Z", "2026-11-20T17:41:00.000Z", 60.0),
        visit("2026-11-20T17:50:00.000Z", None, 610.0),
        visit("2026-11-20T16:00:00.000Z", "2026-11-20T16:20:00.000Z", 1200.0, status="retracted"),
    ),
    demand_windows={86400: {"incidents_opened|immediate": 2.0, "crimes|burglary": 1.0}},
    open_incidents={"immediate": 1},
    units={"2001": "Birmingham East Response"},
)


def test_officers_present_are_counted_by_role_mode_and_unit() -> None:
    assert officers_present(FACTS) == {
        "officers_present": 2,
        "by_role": {"response": 1, "neighbourhood": 1},
        "by_mode": {"foot": 1, "vehicle": 1},
        "by_unit": {"Birmingham East Response": 1, "unknown": 1},
    }


def test_dose_is_split_by_unit_and_dose_stored_before_units_is_the_unknown_units() -> None:
    window = dose_windows(FACTS)["15m"]

    assert window["by_unit"] == {"Birmingham East Response": 10.0, "unknown": 5.0}
    assert window["by_role"] == {"response": 10.0, "neighbourhood": 5.0}


def test_retracted_visits_do_not_count_and_an_open_qualifying_visit_ends_now() -> None:
    assert qualifying_visits(FACTS, NOW) == [(NOW - 3600, NOW - 1800), (NOW - 600, NOW)]
    group = visits_group(FACTS, NOW)
    assert (group["qualifying_today"], group["drive_throughs_today"]) == (2, 1)
    assert group["minutes_since_last_qualifying_visit"] == 30.0
    assert dose_today(FACTS) == {("neighbourhood", "foot", "proactive"): 2470.0}


def test_a_snapshot_follows_the_contract_with_or_without_coverage() -> None:
    value = snapshot_value(FACTS, None, None, NOW)
    assert_valid("area.snapshots", value)
    assert value["dose"]["15m"]["minutes"] == 15.0
    assert value["dose"]["15m"]["by_activity"] == {"reactive": 10.0, "proactive": 5.0}
    assert value["demand"]["incidents_24h"]["immediate"] == 2.0
    assert value["demand"]["calls_per_crime_24h"] == 2.0
    assert value["coverage"] == {"state": "unknown", "severity": None}


def test_inferred_dose_is_in_every_split_and_apart_by_evidence() -> None:
    facts = replace(
        FACTS,
        dose_windows={
            900: {
                "response|vehicle|reactive|Birmingham East Response": 600.0,
                "response|vehicle|proactive|Birmingham East Response|inferred": 12.0,
            }
        },
        visits_today=day_visits(
            visit("2026-11-20T17:00:00.000Z", "2026-11-20T17:30:00.000Z", 1800.0),
            visit(
                "2026-11-20T17:40:00.000Z",
                "2026-11-20T17:40:12.000Z",
                12.0,
                mode="vehicle",
                drive_through=True,
                inferred=True,
            ),
        ),
    )
    value = snapshot_value(facts, None, None, NOW)
    assert_valid("area.snapshots", value)
    window = value["dose"]["15m"]
    assert window["minutes"] == 10.2
    assert window["by_mode"] == {"vehicle": 10.2}
    assert window["by_evidence"] == {"observed": 10.0, "inferred": 0.2}
    assert window["by_unit"] == {"Birmingham East Response": 10.2}
    assert dose_today(facts) == {
        ("neighbourhood", "foot", "proactive"): 1800.0,
        ("neighbourhood", "vehicle", "proactive"): 12.0,
    }
    assert inferred_today(facts) == 12.0
    assert drive_throughs_today(facts) == 1
