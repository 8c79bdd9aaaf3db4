"""The ``deadletter`` record: rejected input kept with its reason; nothing is dropped silently."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from streams.domain.timefmt import format_ts
from streams.domain.validation import Rejection

KEPT_BYTES = 65536


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from on the broker."""

    topic: str
    partition: int
    offset: int


def deadletter_record(
    source: Source, key: bytes | None, value: bytes | None, rejection: Rejection, now: float
) -> dict[str, object]:
    """The ``deadletter/1`` value for a rejected message (original bytes base64, first 64 KiB)."""
    size = 0 if value is None else len(value)
    return {
        "schema": "deadletter/1",
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "key_base64": None if key is None else base64.b64encode(key).decode("ascii"),
        "value_base64": None
        if value is None
        else base64.b64encode(value[:KEPT_BYTES]).decode("ascii"),
        "value_truncated": size > KEPT_BYTES,
        "value_size": size,
        "reason": rejection.reason,
        "detail": rejection.detail[:1000],
        "ts": format_ts(now),
    }
