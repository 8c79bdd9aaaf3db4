"""Which instants the time control replays (``GET /api/replay?at=``)."""

from __future__ import annotations

import pytest
from aiohttp import web

from streams.web.replay import replay_instant

NOW = 1_795_197_600.0  # 2026-11-20T18:00:00Z


def test_an_instant_within_the_hours_is_replayed_and_a_later_one_is_now() -> None:
    assert replay_instant("2026-11-20T17:15:00Z", NOW, 3) == NOW - 45 * 60
    assert replay_instant("2026-11-20T18:00:30+00:00", NOW, 3) == NOW


@pytest.mark.parametrize(
    ("raw", "hours", "says"),
    [
        (None, 3, "'at' is required"),
        ("yesterday", 3, "ISO 8601"),
        ("2026-11-20T17:00:00", 3, "time zone offset"),
        ("2026-11-20T14:59:00Z", 3, "within the last 3 hours"),
        ("2026-11-20T16:59:00Z", 1, "within the last 1 hours"),
    ],
)
def test_an_instant_it_cannot_replay_is_refused_with_a_reason(
    raw: str | None, hours: int, says: str
) -> None:
    with pytest.raises(web.HTTPBadRequest) as refused:
        replay_instant(raw, NOW, hours)
    assert says in str(refused.value.text)
