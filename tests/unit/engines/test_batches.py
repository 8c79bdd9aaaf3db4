"""How an agent treats a failing batch: wait for a service, isolate a poison message."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, ProducerClosed
from faust.exceptions import ProducerSendError
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.domain.validation import Rejected, Rejection
from streams.engines import batches


@dataclass
class Recorder:
    """Stands in for the runtime: records what the guard deadletters, retries and handles."""

    deadlettered: list[tuple[int, Rejection]] = field(default_factory=list)
    """(offset, rejection) of each deadlettered message."""
    retries: int = 0
    handled: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> Any:
        return SimpleNamespace(
            retry=self._retry, handled=self._handled, tick_skipped=self.skipped.append
        )

    def _retry(self, topic: str) -> None:
        self.retries += 1

    def _handled(self, topic: str, seconds: float) -> None:
        assert seconds >= 0
        self.handled += 1

    async def deadletter(self, topic: str, rejected: Any) -> None:
        self.deadlettered.extend((message.offset, rejection) for message, rejection in rejected)


def events(count: int) -> list[Any]:
    return [SimpleNamespace(message=SimpleNamespace(offset=i)) for i in range(count)]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "RETRY_FIRST_S", 0.0)


async def test_a_poison_message_alone_is_deadlettered_and_the_rest_is_processed() -> None:
    runtime = Recorder()
    processed: list[int] = []

    async def handle(batch: Any) -> None:
        if any(event.message.offset == 2 for event in batch):
            raise KeyError("boom")
        processed.extend(event.message.offset for event in batch)

    await batches.guarded(runtime, "cad.incidents", events(4), handle)  # type: ignore[arg-type]

    assert processed == [0, 1, 3]
    assert [(i, r.reason) for i, r in runtime.deadlettered] == [(2, "internal_error")]
    assert "KeyError" in runtime.deadlettered[0][1].detail


def sending_failed(cause: Exception) -> ProducerSendError:
    """What the app's producer raises when the client fails to send (Faust wraps the cause)."""
    error = ProducerSendError(f"Error while sending: {cause!r}")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "failure",
    [
        RedisConnectionError("connection refused"),
        sending_failed(KafkaConnectionError("no broker")),
    ],
    ids=["redis", "broker"],
)
async def test_an_unavailable_service_is_waited_out_and_nothing_is_deadlettered(
    failure: Exception,
) -> None:
    runtime = Recorder()
    calls: list[int] = []

    async def handle(batch: Any) -> None:
        calls.append(len(batch))
        if len(calls) < 3:
            raise failure

    await batches.guarded(runtime, "airwave.pings", events(5), handle)  # type: ignore[arg-type]

    assert calls == [5, 5, 5]
    assert runtime.retries == 2
    assert runtime.handled == 1
    assert runtime.deadlettered == []


async def test_a_record_the_broker_refuses_is_not_waited_for_but_isolated() -> None:
    runtime = Recorder()

    async def handle(batch: Any) -> None:
        if any(event.message.offset == 1 for event in batch):
            raise sending_failed(MessageSizeTooLargeError())

    await batches.guarded(runtime, "cad.incidents", events(3), handle)  # type: ignore[arg-type]

    assert runtime.retries == 0
    assert [(i, r.reason) for i, r in runtime.deadlettered] == [(1, "internal_error")]


@pytest.mark.parametrize(
    "failure",
    [
        RedisConnectionError("connection refused"),
        sending_failed(KafkaConnectionError("no broker")),
        sending_failed(ProducerClosed()),
    ],
    ids=["redis", "broker", "shutting down"],
)
async def test_a_clock_step_is_skipped_and_counted_while_a_service_is_unavailable(
    failure: Exception,
) -> None:
    runtime = Recorder()

    async def step() -> None:
        raise failure

    await batches.on_the_clock(runtime, "evaluate_coverage", step)  # type: ignore[arg-type]

    assert runtime.skipped == ["evaluate_coverage"]


async def test_a_clock_step_failing_for_another_reason_still_fails() -> None:
    runtime = Recorder()

    async def step() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await batches.on_the_clock(runtime, "settle_presence", step)  # type: ignore[arg-type]
    assert runtime.skipped == []


@dataclass
class TableState:
    """Stands in for Redis: the stored watermark of partition 0 and the commits made."""

    watermark: int
    committed: list[Any] = field(default_factory=list)

    async def watermarks(self, source: str, partitions: Any) -> dict[int, int]:
        return {0: self.watermark}

    async def commit(self, commits: Any) -> list[bool]:
        self.committed.extend(commits)
        return [True] * len(commits)


def table_events(values: list[bytes]) -> list[Any]:
    return [
        SimpleNamespace(
            message=SimpleNamespace(key=None, value=value, partition=0, offset=i, timestamp=0.0)
        )
        for i, value in enumerate(values)
    ]


async def test_a_replayed_table_message_is_decoded_again_but_not_deadlettered_again() -> None:
    recorder = Recorder()
    runtime = SimpleNamespace(
        state=TableState(watermark=1),
        deadletter=recorder.deadletter,
        metrics=SimpleNamespace(consumed=lambda topic, count: None, latencies=lambda *_: None),
    )

    def decode(key: bytes | None, raw: bytes | None) -> int:
        if raw == b"bad":
            raise Rejected("invalid_schema", "bad")
        return int(raw or b"0")

    values = await batches.apply_table_batch(
        runtime,  # type: ignore[arg-type]
        "clock.ticks",
        table_events([b"1", b"bad", b"3", b"bad"]),
        decode,
        lambda changes, value: None,
        decode_replayed=True,
    )

    assert values == [1, 3]
    assert [(offset, r.reason) for offset, r in recorder.deadlettered] == [(3, "invalid_schema")]
