"""Area definitions change while the worker runs: the fence index follows without a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
import redis

from tests.helpers.kafka import produce, run

pytestmark = pytest.mark.integration


def square(
    area_id: str, lon: float, lat: float, size: float = 0.004, ring_of: str | None = None
) -> bytes:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    properties = {"name": area_id, "kind": "impact" if ring_of is None else "ring"}
    if ring_of is not None:
        properties["ring_of"] = ring_of
    return orjson.dumps(
        {
            "type": "Feature",
            "id": area_id,
            "properties": properties,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    )


def fixes(issi: str, lon: float, lat: float) -> list[tuple[bytes, bytes]]:
    now = time.time()
    return [
        (
            issi.encode(),
            orjson.dumps(
                {
                    "issi": issi,
                    "ts": datetime.fromtimestamp(now - 40 + 20 * i, UTC).isoformat(),
                    "lat": lat,
                    "lon": lon,
                }
            ),
        )
        for i in range(3)
    ]


def stored_square(worker, area_id: str, lon: float) -> None:  # type: ignore[no-untyped-def]
    """Wait until the areas agent has stored the square at ``lon``: pings and area definitions
    are consumed by different agents, so a fix produced right after its area could otherwise be
    located before the area exists (and rightly count as outside it)."""
    client = redis.Redis.from_url(worker.settings.redis_url)
    try:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            blob = client.hget(f"{worker.settings.key_prefix}:{{areas}}:features", area_id)
            if blob is not None:
                ring = orjson.loads(blob)["geometry"]["coordinates"][0]
                if min(corner for corner, _ in ring) == pytest.approx(lon):
                    return
            time.sleep(0.1)
        raise AssertionError(f"area {area_id} at lon {lon} never stored")
    finally:
        client.close()


def stored_ids(worker) -> set[str]:  # type: ignore[no-untyped-def]
    """The ids of the areas the live service holds (the areas agent's features hash)."""
    client = redis.Redis.from_url(worker.settings.redis_url)
    try:
        key = f"{worker.settings.key_prefix}:{{areas}}:features"
        return {name.decode() for name in client.hkeys(key)}
    finally:
        client.close()


def present_in(worker, area_id: str, issi: str, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    settings = worker.settings
    client = redis.Redis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for partition in range(4):
                key = f"{settings.key_prefix}:{{airwave.pings.{partition}}}:present"
                if client.hexists(key, f"{area_id}|{issi}"):
                    return True
            time.sleep(0.2)
        return False
    finally:
        client.close()


def test_a_redrawn_area_takes_effect_without_a_restart(worker) -> None:  # type: ignore[no-untyped-def]
    settings = worker.settings
    areas = settings.topic("areas.definitions")
    pings = settings.topic("airwave.pings")
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-77", square("ia-77", -1.90, 52.48))]))
    stored_square(worker, "ia-77", -1.90)
    run(produce(settings.kafka_bootstrap, pings, fixes("7700001", -1.898, 52.482)))
    assert present_in(worker, "ia-77", "7700001")

    run(produce(settings.kafka_bootstrap, areas, [(b"ia-77", square("ia-77", -1.80, 52.40))]))
    stored_square(worker, "ia-77", -1.80)
    run(produce(settings.kafka_bootstrap, pings, fixes("7700002", -1.798, 52.402)))
    assert present_in(worker, "ia-77", "7700002")
    run(produce(settings.kafka_bootstrap, pings, fixes("7700003", -1.898, 52.482)))
    assert not present_in(worker, "ia-77", "7700003", timeout_s=5.0)


def test_a_radio_parked_in_a_ring_makes_no_presence_and_the_ring_is_no_live_area(worker) -> None:  # type: ignore[no-untyped-def]
    settings = worker.settings
    areas = settings.topic("areas.definitions")
    pings = settings.topic("airwave.pings")
    ring = square("ia-78-ring", -1.70, 52.30, ring_of="ia-78")
    # one partition: the area after the ring is stored only once the ring has been read
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-78-ring", ring)]))
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-79", square("ia-79", -1.60, 52.30))]))
    stored_square(worker, "ia-79", -1.60)
    assert "ia-78-ring" not in stored_ids(worker)

    run(produce(settings.kafka_bootstrap, pings, fixes("7800001", -1.698, 52.302)))
    run(produce(settings.kafka_bootstrap, pings, fixes("7800002", -1.598, 52.302)))
    assert present_in(worker, "ia-79", "7800002")
    assert not present_in(worker, "ia-78-ring", "7800001", timeout_s=3.0)


def test_a_live_area_redefined_as_a_ring_leaves_the_live_service(worker) -> None:  # type: ignore[no-untyped-def]
    settings = worker.settings
    areas = settings.topic("areas.definitions")
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-80", square("ia-80", -1.50, 52.30))]))
    stored_square(worker, "ia-80", -1.50)
    as_ring = square("ia-80", -1.50, 52.30, ring_of="ia-81")
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-80", as_ring)]))
    run(produce(settings.kafka_bootstrap, areas, [(b"ia-82", square("ia-82", -1.40, 52.30))]))
    stored_square(worker, "ia-82", -1.40)
    assert "ia-80" not in stored_ids(worker)
