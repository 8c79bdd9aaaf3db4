"""Area definitions change while the worker runs: the fence index follows without a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
import redis

from tests.helpers.kafka import produce, run

pytestmark = pytest.mark.integration


def square(area_id: str, lon: float, lat: float, size: float = 0.004) -> bytes:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return orjson.dumps(
        {
            "type": "Feature",
            "id": area_id,
            "properties": {"name": area_id, "kind": "impact"},
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
