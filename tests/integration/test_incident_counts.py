"""Open incidents by area and grade through the demand engine and a real redis-server: the counts
are those of the stored incident states, whatever the order, duplication or batching of the
events, however the areas change meanwhile, and never below zero."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.agents  # noqa: F401  (before streams.engines.demand: the two import each other)
from streams import topics
from streams.app import create_app
from streams.devtools.stack.embedded import Services
from streams.domain.demand import open_incident_keys
from streams.domain.incidents import (
    GRADES,
    INCIDENT_EVENT_KINDS,
    Grade,
    IncidentEvent,
    IncidentState,
    apply_incident,
    incident_from_dict,
    incident_to_dict,
)
from streams.engines.demand import DemandEngine
from streams.engines.runtime import Runtime
from streams.settings import Settings
from streams.state import Changes, PartitionCommit

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC).timestamp()
PARTITIONS = topics.BY_NAME[topics.INCIDENTS].partitions
INSIDE_A = (52.4805, -1.8895)
"""A place inside areas ``ia-a`` and ``ia-b``."""
FAR = (52.60, -1.70)
"""A place outside every area."""


def square(area_id: str, lat: float, lon: float, size: float = 0.01) -> bytes:
    """An Impact Area: a square with its south-west corner at (``lat``, ``lon``)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return orjson.dumps(
        {
            "type": "Feature",
            "id": area_id,
            "properties": {"name": area_id, "kind": "impact"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    )


AREA_A = square("ia-a", 52.475, -1.895)
AREA_B = square("ia-b", 52.478, -1.892)


def incident(
    incident_id: str,
    kind: str,
    at_s: float,
    grade: str | None = None,
    place: tuple[float, float] = INSIDE_A,
) -> dict[str, object]:
    """A ``cad.incidents`` value ``at_s`` s after T0 (opened ones carry place and category)."""
    value: dict[str, object] = {
        "incident_id": incident_id,
        "event": kind,
        "ts": datetime.fromtimestamp(T0 + at_s, UTC).isoformat(),
    }
    if grade is not None:
        value["grade"] = grade
    if kind == "opened":
        value.update(category="assault", lat=place[0], lon=place[1])
    if kind in ("assigned", "arrived"):
        value["callsigns"] = ["B21"]
    return value


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp: float = 0.0


@dataclass(frozen=True)
class Event:
    message: Message


@dataclass
class Feed:
    """Delivers ``cad.incidents`` values to the engine at the next offsets of their partition
    (an incident's partition is fixed by its id, as the key partitioner does)."""

    engine: DemandEngine
    offsets: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def partition_of(incident_id: str) -> int:
        return sum(incident_id.encode()) % PARTITIONS

    def events(self, values: Sequence[dict[str, object]]) -> list[Event]:
        events = []
        for value in values:
            key = str(value["incident_id"]).encode()
            partition = self.partition_of(key.decode())
            offset = self.offsets.get(partition, -1) + 1
            self.offsets[partition] = offset
            events.append(Event(Message(key, orjson.dumps(value), partition, offset)))
        return events

    async def deliver(self, values: Sequence[dict[str, object]]) -> None:
        await self.engine.process_incidents(self.events(values))  # type: ignore[arg-type]


def engine_for(redis_url: str, key_prefix: str) -> DemandEngine:
    """A demand engine on the event clock whose output records go nowhere (no broker)."""
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, clock="event")
    runtime = Runtime.create(settings, create_app(settings))

    async def sent(topic: str, key: bytes | None, value: bytes) -> Awaitable[object]:
        async def delivered() -> None:
            return None

        return delivered()

    runtime.send = sent
    return DemandEngine(runtime)


@pytest.fixture
async def engines(stack: Services, unique: str) -> AsyncIterator[Callable[[], DemandEngine]]:
    """Makes demand engines on one key prefix (workers sharing one Redis); closes them after."""
    made: list[DemandEngine] = []

    def make() -> DemandEngine:
        made.append(engine_for(stack.redis_url, unique))
        return made[-1]

    yield make
    for engine in made:
        await engine.runtime.state.close()


@pytest.fixture
def engine(engines: Callable[[], DemandEngine]) -> DemandEngine:
    return engines()


async def store_areas(runtime: Runtime, areas: dict[str, bytes | None]) -> None:
    """Store area definitions (None removes one), as the areas agent does."""
    state, changes = runtime.state, Changes()
    for area_id, feature in areas.items():
        if feature is None:
            changes.hdel_versioned(state.area_features_key, area_id, state.area_version_key)
        else:
            changes.hset_versioned(
                state.area_features_key, area_id, feature.decode(), state.area_version_key
            )
    await state.commit([PartitionCommit("areas.definitions", 0, None, changes)])


async def open_counts(runtime: Runtime) -> dict[tuple[str, str], int]:
    """Open incidents by (area, grade) as the API and metrics read them (merged partitions)."""
    view = await runtime.state.demand_view({topics.INCIDENTS: PARTITIONS}, 0.0, figures=False)
    return {
        (area_id, grade): count
        for area_id, by_grade in view.open_incidents.items()
        for grade, count in by_grade.items()
    }


async def test_an_incident_opened_before_its_area_existed_closes_without_a_negative_count(
    engine: DemandEngine,
) -> None:
    feed = Feed(engine)
    await feed.deliver([incident("INC-1", "opened", 0, "immediate")])
    assert await open_counts(engine.runtime) == {("outside", "immediate"): 1}

    await store_areas(engine.runtime, {"ia-a": AREA_A})
    await feed.deliver([incident("INC-1", "graded", 60, "scheduled")])
    assert await open_counts(engine.runtime) == {("outside", "scheduled"): 1}  # where it was
    await feed.deliver([incident("INC-1", "closed", 3600)])

    assert await open_counts(engine.runtime) == {}


async def test_a_batch_prepared_from_a_read_older_than_another_commit_counts_once(
    engines: Callable[[], DemandEngine],
) -> None:
    """Two workers holding one partition for a moment (a rebalance): the second read the stored
    state before the first committed, and commits the same events and one more."""
    first, second = engines(), engines()
    values = [incident("INC-1", "opened", 0, "immediate"), incident("INC-1", "assigned", 60)]
    events = Feed(first).events(values)
    read_states = second.runtime.state.incident_states

    async def read_then_let_the_first_commit(*args: Any) -> Any:
        found = await read_states(*args)
        await first.process_incidents(events[:1])  # type: ignore[arg-type]
        return found

    second.runtime.state.incident_states = read_then_let_the_first_commit  # type: ignore[method-assign,assignment]
    await second.process_incidents(events)  # type: ignore[arg-type]

    assert await open_counts(first.runtime) == {("outside", "immediate"): 1}


async def stored_open_keys(
    runtime: Runtime, incident_ids: Sequence[str]
) -> Counter[tuple[str, str]]:
    """The open counts the stored incident states say there should be."""
    counts: Counter[tuple[str, str]] = Counter()
    for incident_id in incident_ids:
        slot = runtime.state.slot(topics.INCIDENTS, Feed.partition_of(incident_id))
        blob = await runtime.state.redis.hget(slot + ":incidents", incident_id)
        if blob is not None:
            counts.update(open_incident_keys(incident_from_dict(orjson.loads(blob))))
    return counts


INCIDENT_IDS = ("INC-1", "INC-2", "INC-3")  # partitions 0, 1 and 0


@st.composite
def incident_values(draw: st.DrawFn) -> dict[str, object]:
    """Any event of one of a few incidents, possible or not given the others."""
    kind = draw(st.sampled_from(INCIDENT_EVENT_KINDS))
    grade = (
        draw(st.sampled_from(GRADES))
        if kind == "graded"
        else draw(st.none() | st.sampled_from(GRADES))
    )
    return incident(
        draw(st.sampled_from(INCIDENT_IDS)),
        kind,
        60 * draw(st.integers(0, 5)),
        grade,
        draw(st.sampled_from([INSIDE_A, FAR])),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), values=st.lists(incident_values(), min_size=1, max_size=12))
async def test_open_counts_follow_the_stored_states_whatever_the_order_repeats_batches_and_areas(
    stack: Services, data: st.DataObject, values: list[dict[str, object]]
) -> None:
    delivered = data.draw(st.permutations(values))
    for again in data.draw(st.lists(st.sampled_from(values), max_size=4)):
        delivered.insert(data.draw(st.integers(delivered.index(again) + 1, len(delivered))), again)
    cuts = sorted(
        data.draw(st.sets(st.integers(1, len(delivered) - 1), max_size=4))
        if len(delivered) > 1
        else set()
    )
    batches = [delivered[i:j] for i, j in zip([0, *cuts], [*cuts, len(delivered)], strict=True)]
    engine = engine_for(stack.redis_url, f"p{uuid.uuid4().hex[:10]}")
    try:
        feed = Feed(engine)
        for batch in batches:
            await store_areas(
                engine.runtime,
                {
                    "ia-a": AREA_A if data.draw(st.booleans(), label="ia-a stored") else None,
                    "ia-b": AREA_B if data.draw(st.booleans(), label="ia-b stored") else None,
                },
            )
            await feed.deliver(batch)
            counts = await open_counts(engine.runtime)
            assert all(count > 0 for count in counts.values()), counts
            assert counts == await stored_open_keys(engine.runtime, INCIDENT_IDS)
    finally:
        await engine.runtime.state.close()


async def test_open_counts_an_earlier_version_kept_are_rebuilt_from_the_stored_states(
    engine: DemandEngine,
) -> None:
    """Counts kept by adding facts may have drifted below zero; a partition's first batch
    rebuilds them from its stored incident states (stored without their areas: located now)."""
    runtime = engine.runtime
    await store_areas(runtime, {"ia-a": AREA_A})
    slot = runtime.state.slot(topics.INCIDENTS, 0)  # INC-1, INC-3 and INC-5

    def opened(incident_id: str, grade: Grade, place: tuple[float, float]) -> IncidentEvent:
        return IncidentEvent(incident_id, "opened", T0, grade, "assault", *place)

    legacy = {
        "INC-1": [opened("INC-1", "immediate", INSIDE_A)],
        "INC-3": [opened("INC-3", "scheduled", FAR)],
        "INC-5": [
            opened("INC-5", "scheduled", INSIDE_A),
            IncidentEvent("INC-5", "closed", T0 + 600),
        ],
    }
    for incident_id, history in legacy.items():
        state: IncidentState | None = None
        for one in history:
            state, _ = apply_incident(state, one)
        assert state is not None
        stored = incident_to_dict(state)
        del stored["areas"]
        await runtime.state.redis.hset(slot + ":incidents", incident_id, orjson.dumps(stored))
    await runtime.state.redis.hset(
        slot + ":open", mapping={"ia-a|immediate": -2, "ia-a|scheduled": -3, "outside|priority": 4}
    )

    feed = Feed(engine)
    await feed.deliver([incident("INC-1", "graded", 60, "priority")])

    assert await open_counts(runtime) == {("ia-a", "priority"): 1, ("outside", "scheduled"): 1}
    await runtime.state.redis.hset(slot + ":open", "ia-a|resolution", 7)  # a rebuild removes it
    await feed.deliver([incident("INC-3", "closed", 900)])
    assert await open_counts(runtime) == {("ia-a", "priority"): 1, ("ia-a", "resolution"): 7}


async def test_a_crime_linked_to_an_incident_counts_in_the_incidents_area(
    engine: DemandEngine,
) -> None:
    """A crime recorded away from every area but linked to an incident in ``ia-a`` counts in
    ``ia-a``; one linked to an incident not read yet, and one linked to none, count where they
    were recorded (outside)."""
    await store_areas(engine.runtime, {"ia-a": AREA_A})
    await Feed(engine).deliver([incident("INC-L", "opened", 0, "priority")])

    def crime(crime_id: str, incident_id: str | None) -> Event:
        value: dict[str, object] = {
            "schema": "crimes.recorded/1",
            "crime_id": crime_id,
            "ts": datetime.fromtimestamp(T0 + 600, UTC).isoformat(),
            "lat": FAR[0],
            "lon": FAR[1],
            "category": "burglary",
        }
        if incident_id is not None:
            value["incident_id"] = incident_id
        offset = int(crime_id.rsplit("-", 1)[1])
        return Event(Message(crime_id.encode(), orjson.dumps(value), 0, offset))

    crimes = [crime("CR-0", "INC-L"), crime("CR-1", "INC-LATER"), crime("CR-2", None)]
    await engine.process_crimes(crimes)  # type: ignore[arg-type]

    view = await engine.runtime.state.demand_view({topics.CRIMES: 1}, 0.0)
    hour = view.windows[3600]
    assert hour["ia-a"]["crimes|burglary"] == 1
    assert hour["outside"]["crimes|burglary"] == 2
