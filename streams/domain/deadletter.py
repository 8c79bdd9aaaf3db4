"""The ``deadletter`` record: rejected input kept with its reason; nothing is dropped silently.

The deadletter topic is the one place raw input is kept, for repair: ``key_base64`` and
``value_base64`` are the original bytes (an ISSI, a collar number and all), so it needs the
access control of the input topics. Everything else about a record, its Kafka key included,
carries no raw radio or officer id (:func:`deadletter_key`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from streams.domain.publication import pseudonym
from streams.domain.timefmt import format_ts
from streams.domain.validation import Rejection

KEPT_BYTES = 65536


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from on the broker."""

    topic: str
    partition: int
    offset: int


def deadletter_key(key: bytes | None, keyed_by_radio: bool, secret: bytes) -> bytes | None:
    """The Kafka key of the deadletter record of a message keyed ``key``: the key itself, but for
    a topic keyed by a radio (its ISSI) the radio's pseudonym under ``secret`` (the one its visits
    carry), so the records of one radio stay together and name it no more than its visits do."""
    if key is None or not keyed_by_radio:
        return key
    return pseudonym(secret, key).encode("ascii")


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
