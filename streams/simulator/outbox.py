"""The simulation's outbox: records queued for delivery in time order, malformed at a rate."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

import numpy as np
import orjson

from streams.simulator.options import Record

MALFORMED_GARBAGE: Final = b"ERROR 502: upstream gateway timeout"


class Outbox:
    """Records waiting for their delivery time, and the clock text of simulation times.

    ``sequence`` orders records (and the incident actions of
    :class:`~streams.simulator.demand.Demand`) queued for the same millisecond: one counter for
    both, taken with :meth:`next_sequence`. Until :attr:`opening` is cleared (the opening
    snapshot), no record is malformed.
    """

    def __init__(
        self, start_ms: int, malformed_rate: float, malformed_rng: np.random.Generator
    ) -> None:
        self.start_ms = start_ms
        self.malformed_rate = malformed_rate
        self.malformed_rng = malformed_rng
        self.queue: list[tuple[int, int, Record]] = []
        self.sequence = 0
        self.opening = True

    def next_sequence(self) -> int:
        """The next tie-breaking number of a queued record or action."""
        self.sequence += 1
        return self.sequence

    def emit(self, at_ms: int, topic: str, key: str, value: dict[str, object] | bytes) -> None:
        """Queue one record for delivery at ``at_ms``, malformed at the configured rate."""
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        malformed_rate = self.malformed_rate
        if malformed_rate and not self.opening and self.malformed_rng.random() < malformed_rate:
            raw = _malformed(raw, int(self.malformed_rng.integers(4)))
        sequence = self.next_sequence()
        heapq.heappush(self.queue, (at_ms, sequence, Record(at_ms / 1000.0, topic, key, raw)))

    def deliver_before(self, limit_ms: int) -> Iterator[Record]:
        """Every queued record due before ``limit_ms``, in order."""
        queue = self.queue
        while queue and queue[0][0] < limit_ms:
            yield heapq.heappop(queue)[2]

    def ts(self, at_ms: int) -> str:
        """The RFC 3339 event time of simulation time ``at_ms``."""
        return format_epoch_ms(self.start_ms + at_ms)


@lru_cache(maxsize=4096)
def _second_text(epoch_second: int) -> str:
    """RFC 3339 text of a whole UTC second, without the fraction and zone."""
    return datetime.fromtimestamp(epoch_second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def format_epoch_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds and ``Z`` for milliseconds since the Unix epoch."""
    second, millisecond = divmod(epoch_ms, 1000)
    return f"{_second_text(second)}.{millisecond:03d}Z"


def _malformed(raw: bytes, variant: int) -> bytes:
    """Bytes that are not a JSON object: truncated, garbage, an array, or trailing junk."""
    if variant == 0:
        return raw[: max(1, len(raw) // 2)]
    if variant == 1:
        return MALFORMED_GARBAGE
    if variant == 2:
        return b"[" + raw + b"]"
    return raw + b"}}"
