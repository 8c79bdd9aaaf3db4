"""A partition counts as empty for a batch only when the broker answered so after the batch was
fetched: a first CAD record sent before the pings is then never missed."""

from __future__ import annotations

import time

from aiokafka import TopicPartition

from streams import topics
from streams.engines.records_seen import ANSWERED_AFTER_S, RecordsSeen
from streams.settings import Settings

CAD = Settings().topic(topics.INCIDENTS)


class ScriptedProbe:
    """The probe's answers, one per look: (found, empty partition -> time it was answered)."""

    def __init__(self, answers: list[tuple[set[TopicPartition], dict[TopicPartition, float]]]):
        self.answers = answers
        self.looks = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def look(self) -> tuple[set[TopicPartition], dict[TopicPartition, float | None]]:
        found, empty = self.answers[min(self.looks, len(self.answers) - 1)]
        self.looks += 1
        return found, dict(empty)


async def test_an_empty_answer_from_before_the_batch_waits_for_a_newer_one() -> None:
    fetched = time.time()
    late = fetched + ANSWERED_AFTER_S + 0.01
    seen = RecordsSeen(Settings())
    probe = ScriptedProbe(
        [
            (set(), {TopicPartition(CAD, 0): fetched - 1.0, TopicPartition(CAD, 1): fetched - 1.0}),
            ({TopicPartition(CAD, 0)}, {TopicPartition(CAD, 1): late}),
        ]
    )
    seen.probe = probe  # type: ignore[assignment]

    found = await seen.current(after=fetched)

    assert found is not None
    assert found[topics.INCIDENTS] == [0]  # its first record arrived with the pings
    assert probe.looks == 2


async def test_an_answer_given_after_the_batch_is_used_at_once() -> None:
    fetched = time.time() - 1.0
    seen = RecordsSeen(Settings())
    probe = ScriptedProbe([(set(), {TopicPartition(CAD, 1): time.time()})])
    seen.probe = probe  # type: ignore[assignment]

    found = await seen.current(after=fetched)

    assert found is not None
    assert found[topics.INCIDENTS] == []
    assert probe.looks == 1
