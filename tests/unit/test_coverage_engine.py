"""Which areas the coverage evaluator reads as touched, when an area keeps its fingerprint
without its facts being built again, and which snapshots it publishes."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from shapely.geometry import box

from streams import topics
from streams.domain.areas import AreaDefinition
from streams.domain.scheduling import SNAPSHOT_REFRESH_S, UNTOUCHED_FINGERPRINT, facts_fingerprint
from streams.domain.snapshots import AreaFacts, snapshot_value
from streams.engines.coverage import CoverageEngine
from streams.engines.coverage.reading import AreasRead, Figures, area_facts, area_fingerprint
from streams.engines.coverage.views import AreaView, SnapshotLog
from streams.engines.runtime import Runtime
from streams.settings import Settings
from streams.state import DemandView, PresenceView

NOON = 1_795_176_000.0  # 2026-11-20T12:00:00Z

PRESENCE_REPLIES: dict[str, tuple[Any, ...]] = {
    "present": ({b"ia-01|1001": b"pcso|foot"}, {}, {}, None, {}, []),
    "dose_window": (
        {},
        {b"900|ia-01|pcso|foot|proactive": b"60"},
        {},
        None,
        {b"ia-01|pcso|foot|proactive": b"90"},
        [],
    ),
    "last_qualifying": ({}, {}, {b"ia-01": b"1795176000"}, None, {}, []),
    "dose_total": ({}, {}, {}, None, {b"ia-01|pcso|foot|proactive": b"60"}, []),
    "visit": ({}, {}, {}, None, {}, [{b"ia-01|n": b"1", b"ia-01|d|pcso|foot|proactive": b"0"}]),
}
DEMAND_REPLIES: dict[str, tuple[Any, ...]] = {
    "demand_window": (
        {b"ia-01|crimes|burglary": b"1"},
        {b"3600|ia-01|crimes|burglary": b"1"},
        {},
        [],
    ),
    "open_incident": ({}, {}, {b"ia-01|immediate": b"1"}, []),
    "response_sample": ({}, {}, {}, [(b"inc-1|ia-01|300", 1795176000.0)]),
}


@pytest.mark.parametrize("kind", sorted(PRESENCE_REPLIES))
def test_an_area_with_any_presence_state_is_touched(kind: str) -> None:
    presence = PresenceView()
    presence.add(*PRESENCE_REPLIES[kind])
    assert presence.areas() == {"ia-01"}


@pytest.mark.parametrize("kind", sorted(DEMAND_REPLIES))
def test_an_area_with_any_demand_state_is_touched(kind: str) -> None:
    demand = DemandView()
    demand.add(*DEMAND_REPLIES[kind])
    assert demand.areas() == {"ia-01"}


def test_an_area_without_any_state_has_the_untouched_fingerprint() -> None:
    presence, demand = PresenceView(), DemandView()
    for replies in PRESENCE_REPLIES.values():
        presence.add(*replies)
    for replies in DEMAND_REPLIES.values():
        demand.add(*replies)
    quiet = AreaDefinition("ia-09", "Market Square", "impact", box(-1.9, 52.48, -1.89, 52.49))
    assert "ia-09" not in presence.areas() | demand.areas()
    assert facts_fingerprint(area_facts(quiet, presence, demand)) == UNTOUCHED_FINGERPRINT
    assert facts_fingerprint(area_facts(replace(quiet, area_id="ia-01"), presence, demand)) != (
        UNTOUCHED_FINGERPRINT
    )


def areas_read(present: dict[str, dict[str, str]], figures: Figures) -> AreasRead:
    presence = replace(figures.presence, present=present)
    touched = presence.areas() | figures.demand.areas()
    return AreasRead("2026-11-20", presence, figures.demand, {}, {}, 1, touched, figures)


def test_an_area_whose_presence_is_as_before_keeps_its_fingerprint_without_building_facts() -> None:
    area = AreaDefinition("ia-01", "Station", "impact", box(-1.9, 52.48, -1.89, 52.49))
    dose = {900: {"ia-01": {"response|foot|proactive": 120.0}}}
    figures = Figures(PresenceView(dose_windows=dose), DemandView(), "2026-11-20", 0.0)
    here = {"ia-01": {"2001001": "response|foot"}}

    facts, first = area_fingerprint(areas_read(here, figures), area, None)
    same_facts, same = area_fingerprint(
        areas_read({"ia-01": {"2001001": "response|foot"}}, figures), area, first
    )
    moved_facts, moved = area_fingerprint(areas_read({}, figures), area, same)
    new_figures = Figures(PresenceView(), DemandView(), "2026-11-20", 10.0)
    gone_facts, gone = area_fingerprint(areas_read({}, new_figures), area, moved)

    assert facts is not None
    assert first[2] == facts_fingerprint(facts)
    assert (same_facts, same) == (None, first)
    assert moved_facts is not None
    assert moved[2] == facts_fingerprint(moved_facts) != first[2]
    assert gone_facts is None  # no state at all: untouched
    assert gone[2] == UNTOUCHED_FINGERPRINT


def area_view_at(area: AreaDefinition, now: float) -> AreaView:
    return AreaView(AreaFacts(area), None, snapshot_value(AreaFacts(area), None, None, now))


async def test_snapshots_are_due_when_first_seen_and_kept_only_once_published() -> None:
    area = AreaDefinition("ia-01", "Station", "impact", box(-1.9, 52.48, -1.89, 52.49))
    log = SnapshotLog()
    first = {"ia-01": area_view_at(area, NOON)}

    due = await log.due(first, 100.0)
    assert list(due.outgoing) == ["ia-01"]
    assert orjson.loads(due.outgoing["ia-01"]) == first["ia-01"].snapshot
    assert due.changed == [due.outgoing["ia-01"]]
    assert due.messages() == [(b"ia-01", due.outgoing["ia-01"])]
    assert list((await log.due(first, 101.0)).outgoing) == ["ia-01"]  # not published yet

    log.published(due)
    assert (await log.due(first, 101.0)).outgoing == {}
    later = {"ia-01": area_view_at(area, NOON + 2)}  # a new view, the same content
    assert (await log.due(later, 102.0)).outgoing == {}
    refreshed = await log.due(later, 100.0 + SNAPSHOT_REFRESH_S)
    assert list(refreshed.outgoing) == ["ia-01"]
    assert refreshed.changed == []  # a refresh goes to the topic, not to the live pages


Progress = list[float | None]


class StoreOfJudging:
    """The reads ``CoverageEngine._instants`` makes of the store, with a settable last instant
    judged (every input an hour past noon)."""

    def __init__(self) -> None:
        self.judged: float | None = None

    async def pings_progress(
        self, partitions: int
    ) -> tuple[list[float | None], list[float | None]]:
        return [NOON + 3600.0] * partitions, [NOON] * partitions

    async def cad_progress(self, partitions: int) -> list[float | None]:
        return [None] * partitions

    async def judged_through(self) -> float | None:
        return self.judged


class NotLooked:
    """The broker not looked at: which partitions hold records is not known."""

    async def current(self, after: float | None = None) -> None:
        return None


async def test_a_store_that_lost_judged_instants_makes_the_leader_store_every_view_again() -> None:
    store = StoreOfJudging()
    runtime = SimpleNamespace(
        settings=Settings(clock="event"), state=store, records_seen=NotLooked()
    )
    engine = CoverageEngine(cast(Runtime, runtime))
    area = AreaDefinition("ia-01", "Station", "impact", box(-1.9, 52.48, -1.89, 52.49))
    engine._snapshots._last["ia-01"] = (b"published", NOON, area_view_at(area, NOON))
    engine._judged_stored = store.judged = NOON + 1800.0
    await engine._instants(NOON + 3600.0)
    assert engine._snapshots._last, "the store kept what was judged: nothing is forgotten"

    store.judged = NOON + 1740.0  # Redis came back from its AOF without its last writes
    instants = await engine._instants(NOON + 3600.0)
    assert not engine._snapshots._last, "every snapshot is stored and published again"
    assert instants[0] == NOON + 1800.0, "judging resumes after the instant the store kept"


class StoreAfterRebuild(StoreOfJudging):
    """Pings partition 1 holds records none of which has been applied yet (a rebuild's catch-up
    read the others first); CAD has no record."""

    async def pings_progress(self, partitions: int) -> tuple[Progress, Progress]:
        progress: Progress = [NOON + 3600.0] * partitions
        progress[1] = None
        return progress, [NOON, None, *[NOON] * (partitions - 2)]

    async def watermarks(self, source: str, partitions: range) -> dict[int, int]:
        assert source == topics.PINGS
        return {p: -1 if p == 1 else 99 for p in partitions}


class Seen:
    """The partitions seen holding records at the broker."""

    def __init__(self, pings: list[int]) -> None:
        self.pings = pings

    async def current(self, after: float | None = None) -> dict[str, list[int]]:
        return {topics.PINGS: self.pings, topics.INCIDENTS: [], topics.STOPSEARCH: []}


@pytest.mark.parametrize(
    ("with_records", "judged"), [([0, 1, 2, 3], False), ([0, 2, 3], True)], ids=["unread", "empty"]
)
async def test_coverage_is_not_judged_while_a_pings_partition_holding_records_is_unread(
    with_records: list[int], judged: bool
) -> None:
    runtime = SimpleNamespace(
        settings=Settings(clock="event"), state=StoreAfterRebuild(), records_seen=Seen(with_records)
    )
    engine = CoverageEngine(cast(Runtime, runtime))
    assert bool(await engine._instants(NOON + 3600.0)) is judged
