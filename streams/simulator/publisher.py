"""Delivering simulated records: to a JSONL file, or to a Kafka broker (the I/O side).

The generators in :mod:`streams.simulator.world` are pure; this module is where their records
meet the file system and the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from streams.domain.ticks import decode_tick
from streams.domain.validation import Rejected, TimeLimits
from streams.kafka.producer import Producer, new_producer
from streams.simulator.recording import parse_jsonl_line, record_to_jsonl
from streams.simulator.world import Record

WRITE_BATCH_RECORDS: Final = 4096
FILE_BUFFER_BYTES: Final = 1 << 20
PENDING_SENDS_LIMIT: Final = 10_000
LINGER_MS: Final = 20
MAX_BATCH_BYTES: Final = 1 << 20
HEARTBEAT_SOURCE: Final = "clock.ticks"
HEARTBEAT_TARGETS: Final = ("airwave.pings", "cad.incidents", "stopsearch.events")
"""Topics into each of whose partitions every ``clock.ticks`` record is copied in band, so
that a partition with no record for a while still shows how far its event time has got (the
pings settle on it; the pings wait for CAD and the stop-searches to reach their time)."""


def write_file(records: Iterable[Record], path: Path | str) -> int:
    """Write records to ``path`` as JSONL (replacing it); return how many were written."""
    count = 0
    batch: list[bytes] = []
    with open(path, "wb", buffering=FILE_BUFFER_BYTES) as file:
        for record in records:
            batch.append(record_to_jsonl(record))
            if len(batch) == WRITE_BATCH_RECORDS:
                file.write(b"".join(batch))
                count += len(batch)
                batch.clear()
        file.write(b"".join(batch))
        count += len(batch)
    return count


def read_file(path: Path | str) -> Iterator[Record]:
    """The records of a JSONL file, lazily; a bad line raises ``ValueError`` naming its number.

    Blank lines are skipped; a line without ``at`` is at the line before's (0 for the first).
    """
    at = 0.0
    with open(path, "rb", buffering=FILE_BUFFER_BYTES) as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = parse_jsonl_line(line, at)
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from None
            at = record.at
            yield record


async def publish(
    records: Iterable[Record],
    bootstrap: str,
    *,
    speed: float | None,
    topic_prefix: str = "",
    preroll_s: float = 0.0,
) -> int:
    """Send records to Kafka at ``bootstrap``; return how many were sent.

    With ``speed``, a record is sent once ``(record.at - preroll_s) / speed`` seconds of wall
    time have passed since the start (1.0 = real time), so the first ``preroll_s`` of the
    recording go out at once (a history to start from); with None, as fast as the broker takes
    them. Sends are
    batched (linger) and their acknowledgements are awaited in groups, then flushed at the end,
    so a delivery failure raises here. Every well-formed ``clock.ticks`` record also goes, in
    band, to each partition of the topics in :data:`HEARTBEAT_TARGETS` (counted once); a
    malformed one (a recording's injected fault) only to ``clock.ticks``, where it is
    deadlettered once.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive, or None for as fast as possible")
    producer = new_producer(bootstrap, linger_ms=LINGER_MS, max_batch_size=MAX_BATCH_BYTES)
    try:
        await producer.start()
        return await _send_all(producer, records, speed, topic_prefix, preroll_s)
    finally:
        await producer.stop()


async def _send_all(
    producer: Producer,
    records: Iterable[Record],
    speed: float | None,
    topic_prefix: str,
    preroll_s: float,
) -> int:
    """Pace and send every record, checking acknowledgements every few thousand sends."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    pending: list[asyncio.Future[object]] = []
    heartbeat_partitions: list[tuple[str, int]] | None = None
    count = 0
    for record in records:
        if speed is not None:
            delay = started + (record.at - preroll_s) / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        key = None if record.key is None else record.key.encode("utf-8")
        pending.append(await producer.send(topic_prefix + record.topic, record.value, key=key))
        if record.topic == HEARTBEAT_SOURCE and is_well_formed_tick(key, record.value):
            if heartbeat_partitions is None:
                heartbeat_partitions = await in_band_partitions(producer, topic_prefix)
            for topic, partition in heartbeat_partitions:
                pending.append(
                    await producer.send(topic, record.value, key=key, partition=partition)
                )
        count += 1
        if len(pending) >= PENDING_SENDS_LIMIT:
            await asyncio.gather(*pending)
            pending.clear()
    await producer.flush()
    await asyncio.gather(*pending)
    return count


async def in_band_partitions(producer: Producer, topic_prefix: str) -> list[tuple[str, int]]:
    """Every (topic, partition) of :data:`HEARTBEAT_TARGETS`."""
    found: list[tuple[str, int]] = []
    for name in HEARTBEAT_TARGETS:
        topic = topic_prefix + name
        partitions = await producer.partitions_for(topic)
        found.extend((topic, partition) for partition in sorted(partitions))
    return found


def is_well_formed_tick(key: bytes | None, value: bytes | None) -> bool:
    """Whether a ``clock.ticks`` record is well-formed (judged against no clock)."""
    try:
        decode_tick(key, value, None, TimeLimits())
    except Rejected:
        return False
    return True
