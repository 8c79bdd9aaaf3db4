"""A simulated day through the real broker and worker: dose and demand per area against
independent counts over the same records, and a replay that changes nothing in Redis."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest
import shapely

from schemas import assert_valid
from streams.domain.areas import AreaDefinition, live_areas
from streams.domain.scheduling import REEVALUATE_AFTER_S
from streams.engines.coverage import DEMAND_SOURCES
from streams.metrics import Metrics
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record, SimulationOptions, generate
from streams.state import DemandView, State, window_sums
from streams.state.keys import families_of
from tests.helpers.kafka import pings_messages, read_topic, run
from tests.helpers.redis_dump import dump, key_types

pytestmark = pytest.mark.integration

MAX_GAP_S = 300.0
MAX_INTERVAL_S = 120.0
DEMAND_TOPICS = ("cad.incidents", "crimes.recorded", "stopsearch.events")


@pytest.fixture(scope="module")
def day() -> list[Record]:
    """A simulated day (23.5 h: inside every 24 h window) of 40 officers; faults that need a
    policy choice are off (lateness beyond 2 min and far outliers have their own tests)."""
    options = SimulationOptions(
        seed=11,
        officers=40,
        start=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
        duration_seconds=23.5 * 3600,
        outlier_rate=0.0,
        out_of_coverage_rate=0.0,
    )
    return list(generate(options, load_default_area_pack()))


def reference_dose(records: list[Record], areas: list[AreaDefinition]) -> dict[str, float]:
    """Independent reference: per radio, unique fixes in time order; the time between two
    consecutive fixes at most MAX_GAP_S apart counts for every area containing both."""
    fixes: dict[str, dict[float, tuple[float, float]]] = defaultdict(dict)
    for record in records:
        if record.topic == "airwave.pings" and record.value is not None:
            ping = orjson.loads(record.value)
            ts = datetime.fromisoformat(ping["ts"]).timestamp()
            fixes[ping["issi"]][ts] = (ping["lon"], ping["lat"])
    dose: dict[str, float] = defaultdict(float)
    for by_ts in fixes.values():
        times = sorted(by_ts)
        points = shapely.points([by_ts[t] for t in times])
        inside = {area.area_id: shapely.contains(area.geometry, points) for area in areas}
        for i in range(1, len(times)):
            gap = times[i] - times[i - 1]
            if gap > MAX_GAP_S:
                continue
            for area_id, flags in inside.items():
                if flags[i - 1] and flags[i]:
                    dose[area_id] += gap
    return dose


def runs_per_area(records: list[Record], areas: list[AreaDefinition]) -> dict[str, int]:
    """How many separate stays the reference sees per area (bounds the hysteresis difference)."""
    visits: dict[str, int] = defaultdict(int)
    fixes: dict[str, dict[float, tuple[float, float]]] = defaultdict(dict)
    for record in records:
        if record.topic == "airwave.pings" and record.value is not None:
            ping = orjson.loads(record.value)
            fixes[ping["issi"]][datetime.fromisoformat(ping["ts"]).timestamp()] = (
                ping["lon"],
                ping["lat"],
            )
    for by_ts in fixes.values():
        points = shapely.points([by_ts[t] for t in sorted(by_ts)])
        for area in areas:
            flags = shapely.contains(area.geometry, points)
            visits[area.area_id] += int(flags[0]) + int(((~flags[:-1]) & flags[1:]).sum())
    return visits


def engine_dose(redis_url: str, prefix: str) -> dict[str, float]:
    """Officer-seconds per area in the 24 h window, summed over partitions and splits."""
    dose: dict[str, float] = defaultdict(float)
    stored = dump(redis_url, prefix)
    for key, totals in stored.items():
        if key.endswith(":dose:total"):
            outs = stored.get(key.removesuffix(":total") + ":out", {})
            for _, field, seconds in window_sums(
                cast(dict[bytes, bytes], totals), cast(dict[bytes, bytes], outs), [86400]
            ):
                dose[field.split("|", 1)[0]] += seconds
    return dose


REFERENCE_TOPICS = ("areas.definitions", "resources.roster")


def load_reference_data(worker, records: list[Record]) -> None:  # type: ignore[no-untyped-def]
    """Areas and roster go first, as in production, and the worker has them before the feed."""
    settings = worker.settings
    reference = [record for record in records if record.topic in REFERENCE_TOPICS]
    areas = sum(1 for record in reference if record.topic == "areas.definitions")
    run(
        publish(reference, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    )
    deadline = time.monotonic() + 60
    while worker.metric("coverwatch_messages_consumed_total", topic="areas.definitions") < areas:
        assert time.monotonic() < deadline, "areas were not loaded"
        time.sleep(0.2)


def wait_consumed(worker, count: int, timeout_s: float = 240.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while worker.metric("coverwatch_messages_consumed_total", topic="airwave.pings") < count:
        assert worker.process.alive, worker.process.log_tail()
        assert time.monotonic() < deadline, "the worker did not consume the day in time"
        time.sleep(0.5)
    time.sleep(3.0)  # let the clock timer settle what the last batch left open


@pytest.fixture(scope="module")
def processed(event_worker, day):  # type: ignore[no-untyped-def]
    """The day published (areas and roster first) and consumed by the worker."""
    settings = event_worker.settings
    load_reference_data(event_worker, day)
    live = [record for record in day if record.topic not in REFERENCE_TOPICS]
    run(publish(live, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix))
    wait_consumed(event_worker, pings_messages(day))
    return live


def test_every_fix_of_the_day_is_accepted_or_a_duplicate(event_worker, day, processed) -> None:  # type: ignore[no-untyped-def]
    pings = sum(1 for record in day if record.topic == "airwave.pings")
    outcomes = {
        outcome: event_worker.metric("coverwatch_fixes_total", outcome=outcome)
        for outcome in ("accepted", "duplicate", "too_late", "implausible_speed")
    }
    assert outcomes["accepted"] + outcomes["duplicate"] == pings, outcomes
    assert outcomes["duplicate"] > 0, "the simulator re-sends some fixes"


def test_dose_per_area_matches_an_independent_reference(event_worker, day, processed) -> None:  # type: ignore[no-untyped-def]
    settings = event_worker.settings
    areas = live_areas(load_default_area_pack())
    reference = reference_dose(day, areas)
    engine = engine_dose(settings.redis_url, settings.key_prefix)
    stays = runs_per_area(day, areas)
    assert sum(reference.values()) > 3600, "the simulated day should put officers in areas"
    for area in areas:
        tolerance = 2 * MAX_INTERVAL_S * (stays[area.area_id] + 1)
        difference = abs(engine.get(area.area_id, 0.0) - reference.get(area.area_id, 0.0))
        assert difference <= tolerance, (area.area_id, engine.get(area.area_id), reference)


def test_published_visits_follow_the_contract(event_worker, processed) -> None:  # type: ignore[no-untyped-def]
    settings = event_worker.settings
    visits = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("presence.visits"),
            until=lambda values: len(values) >= 200,
            timeout_s=10,
        )
    )
    assert visits
    for visit in visits[:200]:
        assert_valid("presence.visits", visit)


def direct_demand(records: list[Record], areas: list[AreaDefinition]) -> Counter[tuple[str, str]]:
    """Counted straight from the file: incidents opened by final grade, open incidents by grade,
    crimes by category and stop-searches by object, per area (or "outside")."""
    counts: Counter[tuple[str, str]] = Counter()
    incidents: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def places(lat: float, lon: float) -> list[str]:
        point = shapely.Point(lon, lat)
        inside = [a.area_id for a in areas if a.geometry.contains(point)]
        return inside or ["outside"]

    for record in records:
        if record.value is None or record.topic not in DEMAND_TOPICS:
            continue
        value = orjson.loads(record.value)
        if record.topic == "cad.incidents":
            incidents[value["incident_id"]].append(value)
        elif record.topic == "crimes.recorded":
            for area_id in places(value["lat"], value["lon"]):
                counts[(area_id, f"crimes|{value['category']}")] += 1
        else:
            for area_id in places(value["lat"], value["lon"]):
                counts[(area_id, f"stop_searches|{value['object_of_search']}")] += 1
    for events in incidents.values():
        opened = next(e for e in events if e["event"] == "opened")
        graded = sorted((e["ts"], e["grade"]) for e in events if e.get("grade"))
        grade = graded[-1][1] if graded else "ungraded"
        closed = any(e["event"] == "closed" for e in events)
        for area_id in places(opened["lat"], opened["lon"]):
            counts[(area_id, f"incidents_opened|{grade}")] += 1
            if not closed:
                counts[(area_id, f"open|{grade}")] += 1
    return counts


def test_demand_per_area_equals_a_direct_count_of_the_day(event_worker, day, processed) -> None:  # type: ignore[no-untyped-def]
    settings = event_worker.settings

    async def read_view() -> DemandView:
        state = State(settings.redis_url, settings.key_prefix, Metrics([]))
        try:
            return await state.demand_view(DEMAND_SOURCES, 0.0)
        finally:
            await state.close()

    view = run(read_view())
    engine: Counter[tuple[str, str]] = Counter()
    for area_id, totals in view.windows.get(86400, {}).items():
        for measure_label, total in totals.items():
            if not measure_label.startswith("harm|") and round(total) != 0:
                engine[(area_id, measure_label)] = round(total)
    for area_id, grades in view.open_incidents.items():
        for grade, count in grades.items():
            if count:
                engine[(area_id, f"open|{grade}")] = count
    expected = direct_demand(day, live_areas(load_default_area_pack()))
    assert sum(v for k, v in expected.items() if k[1].startswith("incidents_opened")) > 10
    assert engine == expected


def test_replaying_the_day_changes_nothing_in_redis(event_worker, day, processed) -> None:  # type: ignore[no-untyped-def]
    settings = event_worker.settings
    # bookkeeping, not state: offset watermarks, the leader lock, and the change counters that
    # caches of the roster and assignments check (re-published roster entries change an
    # officer's duty and back again, so their counter moves while the entries end as they were)
    skip = (":wm", ":leader", ":roster_version", ":assigned_version")
    # coverage is judged at the slowest pings partition's progress: an area whose facts last
    # changed before the final progress is judged there again within REEVALUATE_AFTER_S
    before = settled(
        lambda: dump(settings.redis_url, settings.key_prefix, skip_suffixes=skip),
        quiet_s=REEVALUATE_AFTER_S + 5.0,
    )
    load_reference_data(event_worker, day)
    run(
        publish(processed, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    )
    wait_consumed(event_worker, 2 * pings_messages(day))
    after = dump(settings.redis_url, settings.key_prefix, skip_suffixes=skip)

    changed = sorted(
        key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
    )
    assert changed == [], {key: (before.get(key), after.get(key)) for key in changed[:3]}


def test_every_key_left_by_the_day_is_in_the_key_layout(event_worker, processed) -> None:  # type: ignore[no-untyped-def]
    settings = event_worker.settings
    types = key_types(settings.redis_url, settings.key_prefix)
    families = families_of(types, settings.key_prefix)
    assert len(types) > 100
    assert sorted(key for key, family in families.items() if family is None) == []
    assert {
        key: (types[key], family.redis_type)
        for key, family in families.items()
        if family is not None and types[key] != family.redis_type
    } == {}


def settled(read: Any, quiet_s: float = 6.0, timeout_s: float = 90.0) -> Any:
    """What ``read`` returns once it has not changed for ``quiet_s`` (the coverage evaluator
    stores its statuses on its own clock, after the pings are consumed)."""
    deadline = time.monotonic() + timeout_s
    last, since = read(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the stored state never settled"
        time.sleep(1.0)
        current = read()
        if current != last:
            last, since = current, time.monotonic()
    return last
