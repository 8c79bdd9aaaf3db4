"""Alert latency: from an Impact Area crossing its limit to its ``uncovered`` alert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from streams import topics
from streams.devtools.bench.plan import Plan
from streams.devtools.bench.probes import scrape, start_consumer
from streams.devtools.bench.support import (
    BENCH_EPOCH,
    Fleet,
    Row,
    area_messages,
    make_fleet,
    missing_reason,
    ping_messages,
    square_area,
)
from streams.devtools.stack.embedded import python_command, wait_until
from streams.domain.timefmt import format_ts
from streams.engines.coverage import judging_hold_s
from streams.kafka.producer import Producer, new_producer
from streams.kafka.reader import TopicPartition, new_reader
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench


STEP_S = 3.0
"""Event time between two pings of the bench radio (and two clock ticks)."""
LIMIT_S = 60.0
"""The bench Impact Area's limit between qualifying visits."""

Alert = tuple[float, dict[str, Any]]
"""(when it was read, the alert)."""


def measure(bench: Bench) -> dict[str, Any]:
    """From an Impact Area crossing its limit to its ``uncovered`` alert (pluggable: any
    coverage engine that publishes ``coverage.alerts`` is measured; none -> not measured)."""
    settings = bench.settings("alert", clock="event")
    centre_lon, centre_lat = -1.89, 52.48
    area = square_area(
        "bench-alert",
        centre_lon,
        centre_lat,
        400.0,
        {"bands": [], "default_max_gap_minutes": int(LIMIT_S // 60), "alert": True},
    )
    fleet = make_fleet(1, [area])
    fleet = Fleet(fleet.issis, fleet.vehicle, fleet.lon * 0 + centre_lon + 0.05, fleet.lat)
    roster = fleet.roster_messages()
    bench.publish(settings, [(topics.AREAS, area_messages([area])), (topics.ROSTER, roster)])
    worker = start_consumer(settings, python_command("worker"), bench.log_dir, "alert")
    try:
        wait_until(
            "alert worker reads the area and the roster",
            lambda: (
                scrape(worker.url).value("coverwatch_messages_consumed_total", topic=topics.AREAS)
                >= 1
            ),
            worker.process,
            60,
        )
        return asyncio.run(alert_run(bench.plan, settings, fleet))
    finally:
        worker.stop()


async def alert_run(plan: Plan, settings: Settings, fleet: Fleet) -> dict[str, Any]:
    """Read ``coverage.alerts`` while the event clock runs the radio outside the area past the
    limit; the latency of the ``uncovered`` alert, or why there is none."""
    hold_s = judging_hold_s(settings)  # the instant of the crossing is judged this much later
    alerts: list[Alert] = []
    consumer = new_reader(settings.kafka_bootstrap, fetch_max_wait_ms=20)
    await consumer.start()
    consumer.assign([TopicPartition(settings.topic(topics.ALERTS), 0)])
    await consumer.seek_to_beginning()
    stop = asyncio.Event()

    async def read_alerts() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    try:
                        alerts.append((now, orjson.loads(record.value or b"")))
                    except orjson.JSONDecodeError:
                        continue

    reader = asyncio.create_task(read_alerts())
    producer = new_producer(settings.kafka_bootstrap, linger_ms=0)
    await producer.start()
    try:
        crossed_at, matched = await run_event_clock(plan, settings, producer, fleet, alerts, hold_s)
    finally:
        stop.set()
        await reader
        await consumer.stop()
        await producer.stop()
    return alert_outcome(plan, alerts, crossed_at, matched, hold_s)


async def run_event_clock(
    plan: Plan,
    settings: Settings,
    producer: Producer,
    fleet: Fleet,
    alerts: Sequence[Alert],
    hold_s: float,
) -> tuple[float | None, Alert | None]:
    """A ping and an in-band tick every :data:`STEP_S` of event time, at the plan's speed, until
    the ``uncovered`` alert arrives or the timeout after the crossing passes; when the crossing
    could be judged (wall time) and the alert, if it came."""
    crossed_at: float | None = None
    matched: Alert | None = None
    step = 0
    deadline: float | None = None
    while deadline is None or time.time() < deadline:
        event_ts = BENCH_EPOCH + step * STEP_S
        pings, fleet = ping_messages(fleet, 1, event_ts, 1.0, seed=step)
        for key, value in pings:
            await producer.send(settings.topic(topics.PINGS), value, key=key)
        tick = orjson.dumps(
            {"schema": "clock.ticks/1", "source": "bench", "ts": format_ts(event_ts)}
        )
        for partition in range(topics.BY_NAME[topics.PINGS].partitions):
            await producer.send(  # in band: every pings partition has got this far
                settings.topic(topics.PINGS), tick, key=b"bench", partition=partition
            )
        await producer.send_and_wait(settings.topic(topics.CLOCK_TICKS), tick, key=b"bench")
        if crossed_at is None and event_ts >= BENCH_EPOCH + LIMIT_S + hold_s:
            crossed_at = time.time()
            deadline = crossed_at + plan.alert_timeout_s
        matched = next((item for item in alerts if alert_crossed(item[1])), None)
        if matched is not None and crossed_at is not None:
            break
        step += 1
        await asyncio.sleep(STEP_S / plan.alert_speed)
    return crossed_at, matched


def alert_outcome(
    plan: Plan,
    alerts: Sequence[Alert],
    crossed_at: float | None,
    matched: Alert | None,
    hold_s: float,
) -> dict[str, Any]:
    """The alert step's result: the latency and every alert seen, or why it is not measured."""
    seen = [
        {k: v for k, v in value.items() if k in ("event", "state", "severity", "area_id")}
        for _, value in alerts
    ]
    if matched is None or crossed_at is None:
        reason = (
            f"coverage.alerts got nothing within {plan.alert_timeout_s:.0f} s of the limit "
            "being crossed (no coverage engine publishing yet?)"
            if not alerts
            else f"no 'uncovered' alert within {plan.alert_timeout_s:.0f} s (saw {seen})"
        )
        return {"latency_s": None, "reason": reason, "alerts": seen}
    return {
        "latency_s": matched[0] - crossed_at,
        "reason": "",
        "alerts": seen,
        "limit_s": LIMIT_S,
        "hold_s": hold_s,
        "event_clock_speed": plan.alert_speed,
    }


def alert_crossed(value: Mapping[str, Any]) -> bool:
    """The alert the scenario waits for: the bench area reported ``uncovered``."""
    return value.get("area_id") == "bench-alert" and value.get("state") == "uncovered"


def rows(alert: object) -> list[Row]:
    """The alert latency (target: at most 5 s), or why it was not measured."""
    if isinstance(alert, dict) and alert.get("latency_s") is not None:
        value = float(alert["latency_s"])
        return [Row("alert latency", value, "s", target="<= 5 s", passed=value <= 5.0)]
    reason = alert.get("reason") if isinstance(alert, dict) else missing_reason(alert)
    return [Row("alert latency", None, "s", target="<= 5 s", note=f"not measured: {reason}")]
