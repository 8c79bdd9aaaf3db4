"""Stuck radios through the real broker and worker: a radio repeating one position inside an
Impact Area for three hours covers nothing (the area goes at risk, then uncovered, and raises
one alert), while an officer standing still with metres of GPS wander keeps another covered."""

from __future__ import annotations

import random
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import assert_valid
from streams.devtools.stack.embedded import Services
from tests.helpers.kafka import produce, read_topic, run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

SUPERVISOR = "supervisor-token-0123456789"
START = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)  # the evening band: a 2 h limit, at risk at 1h36m
HOURS = 3
STEP_S = 30
FROZEN_AREA, STANDING_AREA = "ia-frozen", "ia-standing"
FROZEN_RADIO, STANDING_RADIO = "3400001", "3400002"
METRES_PER_DEGREE_LAT = 111_195.0
METRES_PER_DEGREE_LON = METRES_PER_DEGREE_LAT * 0.6088  # cos(52.49°)


def square(area_id: str, south: float) -> dict[str, object]:
    ring = [[-1.9, south], [-1.89, south], [-1.89, south + 0.01], [-1.9, south + 0.01]]
    return {
        "type": "Feature",
        "id": area_id,
        "properties": {"name": area_id, "kind": "impact"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


def roster(issi: str, callsign: str) -> tuple[bytes, bytes]:
    value = {
        "issi": issi,
        "officer_id": f"C{issi}",
        "callsign": callsign,
        "unit": "Central",
        "role": "neighbourhood",
        "device": "handheld",
        "on_duty": True,
        "ts": (START - timedelta(hours=1)).isoformat(),
    }
    return issi.encode(), orjson.dumps(value)


def fix(issi: str, ts: datetime, lat: float, lon: float) -> tuple[bytes, bytes]:
    value = {"issi": issi, "ts": ts.isoformat(), "lat": lat, "lon": lon, "accuracy_m": 5.0}
    return issi.encode(), orjson.dumps(value)


def pings() -> list[tuple[bytes, bytes]]:
    """Both radios every 30 s for three hours, in time order: one repeats a single cached
    position, the other wanders about 5 m about its officer standing still."""
    noise = random.Random(22)
    messages = []
    for n in range(HOURS * 3600 // STEP_S + 1):
        at = START + timedelta(seconds=STEP_S * n)
        messages.append(fix(FROZEN_RADIO, at, 52.485, -1.895))
        north_m, east_m = noise.gauss(0, 5.0), noise.gauss(0, 5.0)
        messages.append(
            fix(
                STANDING_RADIO,
                at,
                52.505 + north_m / METRES_PER_DEGREE_LAT,
                -1.895 + east_m / METRES_PER_DEGREE_LON,
            )
        )
    return messages


def wait_for(check: Callable[[], bool], worker: RunningWorker, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, worker.process.log_tail()
        time.sleep(0.5)


def get(worker: RunningWorker, path: str) -> Any:
    request = urllib.request.Request(worker.web_url + path)
    request.add_header("Authorization", f"Bearer {SUPERVISOR}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


@pytest.fixture(scope="module")
def fed_worker(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    """A worker on the event clock fed the two areas, the two radios and three hours of fixes."""
    settings = worker_settings(
        stack,
        module_name(request),
        clock="event",
        supervisor_tokens=f"sgt-stone={SUPERVISOR}",
    )
    worker = start_worker(stack, settings, work_dir)

    def send(topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))

    send(
        "areas.definitions",
        [
            (FROZEN_AREA.encode(), orjson.dumps(square(FROZEN_AREA, 52.48))),
            (STANDING_AREA.encode(), orjson.dumps(square(STANDING_AREA, 52.50))),
        ],
    )
    send("resources.roster", [roster(FROZEN_RADIO, "KF"), roster(STANDING_RADIO, "KS")])
    wait_for(
        lambda: worker.metric("coverwatch_messages_consumed_total", topic="resources.roster") >= 2,
        worker,
    )
    messages = pings()
    send("airwave.pings", messages)
    wait_for(
        lambda: worker.metric("coverwatch_fixes_total", outcome="accepted") >= len(messages),
        worker,
    )
    yield worker
    worker.stop()


def alerts_for(
    worker: RunningWorker,
    area_id: str,
    until: Callable[[list[Any]], bool],
    timeout_s: float = 90.0,
) -> list[Any]:
    """The alerts of one area on ``coverage.alerts``, read until ``until`` them (or timeout)."""
    settings = worker.settings
    values = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("coverage.alerts"),
            until=lambda values: until([v for v in values if v["area_id"] == area_id]),
            timeout_s=timeout_s,
        )
    )
    return [v for v in values if v["area_id"] == area_id]


def test_a_frozen_radio_alone_in_an_impact_area_leaves_it_uncovered_with_one_alert(
    fed_worker: RunningWorker,
) -> None:
    def escalated(alerts: list[Any]) -> bool:
        return any(a["event"] == "escalated" and a["state"] == "uncovered" for a in alerts)

    alerts = alerts_for(fed_worker, FROZEN_AREA, escalated)
    for alert in alerts:
        assert_valid("coverage.alerts", alert)
    events = [(a["event"], a["state"]) for a in alerts]
    assert events[:2] == [("raised", "at_risk"), ("escalated", "uncovered")], events
    assert len({a["alert_id"] for a in alerts}) == 1
    assert [a for a in alerts if a["event"] == "cleared"] == []
    raised, escalated_at = (datetime.fromisoformat(alerts[i]["ts"]) for i in (0, 1))
    # the gap runs from when monitoring began (18:00): at risk at 80 % of 2 h, uncovered at 2 h
    assert START + timedelta(minutes=96) <= raised < START + timedelta(minutes=100)
    assert START + timedelta(minutes=120) <= escalated_at < START + timedelta(minutes=124)
    assert alerts[1]["evidence"]["officers_present"] == 0


def test_the_frozen_radio_is_stuck_and_the_standing_officer_is_live(
    fed_worker: RunningWorker,
) -> None:
    wait_for(lambda: fed_worker.metric("coverwatch_radios", health="stuck") == 1.0, fed_worker)
    assert fed_worker.metric("coverwatch_radios", health="live") == 1.0
    officers = {o["callsign"]: o for o in get(fed_worker, "/api/officers")["officers"]}
    assert officers["KF"]["health"] == "stuck"
    assert officers["KS"]["health"] == "live"


def test_an_officer_standing_still_with_gps_wander_keeps_the_area_covered(
    fed_worker: RunningWorker,
) -> None:
    alerts_for(fed_worker, FROZEN_AREA, lambda alerts: len(alerts) >= 2)  # evaluated past 20:00
    assert alerts_for(fed_worker, STANDING_AREA, lambda alerts: False, timeout_s=5.0) == []
    area = get(fed_worker, f"/api/areas/{STANDING_AREA}")
    assert area["coverage"]["state"] == "covered", area["coverage"]
    states = [change["state"] for change in area["coverage_history_today"]]
    assert not {"at_risk", "uncovered"} & set(states), states
