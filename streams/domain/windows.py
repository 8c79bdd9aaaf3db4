"""The one rolling-window rule of the service, at minute granularity.

Dose and demand are kept in UTC minute buckets (``minute = int(ts // 60)``). A bucket of minute
``m`` is inside the window of length ``w`` at ``now`` iff ``now - w < 60 m <= now``: a minute
counts from its first second for exactly ``w`` seconds. Redis keeps running window totals by the
same rule (``streams.state``: ``win_add`` / ``win_expire``, tested against :func:`in_window`).
"""

from __future__ import annotations

from typing import Final

SECONDS_PER_MINUTE: Final = 60


def minute_of(ts: float) -> int:
    """The UTC minute since the epoch that contains ``ts``."""
    return int(ts // SECONDS_PER_MINUTE)


def in_window(minute: int, now: float, window_s: float) -> bool:
    """Whether minute ``minute`` is inside the window of ``window_s`` seconds at ``now``."""
    return now - window_s < minute * SECONDS_PER_MINUTE <= now
