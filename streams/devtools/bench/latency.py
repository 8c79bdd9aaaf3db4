"""Ingest -> Redis latency at fixed offered loads on the wall clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.devtools.bench.loading import Messages
from streams.devtools.bench.probes import PARTITIONS, cpu_sample, scrape
from streams.devtools.bench.support import (
    Fleet,
    Row,
    as_ms,
    bucket_delta,
    cpu_shares_text,
    histogram_quantile,
    missing_reason,
    percentile,
    ping_messages,
    watermark_latencies,
)
from streams.kafka.producer import Producer, new_producer
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import State

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench


WATERMARK_POLL_S = 0.005
SETTLE_S = 30.0
"""How long the bench waits for the last pings sent to be applied."""

Observation = tuple[float, dict[int, int]]
"""(time, applied-offset watermark by pings partition)."""
Send = tuple[int, int, float]
"""(partition, offset, send time) of one ping."""


def measure(bench: Bench) -> dict[str, Any]:
    """Ingest -> Redis latency at each fixed offered load, after a warm-up at that load."""
    plan = bench.plan
    worker, fleet = bench.start_live_worker("latency", plan.latency_radios)
    settings = worker.settings
    results: dict[str, Any] = {}
    try:
        for rate in plan.latency_rates:
            fleet, _ = asyncio.run(offered_load(settings, fleet, rate, plan.latency_warmup_s))
            before = scrape(worker.url)
            cpu0 = cpu_sample(bench.pids(worker))
            t0 = time.monotonic()
            fleet, phase = asyncio.run(offered_load(settings, fleet, rate, plan.latency_seconds))
            elapsed = time.monotonic() - t0
            after = scrape(worker.url)
            histogram = bucket_delta(
                after.buckets("coverwatch_ingest_latency_seconds", topic=topics.PINGS),
                before.buckets("coverwatch_ingest_latency_seconds", topic=topics.PINGS),
            )
            phase["worker_histogram_p50_s"] = histogram_quantile(histogram, 0.5)
            phase["worker_histogram_p99_s"] = histogram_quantile(histogram, 0.99)
            cpu1 = cpu_sample(bench.pids(worker))
            phase["cpu"] = {
                name: (end - start) / elapsed
                for name, end in cpu1.items()
                if (start := cpu0.get(name)) is not None and end is not None
            }
            results[str(rate)] = phase
            print(
                f"  {rate} pings/s offered ({phase['achieved_rate']:.0f} achieved): "
                f"p50 {as_ms(phase['p50_s'])}, p99 {as_ms(phase['p99_s'])}; "
                f"CPU {cpu_shares_text(phase['cpu'])}",
                flush=True,
            )
    finally:
        worker.stop()
    return results


async def offered_load(
    settings: Settings, fleet: Fleet, rate: int, seconds: float
) -> tuple[Fleet, dict[str, Any]]:
    """Send pings paced at ``rate`` for ``seconds`` (ts = send time, wall clock) while
    polling the applied-offset watermarks; wait until all are applied (or 30 s)."""
    count = max(int(rate * seconds), 1)
    start = time.time() + 0.5
    messages, fleet = ping_messages(fleet, count, start, rate, seed=int(start))
    state = State(settings.redis_url, settings.key_prefix, Metrics(()))
    producer = new_producer(settings.kafka_bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    observations: list[Observation] = []
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            applied = await state.watermarks(topics.PINGS, range(PARTITIONS))
            observations.append((time.time(), {p: v for p, v in applied.items() if v >= 0}))
            await asyncio.sleep(WATERMARK_POLL_S)

    poller = asyncio.create_task(poll())
    try:
        sends, last_send = await send_paced(
            producer, settings.topic(topics.PINGS), messages, rate, start
        )
        await wait_applied(sends, observations)
    finally:
        done.set()
        await poller
        await producer.stop()
        await state.close()
    return fleet, latency_figures(rate, sends, last_send, observations)


async def send_paced(
    producer: Producer, topic: str, messages: Messages, rate: int, start: float
) -> tuple[list[Send], float]:
    """Send each message when it is due at ``rate`` from ``start``; every ping's partition,
    offset and send time, and when the last was sent."""
    sent: list[tuple[asyncio.Future[Any], float]] = []
    index = 0
    while index < len(messages):
        due = min(len(messages), int((time.time() - start) * rate) + 1)
        while index < due:
            key, value = messages[index]
            sent.append((await producer.send(topic, value, key=key), time.time()))
            index += 1
        await asyncio.sleep(0.002)
    last_send = time.time()
    await producer.flush()
    metadata = [(await future, at) for future, at in sent]
    return [(meta.partition, meta.offset, at) for meta, at in metadata], last_send


async def wait_applied(sends: Sequence[Send], observations: Sequence[Observation]) -> None:
    """Until the watermarks polled show every ping applied, or :data:`SETTLE_S` has passed."""
    final: dict[int, int] = {}
    for partition, offset, _ in sends:
        final[partition] = max(final.get(partition, -1), offset)
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        if observations and all(
            observations[-1][1].get(p, -1) >= offset for p, offset in final.items()
        ):
            break
        await asyncio.sleep(0.05)


def latency_figures(
    rate: int, sends: Sequence[Send], last_send: float, observations: Sequence[Observation]
) -> dict[str, Any]:
    """The offered and achieved rates and the latency percentiles of one load."""
    latencies, missing = watermark_latencies(sends, observations)
    first_send = sends[0][2]
    return {
        "offered_rate": rate,
        "achieved_rate": (len(sends) - 1) / (last_send - first_send)
        if last_send > first_send
        else None,
        "pings": len(sends),
        "not_applied_within_30s": missing,
        "p50_s": percentile(latencies, 50),
        "p90_s": percentile(latencies, 90),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies) if latencies else None,
    }


P99_TARGETS_S = {5000: 1.0, 20000: 0.5}
"""The p99 ingest -> Redis target at an offered load (pings/s): issue 25 asks for 0.5 s at 20k."""


def rows(latency: object) -> list[Row]:
    """p50 and p99 at each offered load; the p99 at 5,000 and 20,000 pings/s have targets."""
    if not isinstance(latency, dict):
        return [Row("ingest->Redis latency", None, "", note=missing_reason(latency))]
    found: list[Row] = []
    for rate, phase in latency.items():
        target_s = P99_TARGETS_S.get(int(rate))
        found.append(Row(f"ingest->Redis p50 @ {int(rate):,}/s", phase["p50_s"], "s"))
        p99 = phase["p99_s"]
        found.append(
            Row(
                f"ingest->Redis p99 @ {int(rate):,}/s",
                p99,
                "s",
                target=f"<= {target_s:g} s" if target_s else "",
                passed=(p99 is not None and p99 <= target_s) if target_s else None,
                note=f"achieved {phase['achieved_rate']:.0f}/s; worker histogram p99 "
                f"{as_ms(phase['worker_histogram_p99_s'])}",
            )
        )
    return found
