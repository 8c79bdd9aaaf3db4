"""``POST /api/alerts/{alert_id}/actions``: a supervisor acknowledges an active alert, assigns it
to a callsign or adds a note (:mod:`streams.domain.alert_actions`). The action is kept beside
the alert, written to the audit log and sent to every viewer's live page (SSE ``alert_action``,
without the callsign: officer-level data is for supervisors); ``GET /api/alerts`` serves each
active alert's actions (callsigns to supervisors only)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from streams.domain.alert_actions import ActionRefusedError, escalated, parse_action
from streams.domain.timefmt import format_ts
from streams.engines.coverage.views import sse_message
from streams.engines.runtime import Runtime
from streams.web.auth import supervisor

MAX_BODY_BYTES = 4096


def _refused(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=orjson.dumps({"error": message}).decode(), content_type="application/json")


async def active_alert(runtime: Runtime, alert_id: str) -> dict[str, Any] | None:
    """The latest event of ``alert_id`` if the alert is active (None: unknown or cleared)."""
    for alert in await runtime.state.recent_alerts(1000):  # newest first
        if alert.get("alert_id") == alert_id:
            return alert if alert.get("event") != "cleared" else None
    return None


async def act_on_alert(request: web.Request, runtime: Runtime) -> web.Response:
    """Record one action on an active alert (supervisors; audited)."""
    caller = supervisor(request)
    alert_id = request.match_info["alert_id"]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _refused(web.HTTPRequestEntityTooLarge, f"a body is at most {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as bad:
        raise _refused(web.HTTPBadRequest, "the body is not JSON") from bad
    if not isinstance(body, dict):
        raise _refused(web.HTTPBadRequest, "the body must be a JSON object")
    alert = await active_alert(runtime, alert_id)
    if alert is None:
        raise _refused(web.HTTPNotFound, "no active alert has that id")
    now = runtime.clock.now()
    try:
        action = parse_action(
            body, alert=alert, by=caller.name, at=format_ts(time.time() if now is None else now)
        )
    except ActionRefusedError as refused:
        raise _refused(web.HTTPBadRequest, str(refused)) from refused
    value = action.as_json()
    await runtime.state.record_alert_action(alert_id, value)
    await runtime.state.audit(
        {
            "who": caller.name,
            "role": caller.role,
            "what": "alert_action",
            "detail": {
                "alert_id": alert_id,
                "area_id": alert.get("area_id"),
                "action": action.action,
                "callsign": action.callsign,
                "note_chars": len(action.note or ""),
            },
            "path": request.path,
            "when": format_ts(time.time()),
        }
    )
    shared = {**value, "callsign": None}  # every viewer gets the stream: callsigns are not theirs
    await runtime.state.publish_events([sse_message("alert_action", orjson.dumps(shared))])
    return web.json_response(value, status=201, dumps=lambda v: orjson.dumps(v).decode())


async def with_actions(
    runtime: Runtime, active: list[dict[str, Any]], *, callsigns: bool
) -> dict[str, Any]:
    """alert_id -> its actions and whether it escalated since it was acknowledged, for the
    active alerts; the callsigns assigned only when ``callsigns`` (supervisors)."""
    actions = await runtime.state.alert_actions([str(a["alert_id"]) for a in active])
    if not callsigns:
        actions = {
            alert_id: [{**action, "callsign": None} for action in taken]
            for alert_id, taken in actions.items()
        }
    return {
        alert_id: {
            "actions": taken,
            "escalated": escalated(
                taken,
                next(str(a.get("severity")) for a in active if a["alert_id"] == alert_id),
            ),
        }
        for alert_id, taken in actions.items()
    }
