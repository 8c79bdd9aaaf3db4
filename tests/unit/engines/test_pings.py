"""The pings pipeline: batches go to the presence process in order and are acknowledged once
committed; after a failure, the failed batch and those refused after it are applied again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from streams.engines.pings import PingsPipeline
from streams.engines.presence_process import Done, Failed, PresenceProcess, Reply


@dataclass
class FakePresence:
    """Answers each submitted batch at once: those numbered in ``failing`` fail (the first as
    unavailable, the rest as refused), the others are applied."""

    failing: set[int] = field(default_factory=set)
    submitted: list[int] = field(default_factory=list)
    processed: list[int] = field(default_factory=list)
    outcome = staticmethod(PresenceProcess.outcome)

    async def submit(self, events: Any) -> asyncio.Future[Reply]:
        seq = len(self.submitted) + 1
        self.submitted.append(events[0].message.offset)
        reply: Reply = Done(seq, [], None, 0.0)
        if seq in self.failing:
            refused = seq != min(self.failing)
            reply = Failed(seq, [], not refused, refused, "Redis is down")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        future.set_result(reply)
        return future

    async def process(self, events: Any) -> None:
        self.processed.append(events[0].message.offset)


@dataclass
class Batches:
    """One-message batches whose references and acknowledgements are counted; ``all_acknowledged``
    is set once ``expected`` were."""

    expected: int
    references: dict[int, int] = field(default_factory=dict)
    acknowledged: list[int] = field(default_factory=list)
    all_acknowledged: asyncio.Event = field(default_factory=asyncio.Event)

    def batch(self, offset: int) -> list[Any]:
        message = SimpleNamespace(offset=offset, incref=lambda: self._incref(offset))
        return [SimpleNamespace(message=message, ack=lambda: self._ack(offset))]

    def _incref(self, offset: int) -> None:
        self.references[offset] = self.references.get(offset, 0) + 1

    def _ack(self, offset: int) -> None:
        self.acknowledged.append(offset)
        if len(self.acknowledged) == self.expected:
            self.all_acknowledged.set()


def runtime() -> Any:
    metrics = SimpleNamespace(handled=lambda topic, seconds: None, retry=lambda topic: None)

    async def deadletter(topic: str, rejected: Any) -> None:
        raise AssertionError("nothing is deadlettered")

    return SimpleNamespace(metrics=metrics, deadletter=deadletter)


async def run_until_acknowledged(
    presence: FakePresence, batches: Batches, offsets: list[int]
) -> None:
    """Hand the batches over while the pipeline runs; return once all were acknowledged."""
    pipeline = PingsPipeline(runtime(), presence)  # type: ignore[arg-type]
    applying = asyncio.create_task(pipeline.apply_in_order())
    try:
        for offset in offsets:
            await pipeline.hand_over(batches.batch(offset))
        await asyncio.wait_for(batches.all_acknowledged.wait(), 5)
    finally:
        applying.cancel()


async def test_batches_are_sent_in_order_and_acknowledged_once_committed() -> None:
    presence, batches = FakePresence(), Batches(expected=3)

    await run_until_acknowledged(presence, batches, [10, 20, 30])

    assert presence.submitted == [10, 20, 30]
    assert batches.acknowledged == [10, 20, 30]
    assert batches.references == {10: 1, 20: 1, 30: 1}


async def test_a_failed_batch_and_those_refused_after_it_are_applied_again_in_order() -> None:
    presence, batches = FakePresence(failing={1, 2}), Batches(expected=2)

    await run_until_acknowledged(presence, batches, [10, 20])

    assert presence.submitted == [10, 20]
    assert presence.processed == [10, 20]
    assert batches.acknowledged == [10, 20]
