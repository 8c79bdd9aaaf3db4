"""``clock.ticks``: heartbeats that advance the event clock when traffic is thin."""

from __future__ import annotations

from typing import Final

from streams.domain.validation import (
    TimeLimits,
    check_fields,
    parse_object,
    parse_timestamp,
    require_id,
)

_FIELDS: Final = frozenset({"schema", "source", "ts"})


def decode_tick(key: bytes | None, raw: bytes | None, limits: TimeLimits) -> float:
    """The time a tick carries, in seconds since the Unix epoch."""
    value = parse_object(raw, "clock.ticks", limits)
    check_fields(value, _FIELDS)
    require_id(value, "source")
    return parse_timestamp(value.get("ts"), "ts")
