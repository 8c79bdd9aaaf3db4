"""``clock.ticks``: heartbeats that advance the event clock when traffic is thin.

The same record may also travel *in band*, in a partition of another input topic (the simulator
and ``coverwatch publish`` copy every tick into each ``airwave.pings`` partition): there it says
that the partition's event time has reached the tick's time, so a partition whose radios are
silent still settles, on its own data (:func:`is_heartbeat`).
"""

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
_MARKER: Final = b'"clock.ticks/1"'


def is_heartbeat(raw: bytes | None) -> bool:
    """Whether an input record that its own topic's decoder refused is an in-band heartbeat (a
    ``clock.ticks/1`` value): it is then decoded with :func:`decode_tick`."""
    return raw is not None and _MARKER in raw


def decode_tick(key: bytes | None, raw: bytes | None, limits: TimeLimits) -> float:
    """The time a tick carries, in seconds since the Unix epoch."""
    value = parse_object(raw, "clock.ticks", limits)
    check_fields(value, _FIELDS)
    require_id(value, "source")
    return parse_timestamp(value.get("ts"), "ts")
