"""On the event clock a pings batch waits until ``cad.incidents`` (and ``stopsearch.events``)
have been read up to its time, so that its fixes are classified with the assignments (and
stop-searches) valid then, whichever topic was read faster; the wait is bounded, and never
happens where there is nothing to wait for."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from streams import topics
from streams.engines.presence import BrokerAnswers, PartitionHandedOverError, PresenceEngine
from streams.engines.stage import limits_for
from streams.settings import Settings

PINGS_AT = 1_795_300_000.0
CAD_PARTITIONS = topics.BY_NAME[topics.INCIDENTS].partitions


class FakeState:
    """Version counters as Redis would return them; CAD progress from a script, one value per
    read (the last one repeats)."""

    def __init__(self, progress: list[float | None]) -> None:
        self.script: Iterator[float | None] = iter(progress)
        self.last: float | None = None
        self.reads = 0
        self.owner: dict[int, int] = {}

    async def owners(self, source: str, partitions: dict[int, int]) -> dict[int, int | None]:
        return {p: self.owner.get(p) for p in partitions}

    def directory_version_keys(self, partitions: int) -> list[str]:
        return [f"key{i}" for i in range(3 + 2 * partitions)]

    async def read_versions(self, keys: list[str]) -> list[bytes | None]:
        self.reads += 1
        self.last = next(self.script, self.last)
        progress = None if self.last is None else repr(self.last).encode()
        return [b"1", b"1", *([b"1"] * CAD_PARTITIONS), *([progress] * CAD_PARTITIONS), b"e1"]


async def answering() -> bool:
    return True


def engine(
    state: FakeState,
    clock: str = "event",
    join_wait_s: float = 5.0,
    broker_answers: BrokerAnswers = answering,
) -> PresenceEngine:
    settings = Settings(clock=clock, join_wait_s=join_wait_s)
    services: Any = SimpleNamespace(settings=settings, state=state, limits=limits_for(settings))
    presence = PresenceEngine(services, broker_answers)
    presence.progress[0] = PINGS_AT
    return presence


BATCH: Any = SimpleNamespace(partitions=[0, 0])


async def test_a_batch_waits_until_cad_has_been_read_up_to_its_time() -> None:
    state = FakeState([PINGS_AT - 30, PINGS_AT - 10, PINGS_AT - 1, PINGS_AT + 5])
    presence = engine(state)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 4


async def test_the_first_batch_of_a_presence_process_waits_for_cad_too() -> None:
    state = FakeState([PINGS_AT - 30, PINGS_AT - 10, PINGS_AT + 5])
    presence = engine(state)  # nothing read back from Redis yet
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 3


async def test_the_wait_gives_up_after_the_join_wait_and_resumes_once_cad_catches_up() -> None:
    state = FakeState([PINGS_AT - 30])
    presence = engine(state, join_wait_s=0.1)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) == PINGS_AT - 30
    reads = state.reads
    assert reads > 2
    presence.progress[0] = PINGS_AT + 60  # the next batch does not wait for a CAD that lags
    assert await presence._await_cad(BATCH) == PINGS_AT - 30
    assert state.reads == reads
    state.script = iter([PINGS_AT, PINGS_AT + 60])  # CAD catches up with the batch that gave up
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert presence.join_gave_up is None


async def test_time_the_broker_did_not_answer_is_not_counted_in_the_join_wait() -> None:
    state = FakeState([PINGS_AT - 30])  # CAD is not read: the broker is paused
    answers = iter([False] * 6)  # then it answers again, and CAD still lags
    asked = 0

    async def broker_answers() -> bool:
        nonlocal asked
        asked += 1
        return next(answers, True)

    presence = engine(state, join_wait_s=0.05, broker_answers=broker_answers)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) == PINGS_AT - 30
    assert asked > 6  # it gave up only after the broker had answered


async def test_a_batch_waits_past_the_join_wait_while_the_broker_does_not_answer() -> None:
    state = FakeState([PINGS_AT - 30] * 5 + [PINGS_AT + 1])  # CAD is read once it continues

    async def paused() -> bool:
        return False

    presence = engine(state, join_wait_s=0.01, broker_answers=paused)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 6


async def test_on_the_wall_clock_nothing_waits() -> None:
    state = FakeState([PINGS_AT - 3600])
    presence = engine(state, clock="wall")
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 1


async def test_a_feed_whose_cad_partitions_have_no_record_does_not_wait() -> None:
    state = FakeState([None])
    presence = engine(state)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 1


SEARCH_PARTITIONS = topics.BY_NAME[topics.STOPSEARCH].partitions


def versions_of(
    cad: bytes | None,
    searched: bytes | None,
    searched_version: bytes | None = b"1",
    applied: bytes | None = b"41",
) -> list[bytes | None]:
    """Every version key as Redis holds them (:meth:`State.directory_version_keys`): the areas'
    and roster's versions, CAD's assignment versions and progress, the stop-searches' versions
    and progress, CAD's offset watermarks (``applied``; the stop-searches' none), the epoch."""
    return [
        b"1",
        b"1",
        *([b"1"] * CAD_PARTITIONS),
        *([cad] * CAD_PARTITIONS),
        *([searched_version] * SEARCH_PARTITIONS),
        *([searched] * SEARCH_PARTITIONS),
        *([applied] * CAD_PARTITIONS),
        *([None] * SEARCH_PARTITIONS),
        b"e1",
    ]


class FakeStateWithStopSearches(FakeState):
    """CAD read well past the pings; the stop-searches' progress from the script."""

    async def read_versions(self, keys: list[str]) -> list[bytes | None]:
        self.reads += 1
        self.last = next(self.script, self.last)
        searched = None if self.last is None else repr(self.last).encode()
        return versions_of(repr(PINGS_AT + 3600).encode(), searched)

    async def stop_searched(self, partitions: list[int]) -> dict[int, dict[str, list[Any]]]:
        return {partition: {} for partition in partitions}


async def test_a_batch_waits_until_the_stop_searches_have_been_read_up_to_its_time() -> None:
    state = FakeStateWithStopSearches([PINGS_AT - 30, PINGS_AT - 1, PINGS_AT])
    presence = engine(state)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 3


async def test_a_stop_search_topic_without_records_is_not_waited_for() -> None:
    state = FakeStateWithStopSearches([None])
    presence = engine(state)
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 1


class FakeStateAfterRebuild(FakeStateWithStopSearches):
    """CAD's progress from the script (None: no record of it applied, no offset watermark
    either), no stop-search at all."""

    async def read_versions(self, keys: list[str]) -> list[bytes | None]:
        self.reads += 1
        self.last = next(self.script, self.last)
        if self.last is None:
            return versions_of(None, None, searched_version=None, applied=None)
        return versions_of(repr(self.last).encode(), None, searched_version=None)


EVERY_CAD_PARTITION = {
    topics.PINGS: [0],
    topics.INCIDENTS: list(range(CAD_PARTITIONS)),
    topics.STOPSEARCH: [],
}


async def test_after_a_rebuild_a_batch_waits_for_cad_partitions_that_hold_records_not_read() -> (
    None
):
    state = FakeStateAfterRebuild([None, None, PINGS_AT - 5, PINGS_AT])
    presence = engine(state)
    presence.with_records = EVERY_CAD_PARTITION  # as the worker saw them at the broker
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 4


async def test_cad_partitions_seen_empty_at_the_broker_are_not_waited_for() -> None:
    state = FakeStateAfterRebuild([None])
    presence = engine(state)
    presence.with_records = {**EVERY_CAD_PARTITION, topics.INCIDENTS: []}
    presence.join_cache.observe(await state.read_versions([]))
    assert await presence._await_cad(BATCH) is None
    assert state.reads == 1


async def test_a_batch_waiting_for_cad_gives_up_once_its_partition_is_let_go_of() -> None:
    state = FakeState([PINGS_AT - 30])  # CAD is not read: a rebalance
    state.owner = {0: 7}
    presence = engine(state, join_wait_s=30.0)
    presence.owners = {0: 7}
    presence.join_cache.observe(await state.read_versions([]))
    state.owner = {0: 8}  # the revoke released it

    with pytest.raises(PartitionHandedOverError):
        await presence._await_cad(BATCH)
    assert state.reads == 1  # at the first poll, not after the join wait
