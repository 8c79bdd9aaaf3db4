"""``clock.ticks``: heartbeats that advance the event clock when traffic is thin.

A tick is judged like any other input, against the clock it would move:

- its time must be a date the service accepts (2000-01-01 to 2100-01-01 UTC; see
  :mod:`streams.domain.validation`), whatever the clock: a year-9999 tick is
  ``future_timestamp``, a year-1 tick ``stale_timestamp``;
- it may lead ``now`` by at most ``limits.max_future_skew_s`` (``future_timestamp``): on the
  event clock that is ``COVERWATCH_EVENT_CLOCK_MAX_JUMP_S`` beyond the event clock, so one absurd
  tick cannot drag a replay's now forward; on the wall clock it is the future skew;
- a tick behind ``now`` is not refused, however old: it cannot move a clock back (the clock and
  its stored copy keep the maximum), so it changes nothing. Refusing it would only deadletter the
  ticks of a second, slower source, or a restarted worker's replayed ticks.

The first tick of a fresh event clock (``now`` None: nothing seen since the worker started and no
clock stored in Redis, see :func:`stored_clock`) has nothing to be judged against, so only the date
range applies: it sets the clock, and every later tick and input is judged against it. A worker
that restarts resumes the stored clock before it judges any tick, so only a service that has never
run (or whose Redis was wiped) takes its first tick on trust.

The same record may also travel *in band*, in a partition of another input topic (the simulator
and ``coverwatch publish`` copy every tick into each ``airwave.pings`` and ``cad.incidents``
partition): there it says that the partition's event time has reached the tick's time, so a
partition whose radios are silent still settles, on its own data, and the pings can tell how far
CAD has been read (:func:`is_heartbeat`, :func:`decode_or_heartbeat`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from streams.domain.validation import (
    Rejected,
    TimeLimits,
    check_date_range,
    check_fields,
    check_key,
    check_not_ahead,
    parse_object,
    parse_timestamp,
    require_id,
)

_FIELDS: Final = frozenset({"schema", "source", "ts"})
_MARKER: Final = b'"clock.ticks/1"'

Decoded = TypeVar("Decoded")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An in-band heartbeat: its partition's event time has reached ``ts``."""

    ts: float


def is_heartbeat(raw: bytes | None) -> bool:
    """Whether an input record that its own topic's decoder refused is an in-band heartbeat (a
    ``clock.ticks/1`` value): it is then decoded with :func:`decode_tick`."""
    return raw is not None and _MARKER in raw


def decode_tick(
    key: bytes | None, raw: bytes | None, now: float | None, limits: TimeLimits
) -> float:
    """The time a tick carries, in seconds since the Unix epoch, judged against ``now`` (module
    rules), or :class:`Rejected`."""
    value = parse_object(raw, "clock.ticks", limits)
    check_fields(value, _FIELDS)
    source = require_id(value, "source")
    check_key(key, source, "source")
    ts = parse_timestamp(value.get("ts"), "ts")
    check_not_ahead(ts, now, limits)
    return ts


def decode_or_heartbeat(
    decode: Callable[[bytes | None, bytes | None, float | None, TimeLimits], Decoded],
    key: bytes | None,
    raw: bytes | None,
    now: float | None,
    limits: TimeLimits,
) -> Decoded | Heartbeat:
    """A record of a topic that carries in-band heartbeats: what its own ``decode`` makes of it,
    else the :class:`Heartbeat` it is, judged as a tick; :class:`Rejected` with ``decode``'s
    reason when it is neither."""
    try:
        return decode(key, raw, now, limits)
    except Rejected:
        if not is_heartbeat(raw):
            raise
    return Heartbeat(decode_tick(key, raw, now, limits))


def stored_clock(stored: bytes | str) -> float:
    """The event clock as stored in Redis (seconds since the epoch, as text), or
    :class:`Rejected` when it cannot be a clock the service would have set: not a finite number,
    or outside the accepted dates (left by an absurd tick before ticks were judged, or written
    by hand). The caller resets such a clock instead of resuming it."""
    try:
        ts = float(stored)
    except ValueError:
        raise Rejected("invalid_schema", f"stored clock {stored[:40]!r} is not a number") from None
    if not math.isfinite(ts):
        raise Rejected("invalid_schema", f"stored clock {stored[:40]!r} is not a finite number")
    check_date_range(ts, f"stored clock {ts!r}")
    return ts
