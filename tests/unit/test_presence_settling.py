"""How far the presence engine settles a pings partition on the clock: never past the data it has
read of that partition while more may be coming."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from streams.engines.presence import IDLE_AFTER_S, PresenceEngine
from streams.engines.stage import limits_for
from streams.settings import Settings

EVENT_CLOCK_NOW = 1_795_300_000.0


def engine(clock: str) -> PresenceEngine:
    state = SimpleNamespace(directory_version_keys=lambda partitions: [])
    settings = Settings(clock=clock)
    services: Any = SimpleNamespace(settings=settings, state=state, limits=limits_for(settings))
    return PresenceEngine(services)


@pytest.mark.parametrize("clock", ["wall", "event"])
def test_a_partition_just_assigned_settles_no_further_than_its_stored_progress(
    clock: str,
) -> None:
    presence = engine(clock)
    presence.progress[2] = EVENT_CLOCK_NOW - 7200  # read back from Redis with its tracks
    presence.watermarks[2] = 500
    assert presence._settle_time(2, EVENT_CLOCK_NOW, highwater=None) == EVENT_CLOCK_NOW - 7200


@pytest.mark.parametrize("clock", ["wall", "event"])
def test_a_partition_with_no_data_yet_is_not_settled(clock: str) -> None:
    assert engine(clock)._settle_time(0, EVENT_CLOCK_NOW, highwater=None) is None


def test_on_the_event_clock_an_idle_partition_settles_to_its_own_progress_only() -> None:
    presence = engine("event")
    presence.progress[1] = EVENT_CLOCK_NOW - 600
    presence.watermarks[1] = 99
    assert presence._settle_time(1, EVENT_CLOCK_NOW, highwater=100) == EVENT_CLOCK_NOW - 600


def test_on_the_wall_clock_an_idle_caught_up_partition_settles_on_the_clock() -> None:
    presence = engine("wall")
    presence.progress[1] = EVENT_CLOCK_NOW - 600
    presence.watermarks[1] = 99
    presence.last_batch[1] = time.monotonic() - 2 * IDLE_AFTER_S
    assert presence._settle_time(1, EVENT_CLOCK_NOW, highwater=100) == EVENT_CLOCK_NOW


def test_on_the_wall_clock_a_backlogged_partition_settles_no_further_than_its_data() -> None:
    presence = engine("wall")
    presence.progress[1] = EVENT_CLOCK_NOW - 600
    presence.watermarks[1] = 50
    assert presence._settle_time(1, EVENT_CLOCK_NOW, highwater=100) == EVENT_CLOCK_NOW - 600
