from __future__ import annotations

import pytest

from streams.domain.windows import in_window, minute_of

MINUTE = 29_395_000
START = MINUTE * 60.0


@pytest.mark.parametrize(
    ("now", "minute", "inside"),
    [
        (START, MINUTE, True),  # a minute counts from its first second
        (START - 0.001, MINUTE, False),  # not before it begins
        (START + 899.999, MINUTE, True),  # for the whole 15 minutes
        (START + 900, MINUTE, False),  # and not a moment longer
        (START + 900, MINUTE + 1, True),
    ],
)
def test_a_minute_is_in_a_15_minute_window_for_exactly_15_minutes(
    now: float, minute: int, inside: bool
) -> None:
    assert in_window(minute, now, 900) is inside


def test_minute_of_is_the_utc_minute_containing_the_time() -> None:
    assert minute_of(START + 59.999) == MINUTE
    assert minute_of(START + 60) == MINUTE + 1
