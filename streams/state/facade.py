"""``State``: the live state in Redis for one worker process, composed of one class per family.

Each family is a subclass of :class:`~streams.state.store.Store` in a module of its own, and
uses only the connection and the key layout (:mod:`streams.state.keys`), never another family:
:class:`State` only puts them together, so that a worker holds one connection pool and callers
keep one object (``runtime.state``).
"""

from __future__ import annotations

from streams.state.coverage import CoverageState
from streams.state.directory import DirectoryState
from streams.state.epoch import EpochState
from streams.state.incidents import DemandState
from streams.state.presence import PresenceState
from streams.state.serving import ServingState
from streams.state.windows import WindowsState


class State(
    PresenceState,
    DirectoryState,
    DemandState,
    CoverageState,
    ServingState,
    EpochState,
    WindowsState,
):
    """Live state in Redis for one worker process."""
