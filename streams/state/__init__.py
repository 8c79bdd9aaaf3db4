"""The only package that talks to Redis: key layout, Lua scripts and idempotency.

- :mod:`~streams.state.keys`: every key family (the layout, one source of truth;
  ``docs/redis-keys.md`` is generated from it);
- :mod:`~streams.state.changes`: the ops a batch's changes are made of, applied by one Lua call
  per source partition (``lua/windows.lua``, ``visits.lua`` and ``apply.lua``, loaded by
  :mod:`~streams.state.scripts`) with the partition's offset watermark: replaying offsets at or
  below the watermark changes nothing, so at-least-once delivery is safe;
- one module per family of state: :mod:`~streams.state.presence`,
  :mod:`~streams.state.directory` (roster and areas), :mod:`~streams.state.incidents` (demand
  and incidents), :mod:`~streams.state.coverage` (leader lock and what the leader stores),
  :mod:`~streams.state.serving` (nearest officers, audit log, live events),
  :mod:`~streams.state.epoch` (epoch, event clock, clearing), :mod:`~streams.state.windows`
  (the one-off window layout upgrade), composed by :class:`State`
  (:mod:`~streams.state.facade`);
- :mod:`~streams.state.measure`: synchronous reads for the bench.
"""

from streams.state.changes import (
    Changes,
    PartitionCommit,
    above_watermarks,
    window_sums,
)
from streams.state.coverage import CoverageStore
from streams.state.directory import ROSTER_ENTRIES_CACHED
from streams.state.facade import State
from streams.state.incidents import DemandView
from streams.state.presence import (
    DOSE_WINDOWS,
    QUALIFYING_ENDS_KEPT_S,
    VISIT_DAYS_KEPT,
    PresenceView,
)
from streams.state.scripts import APPLY_LUA, FORGET_IF_LUA, LEAD_LUA
from streams.state.store import STORE_UNAVAILABLE

__all__ = [
    "APPLY_LUA",
    "DOSE_WINDOWS",
    "FORGET_IF_LUA",
    "LEAD_LUA",
    "QUALIFYING_ENDS_KEPT_S",
    "ROSTER_ENTRIES_CACHED",
    "STORE_UNAVAILABLE",
    "VISIT_DAYS_KEPT",
    "Changes",
    "CoverageStore",
    "DemandView",
    "PartitionCommit",
    "PresenceView",
    "State",
    "above_watermarks",
    "window_sums",
]
