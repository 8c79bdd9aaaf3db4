"""CAD assignments and stop-searches joined by event time through the real broker and worker:
an incident published ahead of the pings it concerns makes the same reactive dose as one
published in step with them, and its category reaches the visit; a stop-search read after the
pings of its minute revises the visit ``stop_search``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis

from schemas import assert_valid
from streams.settings import Settings
from tests.helpers.kafka import produce, read_topic, run
from tests.integration.conftest import RunningWorker

pytestmark = pytest.mark.integration

STEP_S = 30
FIXES = 80  # 40 minutes in the area
ASSIGNED_S, CLOSED_S = 600, 1500
AHEAD = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
IN_STEP = AHEAD + timedelta(hours=6)


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
        "role": "response",
        "device": "handheld",
        "on_duty": True,
    }
    return issi.encode(), orjson.dumps(value)


def fix(issi: str, ts: datetime, lat: float, lon: float = -1.895) -> tuple[bytes, bytes]:
    value = {"issi": issi, "ts": ts.isoformat(), "lat": lat, "lon": lon}
    return issi.encode(), orjson.dumps(value)


WANDER = (0.0, 0.00001, -0.00001, 0.00002)
"""Degrees of latitude (about 1-2 m) a receiver standing still wanders by (an exactly repeated
position is a stuck radio, which covers nothing)."""


def patrol(issi: str, first: datetime, lat: float) -> list[tuple[bytes, bytes]]:
    """A fix every 30 s in one place, then one far away hours later (it settles the rest)."""
    return [
        fix(issi, first + timedelta(seconds=STEP_S * n), lat + WANDER[n % 4]) for n in range(FIXES)
    ] + [fix(issi, first + timedelta(hours=3), 52.6, -1.8)]


def incident(
    incident_id: str, callsign: str, first: datetime, lat: float
) -> list[tuple[bytes, bytes]]:
    events = [
        {
            "incident_id": incident_id,
            "event": "opened",
            "ts": (first + timedelta(seconds=300)).isoformat(),
            "grade": "immediate",
            "category": "Robbery",
            "lat": lat,
            "lon": -1.895,
        },
        {
            "incident_id": incident_id,
            "event": "assigned",
            "ts": (first + timedelta(seconds=ASSIGNED_S)).isoformat(),
            "callsigns": [callsign],
        },
        {
            "incident_id": incident_id,
            "event": "closed",
            "ts": (first + timedelta(seconds=CLOSED_S)).isoformat(),
        },
    ]
    return [(incident_id.encode(), orjson.dumps(event)) for event in events]


def dose_by_activity(client: redis.Redis, prefix: str, area_id: str) -> dict[str, float]:
    """An area's dose since the start by activity, summed over the pings partitions."""
    found: dict[str, float] = {}
    for key in client.keys(f"{prefix}:{{airwave.pings.*}}:dose:total"):
        for field, seconds in client.hgetall(key).items():
            area, _, _, activity = field.decode().split("|")
            if area == area_id:
                found[activity] = found.get(activity, 0.0) + float(seconds)
    return found


def assignment_of(client: redis.Redis, prefix: str, name: str) -> dict[str, object] | None:
    """The stored assignment interval ``callsign|incident_id``, if any."""
    for key in client.keys(f"{prefix}:*:assigned"):
        value = client.hget(key, name)
        if value is not None:
            return dict(orjson.loads(value))
    return None


def wait_for(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_cad_read_ahead_of_the_pings_gives_the_dose_of_cad_read_in_step(
    event_worker: RunningWorker,
) -> None:
    settings = event_worker.settings
    client = redis.Redis.from_url(settings.redis_url)
    prefix = settings.key_prefix

    def send(topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))

    def accepted() -> float:
        return event_worker.metric("coverwatch_fixes_total", outcome="accepted")

    def assignment(name: str) -> dict[str, object] | None:
        return assignment_of(client, prefix, name)

    def dose(area_id: str) -> dict[str, float]:
        return dose_by_activity(client, prefix, area_id)

    send("areas.definitions", [(b"ia-a", orjson.dumps(square("ia-a", 52.48)))])
    send("areas.definitions", [(b"ia-b", orjson.dumps(square("ia-b", 52.50)))])
    send("resources.roster", [roster("3300001", "KA"), roster("3300002", "KB")])
    wait_for(lambda: client.hlen(f"{prefix}:{{areas}}:features") == 2)
    wait_for(lambda: client.hlen(f"{prefix}:{{directory}}:roster") == 2)

    # ahead: the whole incident (assigned, then closed) is read before any of the pings
    send("cad.incidents", incident("INC-A", "KA", AHEAD, 52.485))
    wait_for(lambda: (assignment("KA|INC-A") or {}).get("until") is not None)
    send("airwave.pings", patrol("3300001", AHEAD, 52.485))
    wait_for(lambda: accepted() == FIXES + 1)

    # in step: each CAD event is read once the pings before it are
    pings = patrol("3300002", IN_STEP, 52.505)
    opened, assigned, closed = incident("INC-B", "KB", IN_STEP, 52.505)
    before_assigned, before_closed = ASSIGNED_S // STEP_S, CLOSED_S // STEP_S
    send("airwave.pings", pings[:before_assigned])
    wait_for(lambda: accepted() == FIXES + 1 + before_assigned)
    send("cad.incidents", [opened, assigned])
    wait_for(lambda: assignment("KB|INC-B") is not None)
    send("airwave.pings", pings[before_assigned:before_closed])
    wait_for(lambda: accepted() == FIXES + 1 + before_closed)
    send("cad.incidents", [closed])
    wait_for(lambda: (assignment("KB|INC-B") or {}).get("until") is not None)
    send("airwave.pings", pings[before_closed:])
    wait_for(lambda: accepted() == 2 * (FIXES + 1))
    wait_for(lambda: sum(dose("ia-b").values()) >= sum(dose("ia-a").values()) > 0)

    ahead, in_step = dose("ia-a"), dose("ia-b")
    assert in_step.get("reactive", 0.0) >= CLOSED_S - ASSIGNED_S - STEP_S
    assert ahead == pytest.approx(in_step)
    for area_id in ("ia-a", "ia-b"):  # 15 of their 40 minutes attended the robbery
        visits = visits_on_topic(settings, area_id, closed=True)
        final = max(visits, key=lambda v: int(v["revision"]))  # type: ignore[call-overload]
        assert (final["activity"], final["incident_category"]) == ("proactive", "Robbery")
        assert final["stop_search"] is False
        for visit in visits:
            assert_valid("presence.visits", visit)


def test_a_roster_change_read_ahead_applies_from_its_time(event_worker: RunningWorker) -> None:
    settings = event_worker.settings
    client = redis.Redis.from_url(settings.redis_url)
    prefix = settings.key_prefix
    first = IN_STEP + timedelta(hours=6)
    change_s = 600

    def send(topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))

    def dose_by_role(area_id: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for key in client.keys(f"{prefix}:{{airwave.pings.*}}:dose:total"):
            for field, seconds in client.hgetall(key).items():
                area, role, _, _ = field.decode().split("|")
                if area == area_id:
                    found[role] = found.get(role, 0.0) + float(seconds)
        return found

    later = orjson.loads(roster("3300003", "KC")[1])
    later.update(role="roads", ts=(first + timedelta(seconds=change_s)).isoformat())
    send("areas.definitions", [(b"ia-c", orjson.dumps(square("ia-c", 52.52)))])
    send("resources.roster", [roster("3300003", "KC"), (b"3300003", orjson.dumps(later))])
    wait_for(
        lambda: (
            (client.hget(f"{prefix}:{{directory}}:roster_history", "3300003") or b"").count(b"\n")
            == 1
        )
    )
    wait_for(lambda: client.hexists(f"{prefix}:{{areas}}:features", "ia-c"))
    send("airwave.pings", patrol("3300003", first, 52.525))
    wait_for(lambda: sum(dose_by_role("ia-c").values()) >= (FIXES - 1) * STEP_S - 60)

    by_role = dose_by_role("ia-c")
    assert by_role["response"] == pytest.approx(change_s, abs=2 * STEP_S)
    assert by_role["roads"] == pytest.approx((FIXES - 1) * STEP_S - change_s, abs=2 * STEP_S)


def test_cad_read_behind_the_pings_within_the_lateness_is_revised_to_the_same_dose(
    event_worker: RunningWorker,
) -> None:
    """The assignment is read a minute of event time after the pings it concerns: the fixes
    already classified proactive are classified again (dose moved, visit revised)."""
    settings = event_worker.settings
    client = redis.Redis.from_url(settings.redis_url)
    prefix = settings.key_prefix
    first = IN_STEP + timedelta(hours=12)
    behind_s = 60

    def send(topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))

    def accepted() -> float:
        return event_worker.metric("coverwatch_fixes_total", outcome="accepted")

    def activity_dose(area_id: str) -> dict[str, float]:
        return dose_by_activity(client, prefix, area_id)

    send("areas.definitions", [(b"ia-d", orjson.dumps(square("ia-d", 52.54)))])
    send("resources.roster", [roster("3300004", "KD")])
    wait_for(lambda: client.hexists(f"{prefix}:{{areas}}:features", "ia-d"))
    wait_for(lambda: client.hexists(f"{prefix}:{{directory}}:roster", "3300004"))
    pings = patrol("3300004", first, 52.545)
    opened, assigned, closed = incident("INC-D", "KD", first, 52.545)
    start = accepted()
    after_assigned = (ASSIGNED_S + behind_s) // STEP_S + 1
    after_closed = CLOSED_S // STEP_S  # the close is read in step (errors must not cancel out)
    send("airwave.pings", pings[:after_assigned])
    wait_for(lambda: accepted() == start + after_assigned)
    send("cad.incidents", [opened, assigned])  # a minute after the pings that follow it
    wait_for(lambda: assignment_of(client, prefix, "KD|INC-D") is not None)
    send("airwave.pings", pings[after_assigned:after_closed])
    wait_for(lambda: accepted() == start + after_closed)
    send("cad.incidents", [closed])
    wait_for(lambda: (assignment_of(client, prefix, "KD|INC-D") or {}).get("until") is not None)
    send("airwave.pings", pings[after_closed:])  # its last fix, hours later, settles the rest
    wait_for(lambda: accepted() == start + FIXES + 1)
    wait_for(lambda: sum(activity_dose("ia-d").values()) >= (FIXES - 1) * STEP_S - 60)

    by_activity = activity_dose("ia-d")
    assert by_activity["reactive"] == pytest.approx(CLOSED_S - ASSIGNED_S, abs=1e-6)
    assert by_activity["proactive"] == pytest.approx(
        (FIXES - 1) * STEP_S - (CLOSED_S - ASSIGNED_S), abs=1e-6
    )


def visits_on_topic(settings: Settings, area_id: str, closed: bool) -> list[dict[str, object]]:
    """Every ``presence.visits`` value of ``area_id``, read until one of them is closed (if
    ``closed``)."""

    def done(values: list[dict[str, object]]) -> bool:
        return not closed or any(
            v["area_id"] == area_id and v["status"] == "closed" for v in values
        )

    values = run(
        read_topic(settings.kafka_bootstrap, settings.topic("presence.visits"), until=done)
    )
    return [value for value in values if value["area_id"] == area_id]


def test_a_stop_search_read_after_the_pings_of_its_minute_marks_the_visit_stop_search(
    event_worker: RunningWorker,
) -> None:
    """A stop-search by the officer's callsign, in the area, read a minute of event time after
    the pings of its minute: the visit is revised ``stop_search`` (and stays so), as if it had
    been read first. A stop-search by another callsign, or elsewhere, marks nothing."""
    settings = event_worker.settings
    client = redis.Redis.from_url(settings.redis_url)
    prefix = settings.key_prefix
    first = IN_STEP + timedelta(hours=18)
    search_s = 305

    def send(topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        run(produce(settings.kafka_bootstrap, settings.topic(topic), messages))

    def accepted() -> float:
        return event_worker.metric("coverwatch_fixes_total", outcome="accepted")

    def search(search_id: str, callsign: str, lat: float) -> tuple[bytes, bytes]:
        value = {
            "schema": "stopsearch.events/1",
            "id": search_id,
            "ts": (first + timedelta(seconds=search_s)).isoformat(),
            "lat": lat,
            "lon": -1.895,
            "object_of_search": "Controlled drugs",
            "outcome": "Arrest",
            "callsign": callsign,
        }
        return search_id.encode(), orjson.dumps(value)

    send("areas.definitions", [(b"ia-e", orjson.dumps(square("ia-e", 52.56)))])
    send("areas.definitions", [(b"ia-f", orjson.dumps(square("ia-f", 52.58)))])
    send("resources.roster", [roster("3300005", "KE"), roster("3300006", "KF")])
    wait_for(lambda: client.hexists(f"{prefix}:{{areas}}:features", "ia-f"))
    wait_for(lambda: client.hexists(f"{prefix}:{{directory}}:roster", "3300006"))
    start = accepted()
    read_first = (search_s + 60) // STEP_S + 1  # the pings up to a minute after the search
    searched_e, searched_f = patrol("3300005", first, 52.565), patrol("3300006", first, 52.585)
    send("airwave.pings", searched_e[:read_first] + searched_f[:read_first])
    wait_for(lambda: accepted() == start + 2 * read_first, timeout_s=90)
    send(
        "stopsearch.events",
        [
            search("SS-E", "KE", 52.565),  # KE in ia-e, where KE is
            search("SS-F", "KE", 52.585),  # KE again, but in ia-f
            search("SS-G", "KX", 52.585),  # another callsign, in ia-f
        ],
    )
    wait_for(lambda: client.hlen(f"{prefix}:{{stopsearch.events.0}}:searched") == 3)
    send("airwave.pings", searched_e[read_first:] + searched_f[read_first:])
    wait_for(lambda: accepted() == start + 2 * (FIXES + 1), timeout_s=90)

    in_e = visits_on_topic(settings, "ia-e", closed=True)
    in_f = visits_on_topic(settings, "ia-f", closed=True)
    final_e = max(in_e, key=lambda v: int(v["revision"]))  # type: ignore[call-overload]
    final_f = max(in_f, key=lambda v: int(v["revision"]))  # type: ignore[call-overload]
    assert (final_e["status"], final_e["stop_search"]) == ("closed", True)
    assert (final_f["status"], final_f["stop_search"]) == ("closed", False)
    revisions = sorted(in_e, key=lambda v: int(v["revision"]))  # type: ignore[call-overload]
    marked = [v["stop_search"] for v in revisions]
    assert marked[0] is False  # published before the stop-search was read
    assert marked[marked.index(True) :] == [True] * (len(marked) - marked.index(True))
