"""RFC 3339 formatting of event times (seconds since the Unix epoch, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache


@lru_cache(maxsize=4096)
def format_ts(ts: float) -> str:
    """``ts`` as RFC 3339 UTC with millisecond precision and a ``Z``: 2026-11-21T18:04:05.250Z.

    Memoised: one evaluation formats the same few moments (its ``now``, shared state starts)
    for thousands of areas."""
    moment = datetime.fromtimestamp(round(ts, 3), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def local_day(ts: float, zone: tzinfo) -> str:
    """The local calendar day (ISO date) that contains ``ts`` in ``zone``."""
    return datetime.fromtimestamp(ts, tz=zone).date().isoformat()
