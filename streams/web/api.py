"""The JSON API over Redis: areas, alerts and supervisors' actions on them, incidents, officers,
audit, and live events (SSE).

Every worker serves it from what Redis holds; the areas' states are the snapshots the coverage
leader stored as it published them (nothing is evaluated here). Bad query parameters get 400
with a message, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from streams import topics
from streams.domain.areas import AreaDefinition, geometry_to_geojson
from streams.domain.coverage import policy_for
from streams.domain.feedhealth import ingest_lag_s, ingest_lagging
from streams.domain.ledger import daily_ledger
from streams.domain.publication import pseudonym
from streams.domain.snapshots import AreaFacts, snapshot_value, visit_times
from streams.domain.timefmt import format_ts, local_day
from streams.domain.tracks import UNKNOWN_UNIT, shown_health
from streams.engines.runtime import Runtime
from streams.web.alert_actions import act_on_alert, with_actions
from streams.web.auth import CALLER_KEY, audited_path, error, supervisor
from streams.web.replay import replay

RUNTIME_KEY = web.AppKey("runtime", Runtime)
OFFICERS_SEEN_S = 900.0
RECENT_ALERTS = 100
KEEPALIVE_S = 15.0
PINGS_PARTITIONS = topics.BY_NAME[topics.PINGS].partitions
DEFAULT_NEAREST_KM = 50.0
"""How far ``/api/officers/nearest`` looks unless ``within_km`` says (MIN..MAX_NEAREST_KM)."""
MIN_NEAREST_KM = 0.1
MAX_NEAREST_KM = 500.0


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME_KEY]


def _now(runtime: Runtime) -> float:
    now = runtime.clock.now()
    if now is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "no data yet: the event clock has not started"}',
            content_type="application/json",
        )
    return now


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def config(request: web.Request) -> web.Response:
    """What the live page needs to know: base map, the caller's role, the time zone, how far
    back the time control goes."""
    settings = _runtime(request).settings
    return _json(
        {
            "tile_url": settings.tile_url or None,
            "tile_attribution": settings.tile_attribution or None,
            "role": request[CALLER_KEY].role,
            "timezone": settings.timezone,
            "replay_hours": settings.replay_hours,
        }
    )


async def areas_geojson(request: web.Request) -> web.Response:
    """Every area's outline."""
    runtime = _runtime(request)
    await runtime.refresh_fences(await runtime.state.area_version())
    features = [
        {
            "type": "Feature",
            "id": area.area_id,
            "properties": {"area_id": area.area_id, "name": area.name, "kind": area.kind},
            "geometry": geometry_to_geojson(area.geometry),
        }
        for area in sorted(runtime.fences.areas.values(), key=lambda a: a.area_id)
    ]
    return _json({"type": "FeatureCollection", "features": features})


async def rings_geojson(request: web.Request) -> web.Response:
    """Every displacement ring's outline (the buffer around an Impact or comparison area where
    displaced crime would show; not tracked live), with the area it rings."""
    features = []
    for blob in await _runtime(request).state.rings():
        ring = orjson.loads(blob)
        properties = ring.get("properties", {})
        features.append(
            {
                "type": "Feature",
                "id": ring["id"],
                "properties": {
                    "area_id": ring["id"],
                    "name": properties.get("name", ring["id"]),
                    "ring_of": properties.get("ring_of"),
                    "ring_m": properties.get("ring_m"),
                },
                "geometry": ring["geometry"],
            }
        )
    return _json({"type": "FeatureCollection", "features": features})


async def areas(request: web.Request) -> web.Response:
    """Every area with its current state: the ``area.snapshots`` value the coverage leader last
    published, as it stored it (an area it has not judged yet: its snapshot with nothing
    known, state ``unknown``); and ``ingest`` (:func:`_ingest`): while it is ``lagging`` every
    state shown is old (reason ``ingest_lag``)."""
    runtime = _runtime(request)
    now = _now(runtime)
    await runtime.refresh_fences(await runtime.state.area_version())
    snapshots = await _area_snapshots(runtime, now, sorted(runtime.fences.areas))
    body = b'{"ts":' + orjson.dumps(format_ts(now))
    body += b',"ingest":' + orjson.dumps(await _ingest(runtime, now)) + b',"areas":['
    return web.Response(body=body + b",".join(snapshots) + b"]}", content_type="application/json")


async def _ingest(runtime: Runtime, now: float) -> dict[str, object]:
    """How far the slowest ``airwave.pings`` partition's event time is behind the clock
    (``lag_s``, null before any data), the bound (``COVERWATCH_INGEST_LAG_BOUND_S``) and
    whether the lag exceeds it (``lagging``: the states served are that old, reason
    ``ingest_lag``). Coverage is judged only once every partition has passed an instant, so a
    lag never makes a judged state wrong; it makes it late."""
    progress, _ = await runtime.state.pings_progress(PINGS_PARTITIONS)
    lag = ingest_lag_s(now, progress)
    bound = runtime.settings.ingest_lag_bound_s
    return {
        "lag_s": None if lag is None else round(lag, 3),
        "bound_s": bound,
        "lagging": ingest_lagging(lag, bound),
        "reason": "ingest_lag" if ingest_lagging(lag, bound) else None,
    }


async def area_detail(request: web.Request) -> web.Response:
    """One area: its state (as :func:`areas`), outline, coverage history today and
    (supervisors) recent visits."""
    runtime = _runtime(request)
    now = _now(runtime)
    area_id = request.match_info["area_id"]
    await runtime.refresh_fences(await runtime.state.area_version())
    area = runtime.fences.areas.get(area_id)
    if area is None:
        return error(404, f"no area {area_id!r}")
    (snapshot,) = await _area_snapshots(runtime, now, [area_id])
    day = local_day(now, ZoneInfo(runtime.settings.timezone))
    history = [c for c in await runtime.state.coverage_changes(day) if c["area_id"] == area_id]
    body: dict[str, Any] = {
        **orjson.loads(snapshot),
        "ingest": await _ingest(runtime, now),
        "geometry": geometry_to_geojson(area.geometry),
        "coverage_history_today": history,
        "visits_recent": None,
    }
    if request[CALLER_KEY].role == "supervisor":
        stored = await runtime.state.visits_of_area(PINGS_PARTITIONS, day, area_id)
        visits = sorted(stored, key=lambda v: visit_times(v)[0], reverse=True)
        body["visits_recent"] = visits[:50]
        await _audit(request, "area_visits", {"area_id": area_id, "visits": len(visits[:50])})
    return _json(body)


async def _area_snapshots(runtime: Runtime, now: float, area_ids: Sequence[str]) -> list[bytes]:
    """The stored snapshots of ``area_ids`` (areas defined now), encoded; an area without one
    (not judged yet) gets :func:`_unjudged_snapshot`."""
    stored = await runtime.state.area_views(area_ids)
    return [
        _unjudged_snapshot(runtime, runtime.fences.areas[area_id], now) if blob is None else blob
        for area_id, blob in zip(area_ids, stored, strict=True)
    ]


def _unjudged_snapshot(runtime: Runtime, area: AreaDefinition, now: float) -> bytes:
    """The snapshot of an area the coverage leader has not judged yet (defined a moment ago, or
    no evaluation yet): nothing known of it, coverage ``unknown``, today's ledger empty."""
    timezone = runtime.settings.timezone
    day = local_day(now, ZoneInfo(timezone))
    ledger = daily_ledger(area.area_id, day, policy_for(area, timezone), [], 0, {}, now)
    return orjson.dumps(snapshot_value(AreaFacts(area), None, ledger, now))


async def alerts(request: web.Request) -> web.Response:
    """Active alerts (latest event of each alert not cleared) and recent alert events."""
    recent = await _runtime(request).state.recent_alerts(1000)
    latest: dict[str, dict[str, Any]] = {}
    for alert in reversed(recent):
        latest[str(alert["alert_id"])] = alert
    active = [a for a in latest.values() if a["event"] != "cleared"]
    active.sort(key=lambda a: str(a["ts"]), reverse=True)
    supervising = request[CALLER_KEY].role == "supervisor"
    actions = await with_actions(_runtime(request), active, callsigns=supervising)
    return _json({"active": active, "recent": recent[:RECENT_ALERTS], "actions": actions})


async def alert_action(request: web.Request) -> web.Response:
    """A supervisor's action on an active alert (:mod:`streams.web.alert_actions`)."""
    return await act_on_alert(request, _runtime(request))


PLACES_SHOWN = 2000
PLACE_SOURCES = {"crime": topics.CRIMES, "stop_search": topics.STOPSEARCH}


async def places(request: web.Request) -> web.Response:
    """Where crimes or stop-searches (``kind``) were in the last ``hours`` (1..24, default 24)
    of the service clock, newest first, at most :data:`PLACES_SHOWN`; no callsign."""
    runtime = _runtime(request)
    kind = request.query.get("kind", "crime")
    if kind not in PLACE_SOURCES:
        return error(400, "kind must be crime or stop_search")
    hours = _number(request.query, "hours", 1, 24, default=24)
    now = _now(runtime)
    source = PLACE_SOURCES[kind]
    slots = [
        runtime.state.slot(source, partition)
        for partition in range(topics.BY_NAME[source].partitions)
    ]
    found = await runtime.state.places(slots, now - hours * 3600, now, PLACES_SHOWN)
    shown = [{**place, "ts": format_ts(float(place["ts"]))} for place in found]
    return _json({"kind": kind, "hours": hours, "places": shown})


async def incidents(request: web.Request) -> web.Response:
    """Open incidents with a known place."""
    runtime = _runtime(request)
    partitions = topics.BY_NAME[topics.INCIDENTS].partitions
    return _json({"incidents": await runtime.state.open_incidents(partitions)})


async def officers(request: web.Request) -> web.Response:
    """Latest position of every radio seen in the last 15 minutes (supervisors; audited)."""
    runtime = _runtime(request)
    supervisor(request)
    now = _now(runtime)
    key = runtime.settings.pseudonym_key.encode()
    max_gap_s = runtime.settings.max_gap_s
    shown = [
        _officer(key, issi, fix, shown_health(fix, now=now, max_gap_s=max_gap_s))
        for issi, fix in (await runtime.state.last_fixes(PINGS_PARTITIONS)).items()
        if fix["ts"] >= now - OFFICERS_SEEN_S
    ]
    await _audit(request, "officers", {"officers": len(shown)})
    return _json({"officers": shown})


async def replay_view(request: web.Request) -> web.Response:
    """The time control: states at a past instant, and officers' positions for a supervisor
    (:mod:`streams.web.replay`; audited when it holds them)."""
    runtime = _runtime(request)
    body = await replay(request, runtime, _now(runtime))
    if "officers" in body:
        await _audit(request, "replay", {"at": body["at"], "officers": len(body["officers"])})
    return _json(body)


async def nearest(request: web.Request) -> web.Response:
    """The nearest officers to a place, with role, mode, distance and commitment (audited)."""
    runtime = _runtime(request)
    supervisor(request)
    lat = _number(request.query, "lat", -90.0, 90.0)
    lon = _number(request.query, "lon", -180.0, 180.0)
    count = int(_number(request.query, "n", 1, 100, default=5))
    within_km = _number(
        request.query, "within_km", MIN_NEAREST_KM, MAX_NEAREST_KM, default=DEFAULT_NEAREST_KM
    )
    now = _now(runtime)
    fixes = await runtime.state.last_fixes(PINGS_PARTITIONS)
    key = runtime.settings.pseudonym_key.encode()
    found = []
    nearest_radios = await runtime.state.nearest(PINGS_PARTITIONS, lat, lon, count * 3, within_km)
    for issi, metres in nearest_radios:
        fix = fixes.get(issi)
        if fix is None or not fix.get("on_duty") or fix["ts"] < now - OFFICERS_SEEN_S:
            continue
        health = shown_health(fix, now=now, max_gap_s=runtime.settings.max_gap_s)
        found.append({**_officer(key, issi, fix, health), "distance_m": round(metres, 1)})
        if len(found) == count:
            break
    await _audit(
        request, "officers_nearest", {"lat": lat, "lon": lon, "n": count, "within_km": within_km}
    )
    return _json({"lat": lat, "lon": lon, "within_km": within_km, "officers": found})


async def audit_log(request: web.Request) -> web.Response:
    """The newest officer-level reads (supervisors)."""
    supervisor(request)
    count = int(_number(request.query, "n", 1, 1000, default=100))
    return _json({"entries": await _runtime(request).state.audit_log(count)})


def _officer(key: bytes, issi: str, fix: Mapping[str, Any], health: str) -> dict[str, Any]:
    return {
        "officer": pseudonym(key, issi),
        "callsign": fix.get("callsign"),
        "role": fix["role"],
        "mode": fix.get("mode", "foot"),
        "lat": fix["lat"],
        "lon": fix["lon"],
        "ts": format_ts(fix["ts"]),
        "committed": bool(fix.get("committed")),
        "health": health,
        "unit": fix.get("unit", UNKNOWN_UNIT),
    }


def _number(
    query: Mapping[str, str], name: str, low: float, high: float, default: float | None = None
) -> float:
    raw = query.get(name)
    if raw is None:
        if default is not None:
            return default
        raise web.HTTPBadRequest(
            text=orjson.dumps({"error": f"query parameter {name!r} is required"}).decode(),
            content_type="application/json",
        )
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise web.HTTPBadRequest(
            text=orjson.dumps(
                {"error": f"{name} must be a number from {low:g} to {high:g}, not {raw!r}"}
            ).decode(),
            content_type="application/json",
        )
    return value


async def _audit(request: web.Request, what: str, detail: Mapping[str, object]) -> None:
    caller = request[CALLER_KEY]
    await _runtime(request).state.audit(
        {
            "who": caller.name,
            "role": caller.role,
            "what": what,
            "detail": dict(detail),
            "path": audited_path(request),
            "when": format_ts(time.time()),
        }
    )


class EventHub:
    """Fans live events from Redis pub/sub out to this worker's SSE clients."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.clients: set[asyncio.Queue[bytes]] = set()
        self._task: asyncio.Task[None] | None = None

    def join(self) -> asyncio.Queue[bytes]:
        """A queue of events for one client; starts listening on first use."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        self.clients.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen())
        return queue

    def leave(self, queue: asyncio.Queue[bytes]) -> None:
        """A client went away."""
        self.clients.discard(queue)

    async def _listen(self) -> None:
        async with contextlib.aclosing(self.runtime.state.live_events()) as live:
            async for event in live:
                for queue in list(self.clients):
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(event)

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


HUB_KEY = web.AppKey("hub", EventHub)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``area`` (a snapshot that changed) and ``alert`` (an alert event)."""
    hub = request.app[HUB_KEY]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.join()
    try:
        await response.write(b"retry: 2000\n: connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                event = b": keepalive\n\n"
            await response.write(event)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.leave(queue)
    return response


def add_routes(app: web.Application) -> None:
    """Register every API route."""
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/areas.geojson", areas_geojson)
    app.router.add_get("/api/rings.geojson", rings_geojson)
    app.router.add_get("/api/areas", areas)
    app.router.add_get("/api/areas/{area_id}", area_detail)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_post("/api/alerts/{alert_id}/actions", alert_action)
    app.router.add_get("/api/incidents", incidents)
    app.router.add_get("/api/places", places)
    app.router.add_get("/api/officers", officers)
    app.router.add_get("/api/officers/nearest", nearest)
    app.router.add_get("/api/replay", replay_view)
    app.router.add_get("/api/audit", audit_log)
    app.router.add_get("/api/events", events)
