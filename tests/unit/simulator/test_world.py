"""The simulated force: determinism, contract conformance, plausible motion and fault rates."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import numpy as np
import orjson
import pytest
import shapely

import schemas
from streams.domain.areas import AreaDefinition
from streams.simulator.geography import LocalProjection, load_default_area_pack
from streams.simulator.recording import record_to_jsonl
from streams.simulator.world import Record, SimulationOptions, generate, neglected_area_ids

NO_FAULTS = {
    "outlier_rate": 0.0,
    "radio_off_rate": 0.0,
    "out_of_coverage_rate": 0.0,
    "duplicate_rate": 0.0,
    "stuck_device_rate": 0.0,
    "malformed_rate": 0.0,
}
EVENING = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)


@cache
def areas() -> tuple[AreaDefinition, ...]:
    """The default area pack (parsed once)."""
    return tuple(load_default_area_pack())


def run(**options: object) -> list[Record]:
    """Every record of a simulation with ``options`` over the default pack."""
    return list(generate(SimulationOptions(**options), areas()))  # type: ignore[arg-type]


@cache
def clean_run() -> tuple[Record, ...]:
    """Two evening hours of 300 officers with exact positions and no faults."""
    return tuple(
        run(seed=11, officers=300, start=EVENING, duration_seconds=7200, gps_noise_m=(0.0, 0.0),
            vehicle_interval_s=(12.0, 25.0), handheld_interval_s=(40.0, 90.0), **NO_FAULTS)
    )  # fmt: skip


def json_object(record: Record) -> dict[str, object] | None:
    """The record's value as a JSON object, or None when it is malformed (or a tombstone)."""
    try:
        value = orjson.loads(record.value) if record.value is not None else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def epoch_ms(ts: object) -> int:
    """Milliseconds since the epoch of an RFC 3339 timestamp."""
    return round(datetime.fromisoformat(str(ts)).timestamp() * 1000)


def consecutive_fixes(
    records: tuple[Record, ...] | list[Record],
) -> Iterator[tuple[str, dict[str, object], dict[str, object]]]:
    """(device, previous fix, fix) for fixes in the same on-duty spell of one device."""
    device: dict[str, str] = {}
    last: dict[str, dict[str, object]] = {}
    for record in records:
        value = json_object(record)
        if value is None or record.key is None:
            continue
        if record.topic == "resources.roster":
            device[record.key] = str(value["device"])
            last.pop(record.key, None)
        elif record.topic == "airwave.pings":
            if record.key in last:
                yield device[record.key], last[record.key], value
            last[record.key] = value


def test_same_seed_and_options_give_identical_bytes() -> None:
    first = b"".join(
        record_to_jsonl(record)
        for record in run(seed=3, officers=120, duration_seconds=1800, malformed_rate=0.01)
    )
    second = b"".join(
        record_to_jsonl(record)
        for record in run(seed=3, officers=120, duration_seconds=1800, malformed_rate=0.01)
    )
    assert first == second


def test_different_seed_gives_different_output() -> None:
    assert run(seed=1, officers=60, duration_seconds=600) != run(
        seed=2, officers=60, duration_seconds=600
    )


def test_stream_opens_with_areas_then_roster_and_delivery_never_goes_back() -> None:
    records = clean_run()
    topics = [record.topic for record in records]
    # the pack's 40 areas and their 39 rings: rings travel on areas.definitions like any area
    assert topics[:79] == ["areas.definitions"] * 79
    assert topics[79:379] == ["resources.roster"] * 300
    assert all(record.at == 0.0 for record in records[:379])
    ats = [record.at for record in records]
    assert ats == sorted(ats)
    assert ats[-1] <= 7200.0


def test_every_message_validates_against_its_schema() -> None:
    records = run(
        seed=5,
        officers=250,
        start=EVENING,
        duration_seconds=5400,
        malformed_rate=0.02,
        outlier_rate=0.01,
    )
    seen: Counter[str] = Counter()
    for index, record in enumerate(records):
        value = json_object(record)
        if value is None:
            continue  # malformed on purpose
        seen[record.topic] += 1
        if record.topic != "airwave.pings" or index % 7 == 0:
            schemas.assert_valid(record.topic, value)
        assert value["schema"] == f"{record.topic}/1"
    assert set(seen) == {
        "areas.definitions", "resources.roster", "airwave.pings", "cad.incidents",
        "crimes.recorded", "stopsearch.events", "clock.ticks",
    }  # fmt: skip


def test_incidents_go_through_their_whole_lifecycle() -> None:
    events: dict[str, list[str]] = defaultdict(list)
    linked_crimes = 0
    for record in clean_run():
        value = json_object(record)
        assert value is not None
        if record.topic == "cad.incidents":
            events[str(value["incident_id"])].append(str(value["event"]))
        elif record.topic == "crimes.recorded" and "incident_id" in value:
            linked_crimes += 1
            assert value["incident_id"] in events
    lifecycles = Counter(tuple(sequence) for sequence in events.values())
    assert lifecycles[("opened", "graded", "assigned", "arrived", "closed")] > 3
    assert lifecycles[("opened", "graded", "assigned", "arrived", "arrived", "closed")] > 0
    assert lifecycles[("opened", "graded", "closed")] > 0
    assert all(
        sequence[:2] == ["opened", "graded"] for sequence in events.values() if len(sequence) > 1
    )
    assert linked_crimes > 0


def test_heartbeats_tick_every_interval() -> None:
    ticks = [
        record.at
        for record in run(seed=1, officers=20, duration_seconds=60, heartbeat_interval_s=2.5)
        if record.topic == "clock.ticks"
    ]
    assert ticks == [index * 2.5 for index in range(25)]


def test_fix_intervals_stay_within_configured_bounds() -> None:
    bounds_ms = {"vehicle": (12_000, 25_000), "handheld": (40_000, 90_000)}
    checked: Counter[str] = Counter()
    for device, previous, fix in consecutive_fixes(clean_run()):
        low, high = bounds_ms[device]
        assert low <= epoch_ms(fix["ts"]) - epoch_ms(previous["ts"]) <= high
        checked[device] += 1
    assert checked["vehicle"] > 1000
    assert checked["handheld"] > 1000


def test_implied_speeds_are_plausible_for_foot_and_vehicle() -> None:
    projection = LocalProjection(-1.89, 52.48)
    fastest: dict[str, float] = defaultdict(float)
    for device, previous, fix in consecutive_fixes(clean_run()):
        x0, y0 = projection.to_local(np.array([previous["lon"]]), np.array([previous["lat"]]))
        x1, y1 = projection.to_local(np.array([fix["lon"]]), np.array([fix["lat"]]))
        seconds = (epoch_ms(fix["ts"]) - epoch_ms(previous["ts"])) / 1000
        fastest[device] = max(fastest[device], float(np.hypot(x1 - x0, y1 - y0)[0]) / seconds)
    assert 0.8 < fastest["handheld"] <= 3.0
    assert 10.0 < fastest["vehicle"] <= 40.0


def pings(records: list[Record]) -> list[tuple[Record, dict[str, object]]]:
    """The well-formed pings among ``records`` with their values."""
    found = []
    for record in records:
        value = json_object(record)
        if record.topic == "airwave.pings" and value is not None:
            found.append((record, value))
    return found


FAULT_RUN = {"seed": 8, "officers": 400, "start": EVENING, "duration_seconds": 5400}


def test_duplicates_and_late_deliveries_match_their_rates() -> None:
    options = FAULT_RUN | NO_FAULTS | {"duplicate_rate": 0.05, "out_of_coverage_rate": 0.1}
    start_ms = epoch_ms(EVENING.isoformat())
    seen: set[tuple[object, object]] = set()
    duplicates = late = 0
    for record, value in pings(run(**options)):
        identity = (value["issi"], value["ts"])
        if identity in seen:
            duplicates += 1
            continue
        seen.add(identity)
        late += record.at * 1000 - (epoch_ms(value["ts"]) - start_ms) > 1000
    assert duplicates / len(seen) == pytest.approx(0.05, abs=0.01)
    assert late / len(seen) == pytest.approx(0.10, abs=0.03)


def test_radio_off_removes_its_share_of_fixes() -> None:
    with_radios_on = len(pings(run(**FAULT_RUN | NO_FAULTS)))
    with_radios_off = len(pings(run(**FAULT_RUN | NO_FAULTS | {"radio_off_rate": 0.2})))
    assert with_radios_off / with_radios_on == pytest.approx(0.8, abs=0.04)


def test_outliers_are_far_fixes_at_their_rate() -> None:
    options = FAULT_RUN | NO_FAULTS | {"gps_noise_m": (0.0, 0.0), "outlier_rate": 0.02}
    projection = LocalProjection(-1.89, 52.48)
    tracks: dict[object, list[tuple[float, float]]] = defaultdict(list)
    for _, value in pings(run(**options)):
        x, y = projection.to_local(np.array([value["lon"]]), np.array([value["lat"]]))
        tracks[value["issi"]].append((float(x[0]), float(y[0])))
    far = total = 0
    for track in tracks.values():
        points = np.array(track)
        if len(points) < 3:
            continue
        before = np.hypot(*(points[1:-1] - points[:-2]).T)
        after = np.hypot(*(points[1:-1] - points[2:]).T)
        far += int(np.sum((before > 1500.0) & (after > 1500.0)))
        total += len(points) - 2
    assert far / total == pytest.approx(0.02, abs=0.006)


def test_stuck_devices_repeat_one_fix_at_their_rate() -> None:
    options = FAULT_RUN | NO_FAULTS | {"stuck_device_rate": 0.1}
    positions: dict[object, list[tuple[object, object]]] = defaultdict(list)
    for _, value in pings(run(**options)):
        positions[value["issi"]].append((value["lat"], value["lon"]))
    stuck = sum(1 for fixes in positions.values() if len(fixes) - len(set(fixes)) >= 3)
    assert stuck / len(positions) == pytest.approx(0.09, abs=0.04)


def test_malformed_rate_is_the_share_of_malformed_records() -> None:
    records = run(seed=4, officers=300, start=EVENING, duration_seconds=3600, malformed_rate=0.05)
    after_opening = records[40 + 300 :]
    malformed = sum(1 for record in after_opening if json_object(record) is None)
    assert malformed / len(after_opening) == pytest.approx(0.05, abs=0.005)
    assert all(json_object(record) is not None for record in records[: 40 + 300])


def longest_stay_s(times_ms: np.ndarray, inside: np.ndarray) -> float:
    """The longest span of consecutive fixes of one device inside an area, in seconds."""
    longest = 0.0
    entered_ms: float | None = None
    for time_ms, is_inside in zip(times_ms.tolist(), inside.tolist(), strict=True):
        if is_inside:
            entered_ms = time_ms if entered_ms is None else entered_ms
            longest = max(longest, (time_ms - entered_ms) / 1000)
        else:
            entered_ms = None
    return longest


def test_impact_areas_get_more_officer_time_and_neglected_ones_no_qualifying_visit() -> None:
    options = {"seed": 21, "officers": 300, "start": EVENING, "duration_seconds": 8 * 3600.0,
               "gps_noise_m": (0.0, 0.0)} | NO_FAULTS  # fmt: skip
    neglected = neglected_area_ids(SimulationOptions(**options), areas())  # type: ignore[arg-type]
    dose_s: defaultdict[str, float] = defaultdict(float)
    longest_s: defaultdict[str, float] = defaultdict(float)
    fixes: dict[object, list[tuple[int, float, float]]] = defaultdict(list)
    for _, value in pings(run(**options)):
        fixes[value["issi"]].append((epoch_ms(value["ts"]), value["lon"], value["lat"]))  # type: ignore[arg-type]
    for track in fixes.values():
        times, lons, lats = (np.array(column) for column in zip(*track, strict=True))
        gaps_s = np.minimum(np.diff(times) / 1000, 300.0)
        for area in areas():
            inside = shapely.contains_xy(area.geometry, lons, lats)
            dose_s[area.area_id] += float(gaps_s[inside[:-1]].sum())
            if area.area_id in neglected:
                longest_s[area.area_id] = max(
                    longest_s[area.area_id], longest_stay_s(times, inside)
                )
    impact = [dose_s[area.area_id] for area in areas() if area.kind == "impact"]
    comparison = [dose_s[area.area_id] for area in areas() if area.kind == "comparison"]
    assert np.mean(impact) > 1.5 * np.mean(comparison)
    assert 2 <= len(neglected) <= 3
    assert all(dose_s[area_id] < 0.25 * np.mean(impact) for area_id in neglected)
    assert all(longest_s[area_id] < 600.0 for area_id in neglected)  # drive-throughs only


def test_options_reject_impossible_settings() -> None:
    with pytest.raises(ValueError, match="vehicle_interval_s"):
        SimulationOptions(vehicle_interval_s=(30.0, 10.0))
    with pytest.raises(ValueError, match="malformed_rate"):
        SimulationOptions(malformed_rate=1.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulationOptions(start=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="unknown areas: nowhere"):
        neglected_area_ids(SimulationOptions(neglected_areas=("nowhere",)), areas())


def test_a_pack_without_a_patrol_area_still_simulates() -> None:
    impact_only = [area for area in areas() if area.kind == "impact"][:3]
    records = list(
        generate(
            SimulationOptions(officers=40, duration_seconds=900, neglected_areas=()), impact_only
        )
    )
    assert sum(record.topic == "airwave.pings" for record in records) > 50


def test_an_endless_city_goes_on_past_two_midnights() -> None:
    """The live demo's simulation (``--hours 0``) never ends: two days on, officers still patrol
    and the clock still ticks."""
    start = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    options = SimulationOptions(
        seed=3, officers=12, start=start, duration_seconds=math.inf, **NO_FAULTS
    )
    third_day = datetime(2026, 11, 23, 1, 0, tzinfo=UTC).isoformat()[:13]
    counts: Counter[str] = Counter()
    for record in generate(options, areas()):
        if record.at > 36 * 3600:
            break
        if record.value is not None and orjson.loads(record.value).get("ts", "")[:13] >= third_day:
            counts[record.topic] += 1
    assert counts["clock.ticks"] > 100
    assert counts["airwave.pings"] > 100
