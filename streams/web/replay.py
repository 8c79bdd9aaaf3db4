"""``GET /api/replay?at=``: the live page's time control. The coverage states of every area at a
past instant of the last ``COVERWATCH_REPLAY_HOURS`` hours (viewers), and for a supervisor the
officers' positions then, as pseudonyms (an officer-level read: audited); 404 while the time
control is off (0 hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from streams import topics
from streams.domain.coverage import status_from_dict
from streams.domain.publication import pseudonym
from streams.domain.replay import positions_at, states_at, trail_minutes
from streams.domain.timefmt import format_ts
from streams.engines.runtime import Runtime
from streams.web.auth import CALLER_KEY


def _refused(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": message}).decode(), content_type="application/json"
    )


def replay_instant(raw: str | None, now: float, hours: int) -> float:
    """The instant asked for (``at``: an ISO 8601 time with its offset), not before the last
    ``hours`` hours before ``now`` (400); one after ``now`` is ``now`` (a page's clock runs a
    little ahead of the service's)."""
    if raw is None:
        raise _refused("query parameter 'at' is required")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _refused("'at' must be an ISO 8601 time, such as 2026-11-21T18:05:00Z") from None
    if parsed.tzinfo is None:
        raise _refused("'at' needs a time zone offset (Z or +01:00)")
    at = parsed.timestamp()
    if at < now - hours * 3600:
        raise _refused(f"'at' must be within the last {hours} hours of the service clock")
    return min(at, now)


async def replay(request: web.Request, runtime: Runtime, now: float) -> dict[str, Any]:
    """The states at the instant asked for, and the officers' positions for a supervisor."""
    hours = runtime.settings.replay_hours
    if hours == 0:
        raise web.HTTPNotFound(
            text='{"error": "the time control is off (COVERWATCH_REPLAY_HOURS=0)"}',
            content_type="application/json",
        )
    at = replay_instant(request.query.get("at"), now, hours)
    zone = ZoneInfo(runtime.settings.timezone)
    day = datetime.fromtimestamp(at, zone).date()
    days = [(day - timedelta(days=1)).isoformat(), day.isoformat()]
    changes = [change for day in days for change in await runtime.state.coverage_changes(day)]
    current = {}
    for area_id, blob in (await runtime.state.coverage_store()).statuses.items():
        status = status_from_dict(orjson.loads(blob))
        current[area_id] = (status.state, status.state_since)
    body: dict[str, Any] = {"at": format_ts(at), "states": states_at(changes, at, current)}
    if request[CALLER_KEY].role == "supervisor":
        partitions = topics.BY_NAME[topics.PINGS].partitions
        trail = await runtime.state.trail(partitions, trail_minutes(at))
        key = runtime.settings.pseudonym_key.encode()
        body["officers"] = [
            {
                "officer": pseudonym(key, radio),
                "lat": point.lat,
                "lon": point.lon,
                "role": point.role,
                "mode": point.mode,
                "ts": format_ts(point.ts),
            }
            for radio, point in sorted(positions_at(trail, at).items())
        ]
    return body
