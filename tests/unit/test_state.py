"""The stored event clock: resumed when it is possible, reset with a warning when it is not."""

from __future__ import annotations

import logging

import pytest

from streams.metrics import MetricsRecorder
from streams.state import FORGET_IF_LUA, State


class StoredClock:
    """Stands in for the Redis client: one string key, GET and the compare-and-delete script."""

    def __init__(self, key: str, value: bytes | None) -> None:
        self.key = key
        self.value = value
        self.scripts: list[tuple[str, tuple[object, ...]]] = []

    async def get(self, key: str) -> bytes | None:
        assert key == self.key
        return self.value

    async def eval(self, script: str, numkeys: int, *args: object) -> int:
        self.scripts.append((script, args))
        assert numkeys == 1
        assert args[0] == self.key
        if args[1] == self.value:
            self.value = None
            return 1
        return 0


def state_with_clock(value: bytes | None) -> tuple[State, StoredClock]:
    state = State("redis://127.0.0.1:1/0", "cw", MetricsRecorder())
    stored = StoredClock(state.clock_key, value)
    state.redis = stored  # type: ignore[assignment]
    return state, stored


async def test_a_possible_stored_clock_is_resumed() -> None:
    state, stored = state_with_clock(b"1795197600.0")
    assert await state.event_clock() == 1795197600.0
    assert stored.value == b"1795197600.0"
    assert stored.scripts == []


async def test_no_stored_clock_is_none() -> None:
    state, _ = state_with_clock(None)
    assert await state.event_clock() is None


@pytest.mark.parametrize("value", [b"253402214400.0", b"-62135596800.0", b"nan", b"garbage"])
async def test_an_impossible_stored_clock_is_reset_with_a_warning(
    value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    state, stored = state_with_clock(value)
    with caplog.at_level(logging.WARNING, logger="streams.state"):
        assert await state.event_clock() is None
    assert stored.value is None
    assert stored.scripts == [(FORGET_IF_LUA, (state.clock_key, value))]
    assert any("event clock in Redis reset" in record.message for record in caplog.records)
