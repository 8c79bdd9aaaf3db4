"""What every agent's batch goes through: taken apart, grouped by partition, guarded (an
unavailable service waited out, a poison message isolated), and a reference table's batch
applied."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
import numpy as np
import numpy.typing as npt

from streams.domain.validation import Rejection, decode_all
from streams.engines.outages import OUTAGES
from streams.engines.runtime import Runtime
from streams.engines.stage import SourceMessage, StageServices, unavailable
from streams.metrics import Metrics
from streams.state import Changes, PartitionCommit, above_watermarks

Events = Sequence[faust.EventT[Any]]
T = TypeVar("T")
B = TypeVar("B")
log = logging.getLogger(__name__)


def raw_messages(events: Events) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) bytes of each event of a batch."""
    return [(event.message.key, event.message.value) for event in events]


def rejected_messages(
    events: Events, rejections: Sequence[tuple[int, Rejection]]
) -> list[tuple[SourceMessage, Rejection]]:
    """The message of each (index, rejection) of a batch, with its rejection."""
    return [(events[index].message, rejection) for index, rejection in rejections]


def append_latencies(events: Events) -> npt.NDArray[np.float64]:
    """Seconds from each message's broker timestamp to now."""
    appended = np.fromiter((event.message.timestamp for event in events), float, len(events))
    return time.time() - appended


def partition_commits(source: str, events: Events) -> dict[int, PartitionCommit]:
    """An empty commit per partition in the batch, up to that partition's last offset."""
    last: dict[int, int] = {}
    for event in events:
        message = event.message
        last[message.partition] = max(last.get(message.partition, -1), message.offset)
    return {p: PartitionCommit(source, p, offset, Changes()) for p, offset in last.items()}


RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


async def until_available(
    runtime: StageServices[Metrics],
    topic: str,
    handle: Callable[[B], Awaitable[None]],
    batch: B,
) -> None:
    """Run ``handle``; while a service it needs is unavailable, wait with backoff and retry."""
    delay = RETRY_FIRST_S
    while True:
        try:
            await handle(batch)
            OUTAGES.available(topic)
            return
        except Exception as error:
            if not unavailable(error):
                raise
            OUTAGES.unavailable(topic, error, "waits and is retried")
            runtime.metrics.retry(topic)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)


async def on_the_clock(
    runtime: StageServices[Metrics], timer: str, step: Callable[[], Awaitable[None]]
) -> None:
    """Run one clock-driven step. While a service it needs is unavailable (or the worker is
    shutting down) the step is skipped with a warning and counted; the next tick tries again,
    instead of the failure stopping the worker."""
    try:
        await step()
    except Exception as error:
        if not unavailable(error):
            raise
        OUTAGES.unavailable(timer, error, "is skipped until it is back")
        runtime.metrics.tick_skipped(timer)
    else:
        OUTAGES.available(timer)


async def guarded(
    runtime: StageServices[Metrics],
    topic: str,
    events: Events,
    handle: Callable[[Events], Awaitable[None]],
) -> None:
    """Run ``handle`` on the batch until it succeeds.

    While Redis (or another service) is unavailable the batch waits and is retried with backoff:
    nothing is acknowledged, lost or deadlettered for it. Any other failure is the data's or the
    code's: the batch is retried message by message so that only the message that fails goes to
    ``deadletter`` (as ``internal_error``) and the agent goes on.
    """
    started = time.perf_counter()
    try:
        await until_available(runtime, topic, handle, events)
        runtime.metrics.handled(topic, time.perf_counter() - started)
    except Exception:
        log.exception(
            "batch of %d from %s failed; isolating the failing messages", len(events), topic
        )
    else:
        return
    for event in events:
        try:
            await until_available(runtime, topic, handle, [event])
        except Exception as error:
            log.exception("message %s failed", event.message.offset)
            rejection = Rejection("internal_error", f"{type(error).__name__}: {error}")
            await runtime.deadletter(topic, [(event.message, rejection)])


async def unapplied(runtime: Runtime, topic: str, events: Events) -> list[int]:
    """Indices of the events not applied before (:func:`~streams.state.above_watermarks`, with
    the watermarks stored in Redis)."""
    positions = [(event.message.partition, event.message.offset) for event in events]
    watermarks = await runtime.state.watermarks(topic, {partition for partition, _ in positions})
    return above_watermarks(positions, watermarks)


async def apply_table_batch(
    runtime: Runtime,
    topic: str,
    events: Events,
    decode: Callable[[bytes | None, bytes | None], T],
    change: Callable[[Changes, T], None],
    *,
    decode_replayed: bool = False,
) -> list[T]:
    """Decode a batch, deadletter the rejects, apply ``change`` for each accepted value to its
    partition's changes, commit them with the watermarks, and count. Returns the values.

    Messages applied before are skipped (:func:`unapplied`), unless ``decode_replayed`` (their
    values are then returned too; the commit still skips them, and a replayed message refused
    is not deadlettered again).
    """
    commits = partition_commits(topic, events)
    fresh = await unapplied(runtime, topic, events)
    wanted = list(range(len(events))) if decode_replayed else fresh
    accepted, rejections = decode_all(raw_messages([events[i] for i in wanted]), decode)
    for index, value in accepted:
        change(commits[events[wanted[index]].message.partition].changes, value)
    unseen = set(fresh)
    await runtime.deadletter(
        topic,
        [
            (events[wanted[index]].message, rejection)
            for index, rejection in rejections
            if wanted[index] in unseen
        ],
    )  # delivered before the commit
    await runtime.state.commit(list(commits.values()))
    runtime.metrics.consumed(topic, len(events))
    runtime.metrics.latencies(topic, append_latencies(events))
    return [value for _, value in accepted]
