"""Throughput: the worker against a no-op Faust agent and two plain aiokafka ``getmany`` loops (one
that only reads, one that also stores each batch in Redis) on the same backlog, and what limits
its rate."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.devtools.bench.probes import (
    PARTITIONS,
    Window,
    mean_window,
    metrics_progress,
    start_consumer,
    watch_backlog,
)
from streams.devtools.bench.replay import ReplayResult, replay
from streams.devtools.bench.support import (
    SATURATED,
    Row,
    cpu_shares_text,
    figure,
    missing_reason,
    rate_between,
    ratio,
    saturation_note,
)
from streams.devtools.stack.embedded import free_port
from streams.kafka.reader import TopicPartition, new_reader
from streams.settings import Settings
from streams.state.measure import LatestValues

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench


def measure(bench: Bench) -> dict[str, Any]:
    """Worker vs no-op Faust agent vs aiokafka getmany on the same backlog. The no-op agent
    reads the backlog just before the worker and again just after it: the machine's speed
    drifts within minutes, and the mean of the two brackets the worker's run."""
    plan = bench.plan
    noop_runs: list[Window] = []
    holder: dict[str, Any] = {}

    def before(settings: Settings) -> None:
        noop_runs.append(noop_window(bench, settings, plan.base_pings, "noop-before"))

    def after(settings: Settings) -> None:
        holder["settings"] = settings
        noop_runs.append(noop_window(bench, settings, plan.base_pings, "noop-after"))

    base = replay(bench, "base", plan.base_radios, 0, plan.base_pings, before=before, after=after)
    settings: Settings = holder["settings"]
    noop = mean_window(noop_runs)
    print(
        f"  no-op Faust agent: {figure(noop.rate)} pings/s (before the worker "
        f"{figure(noop_runs[0].rate)}, after {figure(noop_runs[1].rate)})",
        flush=True,
    )
    ceiling = asyncio.run(
        getmany_rate(
            settings.kafka_bootstrap,
            settings.topic(topics.PINGS),
            base.pings,
            settings.fetch_max_wait_ms,
            settings.batch_size,
            plan.consume_timeout_s,
        )
    )
    print(f"  aiokafka getmany: {figure(ceiling.rate)} pings/s", flush=True)
    stored = asyncio.run(
        getmany_rate(
            settings.kafka_bootstrap,
            settings.topic(topics.PINGS),
            base.pings,
            settings.fetch_max_wait_ms,
            settings.batch_size,
            plan.consume_timeout_s,
            redis_url=settings.redis_url,
            key=f"{settings.key_prefix}-ceiling:latest",
        )
    )
    print(f"  aiokafka getmany + a Redis pipeline per batch: {figure(stored.rate)} pings/s")
    return {
        "worker": base,
        "noop": noop,
        "noop_runs": noop_runs,
        "getmany": ceiling,
        "getmany_redis": stored,
    }


def noop_window(bench: Bench, settings: Settings, pings: int, label: str) -> Window:
    """The no-op Faust agent reading the backlog of ``settings`` in a group of its own."""
    noop_settings = replace(settings, app_id=f"{settings.app_id}-{label}", web_port=free_port())
    noop = start_consumer(
        noop_settings,
        [sys.executable, "-m", "streams.devtools.bench.support", "noop"],
        bench.log_dir,
        label,
    )
    try:
        window = watch_backlog(
            noop.process,
            metrics_progress(noop.url),
            pings,
            bench.plan.consume_timeout_s,
            bench.plan.max_window_s,
            bench.pids(noop),
            bench.plan.warmup_s,
        )
    finally:
        noop.stop()
    window.cpu["noop"] = window.cpu.pop("worker", 0.0)
    window.cpu.pop("presence", None)
    return window


async def getmany_rate(
    bootstrap: str,
    topic: str,
    total: int,
    fetch_wait_ms: int,
    batch: int,
    timeout_s: float,
    redis_url: str | None = None,
    key: str = "",
) -> Window:
    """A ceiling: a plain aiokafka consumer reading ``total`` messages with ``getmany``; with
    ``redis_url``, each batch also stored in Redis by one pipeline (each message's value set as
    its key's latest, one ``HSET`` per message: the least a stateful consumer does)."""
    consumer = new_reader(bootstrap, fetch_max_wait_ms=fetch_wait_ms)
    store = None if redis_url is None else LatestValues(redis_url, key)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        count = 0
        first: tuple[float, int] | None = None
        last = (0.0, 0)
        cpu0 = time.process_time()
        deadline = time.monotonic() + timeout_s
        while count < total and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=batch)
            received = sum(len(records) for records in batches.values())
            if not received:
                continue
            if store is not None:
                await store.store(
                    (record.key or b"", record.value or b"")
                    for records in batches.values()
                    for record in records
                )
            now = time.monotonic()
            count += received
            if first is None:
                first, cpu0 = (now, count), time.process_time()
            last = (now, count)
        window = Window(completed=count >= total)
        if first is not None:
            window.rate = rate_between([first, last])
            window.messages = last[1] - first[1]
            window.seconds = last[0] - first[0]
            if window.seconds > 0:
                window.cpu["bench (getmany)"] = (time.process_time() - cpu0) / window.seconds
        return window
    finally:
        await consumer.stop()
        if store is not None:
            await store.close()


def limits_summary(results: Mapping[str, Any]) -> list[str]:
    """What limits the rate, from the CPU shares of the base replay and the no-op run."""
    throughput = results.get("throughput")
    if not isinstance(throughput, dict):
        return []
    worker: ReplayResult = throughput["worker"]
    noop: Window = throughput["noop"]
    lines = [
        f"worker replay: CPU share of one core {cpu_shares_text(worker.window.cpu)} (worker = its "
        "event loop, presence = its presence process; 2 cores here; a share near 1.0 is one "
        "saturated Python thread)",
        f"no-op Faust agent: CPU {cpu_shares_text(noop.cpu)}",
        f"worker per ping: {figure(worker.us_per_ping)} us wall, "
        f"{figure(worker.cpu_us_per_ping)} us CPU in its two processes; the pings reader waits "
        f"{figure(worker.handler_us_per_ping)} us per ping for the presence process (decode to "
        f"Redis commit); no-op agent {figure(1e6 / noop.rate if noop.rate else None)} us wall",
        f"mean batch {figure(worker.mean_batch)} pings; Redis round trips per batch "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(worker.round_trips_per_batch.items())),
    ]
    cpu = worker.window.cpu
    loop, presence = cpu.get("worker", 0.0), cpu.get("presence", 0.0)
    if loop >= SATURATED:
        lines.append(
            f"=> the worker's event loop is CPU-bound ({loop:.2f} of a core): the pings "
            "reader's fetches, the other agents, the coverage evaluator and the timers limit "
            "the rate"
        )
    elif presence >= SATURATED:
        lines.append(
            f"=> the presence process is CPU-bound ({presence:.2f} of a core): the pings hot "
            "path (decode, locate, track state machine, Redis changes) limits the rate"
        )
    elif cpu.get("redis", 0.0) >= 0.75:
        lines.append("=> Redis is saturated: the Lua commit limits the rate")
    else:
        lines.append(
            "=> neither process saturates a core: the presence process waits on Redis (its Lua "
            "commit) and the broker (the visits it emits) for part of each batch, and the "
            "batches in flight do not cover that wait"
        )
    return lines


NOOP_TARGET = 3.0
"""The worker against the no-op Faust agent (issue 25: pings read past Faust)."""
CEILING_TARGET = 0.4
"""The worker against a plain ``getmany`` loop storing each batch in Redis with one pipeline."""


def rows(throughput: object) -> list[Row]:
    """The worker's rate against the no-op agent's (target: at least 3x) and against the plain
    consumer that stores each batch in Redis (at least 0.4x); the no-op agent and the worker
    against the bare ``getmany`` loop, for information."""
    if not isinstance(throughput, dict):
        return [Row("end-to-end pings/s per worker", None, "", note=missing_reason(throughput))]
    worker: ReplayResult = throughput["worker"]
    noop: Window = throughput["noop"]
    ceiling: Window = throughput["getmany"]
    stored: Window | None = throughput.get("getmany_redis")
    measured = worker.window.rate
    return [
        Row(
            "end-to-end pings/s per worker",
            measured,
            "/s",
            noop.rate,
            "no-op Faust agent",
            f">= {NOOP_TARGET:g}x no-op",
            _at_least(measured, noop.rate, NOOP_TARGET),
            note=saturation_note(
                {"worker": worker.worker_share, "no-op agent": noop.cpu.get("noop")}
            )
            + f"; the worker's event loop {figure(worker.window.cpu.get('worker'))} and its "
            f"presence process {figure(worker.window.cpu.get('presence'))}; the no-op agent "
            "read the backlog before and after the worker: "
            + " and ".join(f"{figure(run.rate)}/s" for run in throughput.get("noop_runs", [])),
        ),
        Row(
            "end-to-end vs getmany + a Redis pipeline per batch",
            measured,
            "/s",
            None if stored is None else stored.rate,
            "getmany + Redis",
            f">= {CEILING_TARGET:g}x",
            None if stored is None else _at_least(measured, stored.rate, CEILING_TARGET),
        ),
        Row("end-to-end vs aiokafka getmany", measured, "/s", ceiling.rate, "getmany", "info"),
        Row("no-op Faust agent vs getmany", noop.rate, "/s", ceiling.rate, "getmany", "info"),
    ]


def _at_least(measured: float | None, baseline: float | None, target: float) -> bool | None:
    measured_ratio = ratio(measured, baseline)
    return None if measured_ratio is None else measured_ratio >= target
