"""Ping batches for tests that drive the presence engine directly, built from Faust-like events
(objects with a ``message`` carrying key, value, partition, offset and timestamp in seconds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.engines.ping_batch import PingBatch


def ping_batch(events: Sequence[Any]) -> PingBatch:
    """The raw messages of ``events``, column by column."""
    messages = [event.message for event in events]
    return PingBatch(
        partitions=[message.partition for message in messages],
        offsets=[message.offset for message in messages],
        keys=[message.key for message in messages],
        values=[message.value for message in messages],
        appended=[message.timestamp for message in messages],
    )
