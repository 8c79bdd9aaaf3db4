"""The HTTP API against a real running worker fed by a simulated afternoon."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas import assert_valid
from streams.devtools.stack.embedded import Services
from streams.domain.areas import live_areas
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import SimulationOptions, generate
from tests.helpers.kafka import pings_messages, run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

VIEWER = "viewer-token-0123456789"
SUPERVISOR = "supervisor-token-0123456789"


@pytest.fixture(scope="module")
def api_worker(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    """A worker with one viewer and one supervisor token, fed a simulated 3 h 40 min in which
    every patrol keeps away from one Impact Area (its alert is active at the end)."""
    settings = worker_settings(
        stack,
        module_name(request),
        clock="event",
        viewer_tokens=f"wallboard={VIEWER}",
        supervisor_tokens=f"sgt-jones={SUPERVISOR}",
    )
    worker = start_worker(stack, settings, work_dir)
    options = SimulationOptions(
        seed=5,
        officers=40,
        start=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        duration_seconds=3 * 3600 + 40 * 60,
        neglected_areas=("ia-03",),
    )
    records = list(generate(options, load_default_area_pack()))
    reference = [r for r in records if r.topic in ("areas.definitions", "resources.roster")]
    live = [r for r in records if r.topic not in ("areas.definitions", "resources.roster")]
    run(
        publish(reference, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    )
    deadline = time.monotonic() + 60
    while worker.metric("coverwatch_messages_consumed_total", topic="areas.definitions") < 40:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    run(publish(live, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix))
    pings = pings_messages(live)
    deadline = time.monotonic() + 120
    while worker.metric("coverwatch_messages_consumed_total", topic="airwave.pings") < pings:
        assert time.monotonic() < deadline, worker.process.log_tail()
        time.sleep(0.5)
    time.sleep(4.0)  # two coverage evaluations after the last data
    yield worker
    worker.stop()


def get(worker: RunningWorker, path: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(worker.web_url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


def test_the_api_needs_a_token(api_worker: RunningWorker) -> None:
    assert get(api_worker, "/api/areas")[0] == 401
    assert get(api_worker, "/api/areas", "not-a-token")[0] == 401
    assert get(api_worker, "/healthz")[0] == 200


def test_every_area_is_listed_with_a_valid_snapshot(api_worker: RunningWorker) -> None:
    status, body = get(api_worker, "/api/areas", VIEWER)
    assert status == 200
    assert len(body["areas"]) == len(live_areas(load_default_area_pack()))  # rings are not live
    for snapshot in body["areas"]:
        assert_valid("area.snapshots", snapshot)
    present = sum(a["presence"]["officers_present"] for a in body["areas"] if a["kind"] != "other")
    dosed = [a for a in body["areas"] if a["dose"]["24h"]["minutes"] > 0]
    assert dosed, "three simulated hours should put dose in some areas"
    assert present >= 0
    assert {a["coverage"]["state"] for a in body["areas"]} <= {
        "covered",
        "at_risk",
        "uncovered",
        "unknown",
    }


def test_the_displacement_rings_are_served_apart_from_the_live_areas(
    api_worker: RunningWorker,
) -> None:
    pack = load_default_area_pack()
    rings = {area.area_id: area for area in pack if area.kind == "ring"}
    status, body = get(api_worker, "/api/rings.geojson", VIEWER)
    assert status == 200
    served = {feature["id"]: feature for feature in body["features"]}
    assert set(served) == set(rings)
    for ring_id, feature in served.items():
        assert feature["properties"]["ring_of"] == rings[ring_id].properties["ring_of"]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    _, outlines = get(api_worker, "/api/areas.geojson", VIEWER)
    assert not {feature["id"] for feature in outlines["features"]} & set(rings)


def test_the_time_control_replays_the_states_judged_and_a_supervisors_read_is_audited(
    api_worker: RunningWorker,
) -> None:
    _, body = get(api_worker, "/api/areas", VIEWER)
    judged = {a["area_id"]: a for a in body["areas"] if a["ts"] is not None}
    latest = max(a["ts"] for a in judged.values())
    now = {a: s["coverage"]["state"] for a, s in judged.items() if s["ts"] == latest}
    at = urllib.parse.quote(latest)
    status, viewer = get(api_worker, f"/api/replay?at={at}", VIEWER)
    assert status == 200
    assert "officers" not in viewer  # positions are officer-level data
    assert {a: viewer["states"].get(a) for a in now} == now

    earlier = datetime.fromisoformat(latest) - timedelta(minutes=30)
    status, past = get(
        api_worker, f"/api/replay?at={urllib.parse.quote(earlier.isoformat())}", SUPERVISOR
    )
    assert status == 200
    assert past["officers"], "officers were on patrol half an hour before the end"
    for officer in past["officers"]:
        assert officer["officer"].startswith("o_")
        assert earlier - timedelta(minutes=5) <= datetime.fromisoformat(officer["ts"]) <= earlier
    _, audit = get(api_worker, "/api/audit?n=5", SUPERVISOR)
    assert audit["entries"][-1]["what"] == "replay"


@pytest.mark.parametrize(
    "query",
    ["", "?at=yesterday", "?at=2026-11-20T18:00:00", "?at=2026-11-20T10:00:00Z"],
    ids=["missing", "not-a-time", "no-offset", "older-than-3-hours"],
)
def test_the_time_control_refuses_an_instant_it_cannot_replay(
    api_worker: RunningWorker, query: str
) -> None:
    status, body = get(api_worker, f"/api/replay{query}", VIEWER)
    assert status == 400
    assert "at" in body["error"]


def test_officer_level_endpoints_refuse_a_viewer(api_worker: RunningWorker) -> None:
    for path in ("/api/officers", "/api/officers/nearest?lat=52.48&lon=-1.89", "/api/audit"):
        status, body = get(api_worker, path, VIEWER)
        assert status == 403, path
        assert "supervisor" in body["error"]


def test_a_supervisor_read_of_officers_is_audited(api_worker: RunningWorker) -> None:
    status, body = get(api_worker, "/api/officers/nearest?lat=52.48&lon=-1.89&n=3", SUPERVISOR)
    assert status == 200
    assert len(body["officers"]) <= 3
    distances = [officer["distance_m"] for officer in body["officers"]]
    assert distances == sorted(distances)
    for officer in body["officers"]:
        assert officer["officer"].startswith("o_")
        assert officer["mode"] in ("foot", "vehicle")
    _, audit = get(api_worker, "/api/audit?n=10", SUPERVISOR)
    last = audit["entries"][-1]
    assert (last["who"], last["what"]) == ("sgt-jones", "officers_nearest")
    assert "lat=52.48" in last["path"]


def test_the_nearest_officers_search_radius_is_a_parameter(api_worker: RunningWorker) -> None:
    place = "/api/officers/nearest?lat=52.48&lon=-1.89&n=100"
    _, wide = get(api_worker, place, SUPERVISOR)
    status, narrow = get(api_worker, f"{place}&within_km=0.5", SUPERVISOR)
    assert status == 200
    assert (wide["within_km"], narrow["within_km"]) == (50.0, 0.5)
    assert all(officer["distance_m"] <= 500 for officer in narrow["officers"])
    assert len(narrow["officers"]) < len(wide["officers"]), "officers are spread over the city"


def test_an_unknown_api_path_is_answered_in_json(api_worker: RunningWorker) -> None:
    status, body = get(api_worker, "/api/no-such-thing", VIEWER)
    assert status == 404
    assert "/api/no-such-thing" in body["error"]


def test_area_detail_shows_visits_only_to_a_supervisor(api_worker: RunningWorker) -> None:
    status, body = get(api_worker, "/api/areas/patrol-area", VIEWER)
    assert status == 200
    assert body["visits_recent"] is None
    assert body["geometry"]["type"] in ("Polygon", "MultiPolygon")
    status, body = get(api_worker, "/api/areas/patrol-area", SUPERVISOR)
    assert status == 200
    assert body["visits_recent"], "officers patrol the patrol area all afternoon"
    for visit in body["visits_recent"]:
        assert_valid("presence.visits", visit)
    assert get(api_worker, "/api/areas/nowhere", VIEWER)[0] == 404


@pytest.mark.parametrize(
    "query",
    [
        "lat=abc&lon=-1.89",
        "lat=100&lon=-1.89",
        "lon=-1.89",
        "lat=52.48&lon=-1.89&n=0",
        "lat=nan&lon=1",
        "lat=52.48&lon=-1.89&within_km=0",
        "lat=52.48&lon=-1.89&within_km=5000",
    ],
)
def test_bad_query_parameters_get_400_with_a_message(api_worker: RunningWorker, query: str) -> None:
    status, body = get(api_worker, f"/api/officers/nearest?{query}", SUPERVISOR)
    assert status == 400
    assert body["error"]


def test_alerts_and_incidents_are_served(api_worker: RunningWorker) -> None:
    status, body = get(api_worker, "/api/alerts", VIEWER)
    assert status == 200
    for alert in body["recent"]:
        assert_valid("coverage.alerts", alert)
    status, body = get(api_worker, "/api/incidents", VIEWER)
    assert status == 200
    for incident in body["incidents"]:
        assert incident["lat"] is not None


async def test_live_events_arrive_over_sse(api_worker: RunningWorker) -> None:
    async def first_event() -> str:
        url = f"{api_worker.web_url}/api/events?token={VIEWER}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            async for line in response.content:
                if line.startswith(b"event: "):
                    return line.decode().split(": ", 1)[1].strip()
        return ""

    settings = api_worker.settings
    options = SimulationOptions(
        seed=6, officers=10, start=datetime(2026, 11, 20, 18, 0, tzinfo=UTC), duration_seconds=600
    )
    feed = [r for r in generate(options, load_default_area_pack()) if r.topic == "airwave.pings"]
    listener = asyncio.ensure_future(asyncio.wait_for(first_event(), 30))
    await asyncio.sleep(1.0)
    await publish(feed, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    assert await listener in ("area", "alert")


def post(worker: RunningWorker, path: str, body: object, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        worker.web_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


def test_a_supervisor_acknowledges_assigns_and_notes_an_alert_and_it_is_audited(
    api_worker: RunningWorker,
) -> None:
    _, body = get(api_worker, "/api/alerts", SUPERVISOR)
    assert body["active"], "the simulated afternoon leaves an active alert"
    alert = body["active"][0]
    path = f"/api/alerts/{alert['alert_id']}/actions"

    status, acknowledged = post(api_worker, path, {"action": "acknowledged"}, SUPERVISOR)
    assert status == 201
    assert (acknowledged["by"], acknowledged["severity"]) == ("sgt-jones", alert["severity"])
    for action in (
        {"action": "assigned", "callsign": "BX21"},
        {"action": "noted", "note": "unit en route"},
    ):
        assert post(api_worker, path, action, SUPERVISOR)[0] == 201

    _, served = get(api_worker, "/api/alerts", SUPERVISOR)
    taken = served["actions"][alert["alert_id"]]
    assert [a["action"] for a in taken["actions"]] == ["acknowledged", "assigned", "noted"]
    assert taken["actions"][1]["callsign"] == "BX21"
    assert taken["escalated"] is False
    _, seen_by_viewer = get(api_worker, "/api/alerts", VIEWER)
    assert [a["callsign"] for a in seen_by_viewer["actions"][alert["alert_id"]]["actions"]] == [
        None,
        None,
        None,
    ]

    _, audit = get(api_worker, "/api/audit?n=20", SUPERVISOR)
    entries = [e for e in audit["entries"] if e["what"] == "alert_action"]
    assert [e["detail"]["action"] for e in entries[-3:]] == ["acknowledged", "assigned", "noted"]
    assert all(e["who"] == "sgt-jones" for e in entries[-3:])
    assert "unit en route" not in json.dumps(audit)  # the audit says a note was added, not what


def test_alert_actions_are_for_supervisors_on_active_alerts_with_valid_bodies(
    api_worker: RunningWorker,
) -> None:
    _, body = get(api_worker, "/api/alerts", SUPERVISOR)
    path = f"/api/alerts/{body['active'][0]['alert_id']}/actions"
    assert post(api_worker, path, {"action": "acknowledged"}, VIEWER)[0] == 403
    status, refused = post(api_worker, path, {"action": "assigned"}, SUPERVISOR)
    assert (status, "callsign" in refused["error"]) == (400, True)
    assert post(api_worker, path, ["acknowledged"], SUPERVISOR)[0] == 400
    status, missing = post(api_worker, "/api/alerts/nope/actions", {"action": "noted"}, SUPERVISOR)
    assert (status, missing["error"]) == (404, "no active alert has that id")


def test_crimes_and_stop_searches_of_the_last_day_are_served_without_callsigns(
    api_worker: RunningWorker,
) -> None:
    status, crimes = get(api_worker, "/api/places?kind=crime", VIEWER)
    assert status == 200
    assert crimes["places"], "the simulated afternoon records crimes"
    assert {p["kind"] for p in crimes["places"]} == {"crime"}
    times = [p["ts"] for p in crimes["places"]]
    assert times == sorted(times, reverse=True)
    status, searches = get(api_worker, "/api/places?kind=stop_search&hours=24", VIEWER)
    assert status == 200
    for place in searches["places"]:
        assert set(place) == {"kind", "lat", "lon", "ts", "what", "outcome"}
    assert get(api_worker, "/api/places?kind=officers", VIEWER)[0] == 400
    assert get(api_worker, "/api/places?kind=crime&hours=48", VIEWER)[0] == 400
