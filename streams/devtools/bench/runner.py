"""``make bench``: speed as measured facts, each a ratio or percentile against a baseline measured
in the same run on the same embedded stack (these machines are shared and noisy).

``python -m streams.devtools.bench.runner [--quick] [--out bench-results/bench.json]`` starts one
embedded stack
(Tansu + redis-server), then, each measurement on its own topic prefix, consumer group and Redis
key prefix:

1. **Throughput**: one backlog of pings is published first; then a no-op Faust agent
   (:func:`streams.devtools.bench.support.run_noop_worker`), the worker, the no-op agent again and
   a plain
   aiokafka ``getmany`` loop each read all of it (the baseline is the mean of the two no-op
   runs, which bracket the worker's: these machines drift within minutes). Rate = messages /
   time from the first to the last message processed, from the consumed counter on /metrics
   polled every 0.2 s (for the worker: its applied-offset watermarks in Redis, counted only once
   the roster and area topics it also reads are done). CPU shares of the worker (its event loop
   and its presence process), broker and Redis over the same window come from ``/proc``: they
   say what limits the rate.
2. **Ingest -> Redis latency** at fixed offered loads (1k and 5k pings/s, wall clock, worker
   caught up after a warm-up): the bench records each ping's send time and its partition/offset,
   and polls the per-partition applied-offset watermarks in Redis every 5 ms; those are written in
   the same Lua call as the state a ping changes, so the first poll that shows a ping's offset
   applied is when its effect is visible (resolution 5 ms, an upper bound). The worker's own
   ``coverwatch_ingest_latency_seconds`` histogram is reported as a cross-check.
3. **Per-ping cost** (worker wall time and CPU per ping on a backlog) with 40 (the default pack),
   1,000 and 10,000 areas (the pack plus square cells tiling it, so every ping is in one more
   area), with 10,000 areas beside the patrol area (no ping in them: what the index and the
   coverage evaluation cost alone), and with 1k, 10k and 100k radios; each against the
   40-area, 1k-radio pack. The comparison with a target (10,000 areas) is replayed A B B A: a
   40-area replay, the 10,000-area one twice, a 40-area replay again; each side is the mean of
   its two (these machines drift within minutes, as the no-op agent's bracket shows), and the
   other rows share that 40-area baseline.
4. **Redis memory**: ``MEMORY USAGE`` summed over every key of a run's key prefix, per radio
   (steady state: the 1k-radio run, every radio with many fixes) and per area (the 10,000-area run
   minus the 40-area run over the extra areas).
5. **Alert latency**: an Impact Area with a 1-minute limit and a live feed outside it, on the
   event clock at 6x; from the moment the crossing can be judged (the tick that takes the clock
   past the limit plus the hold, ``judging_hold_s``: the evaluator judges an instant of event time
   once every input is that far past it) to an ``uncovered`` alert on ``coverage.alerts``.
   Reported as not measured when nothing arrives in time.
6. **Memory soak** (:mod:`streams.devtools.bench.soak`): a live worker under 2,700 pings/s for 24
minutes
   (4 with ``--quick``, ``--soak-minutes``); growth per minute of its two processes' memory and
   of Redis's over the second half, against the noise. 24 rather than 20: the bench's radios all
   start at once, so every first visit qualifies together at 10.5-14 minutes, a one-off step
   that a 20-minute soak's second half would begin on.

``--only STEP`` runs some of them (``--only soak``: the soak alone).

Replays run on the event clock; in replays the roster and areas are both published and applied to
Redis before the worker starts (same decoders, same Lua call, with their offset watermarks, so the
worker's agents skip them), so the fence index and roster are complete from the first ping. Each
replay is time-boxed (15 s quick, 45 s full, from the first ping applied; runs with more areas
25 s and 60 s, to span the coverage evaluator's cycles). Total messages stay
under 2 M (Tansu keeps them all in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from streams import topics
from streams.devtools.bench.support import (
    BENCH_EPOCH,
    SATURATED,
    Fleet,
    MetricsText,
    Row,
    area_messages,
    bucket_delta,
    format_table,
    grid_areas,
    histogram_quantile,
    make_fleet,
    percentile,
    ping_messages,
    rate_between,
    ratio,
    saturation_note,
    square_area,
    watermark_latencies,
)
from streams.devtools.stack.embedded import (
    ManagedProcess,
    Services,
    create_topics,
    free_port,
    http_ok,
    python_command,
    services,
    spawn,
    wait_until,
)
from streams.domain.areas import AreaDefinition, area_to_feature
from streams.domain.areas_feed import decode_area
from streams.domain.roster import decode_roster
from streams.domain.timefmt import format_ts
from streams.domain.validation import TimeLimits
from streams.engines.coverage import judging_hold_s
from streams.kafka.producer import new_producer
from streams.kafka.reader import TopicPartition, new_reader
from streams.metrics import Metrics
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record
from streams.state import Changes, PartitionCommit, State
from streams.state.measure import key_sizes, server_pid, watermark_reader

Messages = list[tuple[bytes, bytes]]
POLL_S = 0.1
WATERMARK_POLL_S = 0.005
PARTITIONS = topics.BY_NAME[topics.PINGS].partitions
PRELOAD_CHUNK = 2000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STEPS = ("throughput", "scaling", "latency", "alert", "api", "soak")


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run (``--quick`` is the small one)."""

    quick: bool
    base_radios: int
    base_pings: int
    replay_interval_s: float
    area_counts: tuple[int, ...]
    area_pings: int
    radio_pings: dict[int, int]
    latency_radios: int
    latency_rates: tuple[int, ...]
    latency_seconds: float
    latency_warmup_s: float
    alert_speed: float
    alert_timeout_s: float
    consume_timeout_s: float
    max_window_s: float
    area_window_s: float
    warmup_s: float
    soak_minutes: float
    only: tuple[str, ...] = ()
    """The steps to run (all when empty)."""

    @classmethod
    def make(cls, quick: bool) -> Plan:
        """The quick or the full plan."""
        return cls(
            quick=quick,
            base_radios=1000,
            base_pings=60_000 if quick else 200_000,
            replay_interval_s=10.0,
            area_counts=(40, 1000, 10_000),
            area_pings=30_000 if quick else 150_000,
            radio_pings={1000: 0, 10_000: 30_000, 100_000: 100_000}
            if quick
            else {1000: 0, 10_000: 150_000, 100_000: 200_000},
            latency_radios=10_000,
            latency_rates=(1000, 5000),
            latency_seconds=6.0 if quick else 20.0,
            latency_warmup_s=2.0 if quick else 5.0,
            alert_speed=6.0,
            alert_timeout_s=10.0 if quick else 20.0,
            consume_timeout_s=120.0 if quick else 300.0,
            max_window_s=15.0 if quick else 45.0,
            area_window_s=25.0 if quick else 60.0,
            warmup_s=3.0 if quick else 5.0,
            soak_minutes=4.0 if quick else 24.0,
        )


# -- processes and probes -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc), none if it is gone."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children.extend(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return children


def cpu_sample(pids: Mapping[str, int]) -> dict[str, float | None]:
    """CPU seconds so far of each process; for the worker also of its presence process (its
    child), as ``presence``."""
    sample = {name: cpu_seconds(pid) for name, pid in pids.items()}
    if "worker" in pids:
        children = [cpu_seconds(child) for child in child_pids(pids["worker"])]
        known = [seconds for seconds in children if seconds is not None]
        sample["presence"] = sum(known) if known else None
    return sample


def scrape(url: str) -> MetricsText:
    """The /metrics of a worker (or of the no-op app), parsed."""
    return MetricsText.parse(fetch_metrics(url))


def fetch_metrics(url: str) -> str:
    """The /metrics text of a worker; patient, because a worker's timers can hold its event loop
    for seconds."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=60) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


Progress = Callable[[], tuple[float, bool]]
"""(messages processed so far, whether everything else the consumer must read first is read)."""


def watermark_progress(settings: Settings, roster: int, areas: int) -> Progress:
    """A worker's progress from its applied-offset watermarks in Redis (written in the same Lua
    call as the state): pings applied, and whether the roster and areas are applied. Costs the
    worker nothing (its /metrics grows with the areas)."""
    positions = [(topics.PINGS, p) for p in range(PARTITIONS)]
    positions += [(topics.ROSTER, 0), (topics.AREAS, 0)]
    read = watermark_reader(settings.redis_url, settings.key_prefix, positions)

    def progress() -> tuple[float, bool]:
        values = read()
        applied = sum(v + 1 for v in values[:PARTITIONS] if v is not None)
        roster_wm, areas_wm = values[PARTITIONS:]
        ready = (roster_wm if roster_wm is not None else -1) >= roster - 1 and (
            areas_wm if areas_wm is not None else -1
        ) >= areas - 1
        return float(applied), ready

    return progress


def metrics_progress(url: str) -> Progress:
    """Progress from the pings counter on a (small) /metrics page: the no-op app's."""

    def progress() -> tuple[float, bool]:
        return scrape(url).value("coverwatch_messages_consumed_total", topic=topics.PINGS), True

    return progress


@dataclass
class Consumer:
    """A worker-like child process (the worker or the no-op app) and its settings."""

    settings: Settings
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def stop(self) -> None:
        self.process.stop()


def start_consumer(settings: Settings, argv: list[str], log_dir: Path, name: str) -> Consumer:
    """Start a child with ``settings`` in its environment; wait for its /healthz."""
    env = {**os.environ, **settings.to_env()}
    process = spawn(name, argv, log_dir, env)
    wait_until(
        f"{name} /healthz",
        lambda: http_ok(f"http://127.0.0.1:{settings.web_port}/healthz"),
        process,
        90,
    )
    return Consumer(settings, process)


@dataclass
class Window:
    """What a consumer did while it read a backlog."""

    rate: float | None = None
    messages: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    """Process -> CPU share of one core over the window."""
    completed: bool = False
    applied: int = 0
    note: str = ""
    warmup_rate: float | None = None
    """The rate in the warm-up left out of ``rate`` (the consumer's start: loading what it
    caches, building indexes, a first evaluation of every area)."""


Sample = tuple[float, float, Mapping[str, float | None]]
"""(time, messages processed so far, CPU seconds so far by process)."""


def watch_backlog(
    process: ManagedProcess,
    progress: Progress,
    total: int,
    timeout_s: float,
    max_window_s: float,
    pids: Mapping[str, int],
    warmup_s: float = 0.0,
) -> Window:
    """Poll ``progress`` until ``total`` messages are processed or the window (from the first
    poll that shows messages processed with everything else read) lasts ``max_window_s``. The
    rate and CPU shares are taken after the first ``warmup_s`` of it, so that they are the
    steady per-message cost and not the consumer's start; the warm-up's own rate is kept apart
    (a backlog read within twice the warm-up is measured whole)."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout_s
    count = 0.0
    ready_at: float | None = None
    while time.monotonic() < deadline:
        if not process.alive:
            raise RuntimeError(f"{process.name} died:\n{process.log_tail()}")
        count, ready = progress()
        now = time.monotonic()
        if ready and ready_at is None:
            ready_at = now
        if count > 0 and (ready or samples):
            samples.append((now, count, cpu_sample(pids)))
        if count >= total:
            break
        if ready_at is not None and now - (samples[0][0] if samples else ready_at) >= max_window_s:
            break
        time.sleep(POLL_S)
    window = measured_window(samples, count, total, warmup_s)
    if len(samples) < 2 and ready_at is not None:
        window.rate = 0.0
        window.note = f"no progress within {max_window_s:.0f} s of the topics it reads first"
    if not window.completed and not window.note:
        window.note = f"window closed after {count:.0f} of {total} (time-boxed)"
    return window


def measured_window(samples: Sequence[Sample], count: float, total: int, warmup_s: float) -> Window:
    """The rate and CPU shares between the first sample at least ``warmup_s`` after the first
    one and the last one (the warm-up's own rate kept apart; a backlog read within twice the
    warm-up is measured whole)."""
    window = Window(completed=count >= total, applied=int(count))
    if samples and samples[-1][0] - samples[0][0] >= 2 * warmup_s > 0:
        first = next(i for i, sample in enumerate(samples) if sample[0] - samples[0][0] >= warmup_s)
        window.warmup_rate = rate_between([samples[0][:2], samples[first][:2]])
        samples = samples[first:]
    if len(samples) >= 2:
        (t0, c0, cpu0), (t1, c1, cpu1) = samples[0], samples[-1]
        window.rate = rate_between([(t0, c0), (t1, c1)])
        window.messages = int(c1 - c0)
        window.seconds = t1 - t0
        for name in cpu1:
            start, end = cpu0.get(name), cpu1.get(name)
            if start is not None and end is not None and t1 > t0:
                window.cpu[name] = (end - start) / (t1 - t0)
    return window


async def getmany_rate(
    bootstrap: str, topic: str, total: int, fetch_wait_ms: int, batch: int, timeout_s: float
) -> Window:
    """The ceiling: a plain aiokafka consumer reading ``total`` messages with ``getmany``."""
    consumer = new_reader(bootstrap, fetch_max_wait_ms=fetch_wait_ms)
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


def prefix_memory(redis_url: str, prefix: str) -> tuple[int, int, dict[str, int]]:
    """(bytes, keys, bytes by key kind) of every Redis key under ``prefix:`` (MEMORY USAGE with
    every element counted)."""
    sizes = key_sizes(redis_url, prefix)
    by_kind: dict[str, int] = {}
    for key, size in sizes:
        kind = _key_kind(key)
        by_kind[kind] = by_kind.get(kind, 0) + size
    return sum(size for _, size in sizes), len(sizes), by_kind


def _key_kind(key: str) -> str:
    """``cw:{airwave.pings.2}:dose:123`` -> ``dose:*``; ``cw:{directory}:roster`` -> ``roster``."""
    rest = key.split("}:", 1)[1] if "}:" in key else key.split(":", 1)[-1]
    parts = rest.split(":")
    if len(parts) > 1 and any(ch.isdigit() for ch in parts[-1]):
        return ":".join(parts[:-1]) + ":*"
    return rest


def redis_pid(redis_url: str) -> int:
    """The process id of the Redis server."""
    return server_pid(redis_url)


# -- data on the broker and in Redis ------------------------------------------------------------


async def publish_all(bootstrap: str, prefix: str, batches: Sequence[tuple[str, Messages]]) -> int:
    """Publish (topic, messages) groups in order, as fast as the broker takes them."""
    records = (
        Record(0.0, topic, key.decode(), value)
        for topic, messages in batches
        for key, value in messages
    )
    return await publish(records, bootstrap, speed=None, topic_prefix=prefix)


async def preload(settings: Settings, roster: Messages, areas: Messages) -> int:
    """Apply the roster and areas to Redis as their agents would (same decoders, same Lua call,
    watermark = the offset of each message, which on a fresh one-partition topic is its index),
    so the worker starts with them in place and its agents skip them. Returns the area version."""
    state = State(settings.redis_url, settings.key_prefix, Metrics(()))
    limits = TimeLimits()
    try:
        for offset in range(0, len(areas), PRELOAD_CHUNK):
            changes = Changes()
            for key, raw in areas[offset : offset + PRELOAD_CHUNK]:
                area = decode_area(key, raw, limits)
                assert isinstance(area, AreaDefinition)
                feature = orjson.dumps(area_to_feature(area)).decode()
                changes.hset_versioned(
                    state.area_features_key, area.area_id, feature, state.area_version_key
                )
            last = min(offset + PRELOAD_CHUNK, len(areas)) - 1
            await state.commit([PartitionCommit(topics.AREAS, 0, last, changes)])
        for offset in range(0, len(roster), PRELOAD_CHUNK):
            changes = Changes()
            for key, raw in roster[offset : offset + PRELOAD_CHUNK]:
                entry = decode_roster(key, raw, limits)
                changes.hset(state.roster_key, key.decode(), orjson.dumps(entry).decode())
            last = min(offset + PRELOAD_CHUNK, len(roster)) - 1
            await state.commit([PartitionCommit(topics.ROSTER, 0, last, changes)])
        return await state.area_version()
    finally:
        await state.close()


async def area_version(settings: Settings) -> int:
    """The area version in a run's Redis keys (bumped by every area change)."""
    state = State(settings.redis_url, settings.key_prefix, Metrics(()))
    try:
        return await state.area_version()
    finally:
        await state.close()


# -- the bench ----------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    """One backlog replay by the worker."""

    label: str
    radios: int
    areas: int
    pings: int
    window: Window
    memory_bytes: int
    memory_keys: int
    memory_by_kind: dict[str, int]
    fences_rebuilt: bool
    outcomes: dict[str, float]
    deadletters: float
    round_trips_per_batch: dict[str, float]
    mean_batch: float | None
    metrics_scrape_s: float
    """How long one GET /metrics took (the response read, not parsed)."""
    handler_us_per_ping: float | None
    """Time in the pings agent's handler per ping (decode to Redis commit), whole run."""

    @property
    def us_per_ping(self) -> float | None:
        """Worker wall time per ping (microseconds)."""
        return None if not self.window.rate else 1e6 / self.window.rate

    @property
    def worker_share(self) -> float | None:
        """Cores the worker used: its event loop and its presence process."""
        return worker_share(self.window.cpu)

    @property
    def cpu_us_per_ping(self) -> float | None:
        """Worker CPU time per ping, both processes (microseconds)."""
        share = self.worker_share
        if share is None or not self.window.rate:
            return None
        return 1e6 * share / self.window.rate


Replay = tuple[str, dict[int, Any], int, int, int, int, float]
"""One replay of the scaling step: label, the results it goes into and its key there, radios,
extra areas, pings, longest window (s)."""


def mean_window(windows: Sequence[Window]) -> Window:
    """Several runs of one consumer as one: mean rate and CPU shares, summed counts."""
    rates = [window.rate for window in windows if window.rate is not None]
    names = {name for window in windows for name in window.cpu}
    return Window(
        rate=sum(rates) / len(rates) if rates else None,
        messages=sum(window.messages for window in windows),
        seconds=sum(window.seconds for window in windows),
        cpu={
            name: sum(window.cpu.get(name, 0.0) for window in windows) / len(windows)
            for name in sorted(names)
        },
        completed=all(window.completed for window in windows),
        applied=sum(window.applied for window in windows),
        note="; ".join(window.note for window in windows if window.note),
    )


def warmup_note(run: Window, base: Window) -> str:
    """The rates of the warm-ups left out of a run and of its baseline (the worker's start)."""
    if run.warmup_rate is None or base.warmup_rate is None:
        return ""
    return (
        f"; warm-up left out (the worker's start): {_fmt(run.warmup_rate)} pings/s vs "
        f"{_fmt(base.warmup_rate)} pings/s"
    )


def worker_share(cpu: Mapping[str, float]) -> float | None:
    """Cores a worker used (its event loop, ``worker``, plus its presence process)."""
    loop = cpu.get("worker")
    return None if loop is None else loop + cpu.get("presence", 0.0)


class Bench:
    """Every measurement of one ``make bench`` run on one embedded stack."""

    def __init__(
        self, stack: Services, plan: Plan, log_dir: Path, profile_dir: Path | None = None
    ) -> None:
        self.profile_dir = profile_dir
        self.profiles: dict[str, Any] = {}
        self.stack = stack
        self.plan = plan
        self.log_dir = log_dir
        self.serial = 0
        self.pack = load_default_area_pack()
        self.broker_pid = stack.processes[0].process.pid
        self.redis_pid = redis_pid(stack.redis_url)
        self.published = 0
        self.results: dict[str, Any] = {}

    def settings(self, what: str, clock: str = "event") -> Settings:
        """Fresh topic prefix, consumer group and key prefix for one measurement."""
        self.serial += 1
        name = f"bench{self.serial:02d}{what}"
        return Settings(
            kafka_bootstrap=self.stack.kafka_bootstrap,
            redis_url=self.stack.redis_url,
            app_id=f"{name}-app",
            topic_prefix=f"{name}.",
            key_prefix=name,
            web_port=free_port(),
            clock=clock,  # type: ignore[arg-type]
            pseudonym_key="bench-pseudonym-key-0123456789",
            session_timeout_s=6.0,
            log_level="warn",
        )

    def publish(self, settings: Settings, batches: Sequence[tuple[str, Messages]]) -> None:
        asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
        self.published += asyncio.run(
            publish_all(settings.kafka_bootstrap, settings.topic_prefix, batches)
        )

    def pids(self, consumer: Consumer) -> dict[str, int]:
        return {
            "worker": consumer.process.process.pid,
            "broker": self.broker_pid,
            "redis": self.redis_pid,
        }

    # -- replays --------------------------------------------------------------------------

    def replay(
        self,
        label: str,
        radios: int,
        extra_areas: int,
        pings: int,
        after: Callable[[Settings], None] | None = None,
        window_s: float | None = None,
        areas_beside: bool = False,
        before: Callable[[Settings], None] | None = None,
    ) -> ReplayResult:
        """Publish a backlog (areas, roster, pings), preload Redis, let a worker read it all;
        ``before`` and ``after`` run with its settings just before the worker starts and after
        it read the backlog."""
        areas = list(self.pack) + grid_areas(extra_areas, self.pack, beside=areas_beside)
        fleet = make_fleet(radios, self.pack)
        roster = fleet.roster_messages()
        area_msgs = area_messages(areas)
        rate = radios / self.plan.replay_interval_s
        backlog, _ = ping_messages(fleet, pings, BENCH_EPOCH, rate)
        settings = self.settings(label)
        self.publish(
            settings,
            [(topics.AREAS, area_msgs), (topics.ROSTER, roster), (topics.PINGS, backlog)],
        )
        version = asyncio.run(preload(settings, roster, area_msgs))
        if before is not None:
            before(settings)
        worker = start_consumer(settings, python_command("worker"), self.log_dir, label)
        profiler = self._profiler(label, worker)
        try:
            window = watch_backlog(
                worker.process,
                watermark_progress(settings, len(roster), len(area_msgs)),
                len(backlog),
                self.plan.consume_timeout_s,
                window_s or self.plan.max_window_s,
                self.pids(worker),
                self.plan.warmup_s,
            )
            scrape_started = time.monotonic()
            exposition = fetch_metrics(worker.url)
            scrape_s = time.monotonic() - scrape_started
            metrics = MetricsText.parse(exposition)
            if after is not None:
                after(settings)
        finally:
            if profiler is not None:
                stop_profiler(profiler)
                self.profiles[label] = summarise_profile(profiler.log_path.with_suffix(".txt"))
            worker.stop()
        memory, keys, by_kind = prefix_memory(settings.redis_url, settings.key_prefix)
        batches = metrics.value("coverwatch_batch_messages_count", topic=topics.PINGS)
        batch_sum = metrics.value("coverwatch_batch_messages_sum", topic=topics.PINGS)
        trips = {
            labels["operation"]: value / batches
            for labels, value in metrics.samples.get("coverwatch_redis_round_trips_total", [])
            if batches and value
        }
        outcomes = {
            labels["outcome"]: value
            for labels, value in metrics.samples.get("coverwatch_fixes_total", [])
        }
        result = ReplayResult(
            label=label,
            radios=radios,
            areas=len(areas),
            pings=len(backlog),
            window=window,
            memory_bytes=memory,
            memory_keys=keys,
            memory_by_kind=dict(sorted(by_kind.items(), key=lambda item: -item[1])),
            fences_rebuilt=asyncio.run(area_version(settings)) != version,
            outcomes=outcomes,
            deadletters=metrics.value("coverwatch_deadletter_total", topic=topics.PINGS),
            round_trips_per_batch=trips,
            mean_batch=batch_sum / batches if batches else None,
            metrics_scrape_s=scrape_s,
            handler_us_per_ping=1e6
            * metrics.value("coverwatch_batch_seconds_sum", topic=topics.PINGS)
            / batch_sum
            if batch_sum
            else None,
        )
        print(
            f"  {label}: {radios} radios, {len(areas)} areas, {len(backlog)} pings -> "
            f"{_fmt(window.rate)} pings/s (warm-up {_fmt(window.warmup_rate)} pings/s); "
            f"CPU {_shares(window.cpu)}; one GET /metrics {scrape_s:.2f} s",
            flush=True,
        )
        return result

    def _profiler(self, label: str, worker: Consumer) -> ManagedProcess | None:
        """py-spy sampling the base worker (``--profile``), without pausing it."""
        if self.profile_dir is None or label not in ("base", "areas10000", "radios100000"):
            return None
        spy = Path(sys.executable).with_name("py-spy")
        if not spy.exists():
            print("  (--profile: py-spy not found next to python; pip install py-spy)")
            return None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        output = self.profile_dir / f"profile-{label}.txt"
        argv = [str(spy), "record", "--nonblocking", "--format", "raw", "--rate", "100"]
        argv += ["--output", str(output), "--pid", str(worker.process.process.pid)]
        return spawn(f"profile-{label}", argv, self.profile_dir)

    def throughput(self) -> dict[str, Any]:
        """Worker vs no-op Faust agent vs aiokafka getmany on the same backlog. The no-op agent
        reads the backlog just before the worker and again just after it: the machine's speed
        drifts within minutes, and the mean of the two brackets the worker's run."""
        plan = self.plan
        noop_runs: list[Window] = []
        holder: dict[str, Any] = {}

        def before(settings: Settings) -> None:
            noop_runs.append(self._noop(settings, plan.base_pings, "noop-before"))

        def after(settings: Settings) -> None:
            holder["settings"] = settings
            noop_runs.append(self._noop(settings, plan.base_pings, "noop-after"))

        base = self.replay("base", plan.base_radios, 0, plan.base_pings, before=before, after=after)
        settings: Settings = holder["settings"]
        noop_window = mean_window(noop_runs)
        print(
            f"  no-op Faust agent: {_fmt(noop_window.rate)} pings/s (before the worker "
            f"{_fmt(noop_runs[0].rate)}, after {_fmt(noop_runs[1].rate)})",
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
        print(f"  aiokafka getmany: {_fmt(ceiling.rate)} pings/s", flush=True)
        return {"worker": base, "noop": noop_window, "noop_runs": noop_runs, "getmany": ceiling}

    def _noop(self, settings: Settings, pings: int, label: str) -> Window:
        """The no-op Faust agent reading the backlog of ``settings`` in a group of its own."""
        noop_settings = replace(settings, app_id=f"{settings.app_id}-{label}", web_port=free_port())
        noop = start_consumer(
            noop_settings,
            [sys.executable, "-m", "streams.devtools.bench.support", "noop"],
            self.log_dir,
            label,
        )
        try:
            window = watch_backlog(
                noop.process,
                metrics_progress(noop.url),
                pings,
                self.plan.consume_timeout_s,
                self.plan.max_window_s,
                self.pids(noop),
                self.plan.warmup_s,
            )
        finally:
            noop.stop()
        window.cpu["noop"] = window.cpu.pop("worker", 0.0)
        window.cpu.pop("presence", None)
        return window

    def scaling(self, base: ReplayResult) -> dict[str, Any]:
        """Per-ping cost and memory with more areas and more radios (a failed run is reported
        and the others go on). The largest pack, the one with a target, is replayed twice in a
        row between two 40-area replays (A B B A): these machines drift within minutes, and the
        means of the two pairs take a steady drift out of the ratio."""
        plan = self.plan
        most = max(plan.area_counts)
        by_areas: dict[int, ReplayResult | dict[str, str]] = {len(self.pack): base}
        by_radios: dict[int, ReplayResult | dict[str, str]] = {plan.base_radios: base}
        baselines: dict[int, ReplayResult | dict[str, str]] = {}
        repeats: dict[int, ReplayResult | dict[str, str]] = {}
        away: dict[int, ReplayResult | dict[str, str]] = {}

        def pack(label: str, into: dict[int, Any], key: int, areas: int) -> Replay:
            extra = areas - len(self.pack)
            return (label, into, key, plan.base_radios, extra, plan.area_pings, plan.area_window_s)

        runs: list[Replay] = [
            pack(f"areas{count}", by_areas, count, count)
            for count in plan.area_counts
            if len(self.pack) < count < most
        ]
        runs += [
            pack("base-before", baselines, 0, len(self.pack)),
            pack(f"areas{most}", by_areas, most, most),
            pack(f"areas{most}-again", repeats, most, most),
            pack("base-after", baselines, 1, len(self.pack)),
        ]
        runs += [
            (f"radios{radios}", by_radios, radios, radios, 0, pings, plan.max_window_s)
            for radios, pings in plan.radio_pings.items()
            if radios != plan.base_radios
        ]
        runs.append(pack(f"areas{most}away", away, most, most))
        for label, into, key, radios, extra, pings, window_s in runs:
            try:
                into[key] = self.replay(
                    label, radios, extra, pings, window_s=window_s, areas_beside=into is away
                )
            except Exception as error:  # reported in the table; the other runs go on
                into[key] = {"error": f"{type(error).__name__}: {error}"}
                print(f"  {label} failed: {error}", flush=True)
        return {
            "areas": by_areas,
            "areas_again": repeats,
            "baselines": baselines,
            "areas_away": away,
            "radios": by_radios,
        }

    # -- live load ------------------------------------------------------------------------

    def latency(self) -> dict[str, Any]:
        """Ingest -> Redis latency at each fixed offered load, after a warm-up at that load."""
        plan = self.plan
        settings = self.settings("latency", clock="wall")
        fleet = make_fleet(plan.latency_radios, self.pack)
        roster = fleet.roster_messages()
        areas = area_messages(self.pack)
        self.publish(settings, [(topics.AREAS, areas), (topics.ROSTER, roster)])
        asyncio.run(preload(settings, roster, areas))
        worker = start_consumer(settings, python_command("worker"), self.log_dir, "latency")
        results: dict[str, Any] = {}
        try:
            wait_until(
                "latency worker reads the roster",
                lambda: (
                    scrape(worker.url).value(
                        "coverwatch_messages_consumed_total", topic=topics.ROSTER
                    )
                    >= len(roster)
                ),
                worker.process,
                60,
            )
            for rate in plan.latency_rates:
                fleet, _ = asyncio.run(self._offered(settings, fleet, rate, plan.latency_warmup_s))
                before = scrape(worker.url)
                cpu0 = cpu_sample(self.pids(worker))
                t0 = time.monotonic()
                fleet, phase = asyncio.run(
                    self._offered(settings, fleet, rate, plan.latency_seconds)
                )
                elapsed = time.monotonic() - t0
                after = scrape(worker.url)
                histogram = bucket_delta(
                    after.buckets("coverwatch_ingest_latency_seconds", topic=topics.PINGS),
                    before.buckets("coverwatch_ingest_latency_seconds", topic=topics.PINGS),
                )
                phase["worker_histogram_p50_s"] = histogram_quantile(histogram, 0.5)
                phase["worker_histogram_p99_s"] = histogram_quantile(histogram, 0.99)
                cpu1 = cpu_sample(self.pids(worker))
                phase["cpu"] = {
                    name: (end - start) / elapsed
                    for name, end in cpu1.items()
                    if (start := cpu0.get(name)) is not None and end is not None
                }
                results[str(rate)] = phase
                print(
                    f"  {rate} pings/s offered ({phase['achieved_rate']:.0f} achieved): "
                    f"p50 {_ms(phase['p50_s'])}, p99 {_ms(phase['p99_s'])}; "
                    f"CPU {_shares(phase['cpu'])}",
                    flush=True,
                )
        finally:
            worker.stop()
        return results

    async def _offered(
        self, settings: Settings, fleet: Fleet, rate: int, seconds: float
    ) -> tuple[Fleet, dict[str, Any]]:
        """Send pings paced at ``rate`` for ``seconds`` (ts = send time, wall clock) while
        polling the applied-offset watermarks; wait until all are applied (or 30 s)."""
        count = max(int(rate * seconds), 1)
        start = time.time() + 0.5
        messages, fleet = ping_messages(fleet, count, start, rate, seed=int(start))
        topic = settings.topic(topics.PINGS)
        state = State(settings.redis_url, settings.key_prefix, Metrics(()))
        producer = new_producer(settings.kafka_bootstrap, linger_ms=5, max_batch_size=1 << 20)
        await producer.start()
        observations: list[tuple[float, dict[int, int]]] = []
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set():
                applied = await state.watermarks(topics.PINGS, range(PARTITIONS))
                observations.append((time.time(), {p: v for p, v in applied.items() if v >= 0}))
                await asyncio.sleep(WATERMARK_POLL_S)

        poller = asyncio.create_task(poll())
        sent: list[tuple[asyncio.Future[Any], float]] = []
        try:
            index = 0
            while index < count:
                due = min(count, int((time.time() - start) * rate) + 1)
                while index < due:
                    key, value = messages[index]
                    sent.append((await producer.send(topic, value, key=key), time.time()))
                    index += 1
                await asyncio.sleep(0.002)
            last_send = time.time()
            await producer.flush()
            metadata = [(await future, at) for future, at in sent]
            sends = [(meta.partition, meta.offset, at) for meta, at in metadata]
            final: dict[int, int] = {}
            for partition, offset, _ in sends:
                final[partition] = max(final.get(partition, -1), offset)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if observations and all(
                    observations[-1][1].get(p, -1) >= offset for p, offset in final.items()
                ):
                    break
                await asyncio.sleep(0.05)
        finally:
            done.set()
            await poller
            await producer.stop()
            await state.close()
        latencies, missing = watermark_latencies(sends, observations)
        first_send = sends[0][2]
        return fleet, {
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

    # -- alerts ---------------------------------------------------------------------------

    def alert_latency(self) -> dict[str, Any]:
        """From an Impact Area crossing its limit to its ``uncovered`` alert (pluggable: any
        coverage engine that publishes ``coverage.alerts`` is measured; none -> not measured)."""
        settings = self.settings("alert", clock="event")
        centre_lon, centre_lat = -1.89, 52.48
        limit_s = 60.0
        area = square_area(
            "bench-alert",
            centre_lon,
            centre_lat,
            400.0,
            {"bands": [], "default_max_gap_minutes": int(limit_s // 60), "alert": True},
        )
        fleet = make_fleet(1, [area])
        fleet = Fleet(fleet.issis, fleet.vehicle, fleet.lon * 0 + centre_lon + 0.05, fleet.lat)
        roster = fleet.roster_messages()
        self.publish(settings, [(topics.AREAS, area_messages([area])), (topics.ROSTER, roster)])
        worker = start_consumer(settings, python_command("worker"), self.log_dir, "alert")
        try:
            wait_until(
                "alert worker reads the area and the roster",
                lambda: (
                    scrape(worker.url).value(
                        "coverwatch_messages_consumed_total", topic=topics.AREAS
                    )
                    >= 1
                ),
                worker.process,
                60,
            )
            return asyncio.run(self._alert_run(settings, fleet, limit_s))
        finally:
            worker.stop()

    async def _alert_run(self, settings: Settings, fleet: Fleet, limit_s: float) -> dict[str, Any]:
        plan = self.plan
        step_s = 3.0
        wall_step = step_s / plan.alert_speed
        hold_s = judging_hold_s(settings)  # the instant of the crossing is judged this much later
        alerts: list[tuple[float, dict[str, Any]]] = []
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
        crossed_at: float | None = None
        matched: tuple[float, dict[str, Any]] | None = None
        try:
            step = 0
            deadline: float | None = None
            while deadline is None or time.time() < deadline:
                event_ts = BENCH_EPOCH + step * step_s
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
                if crossed_at is None and event_ts >= BENCH_EPOCH + limit_s + hold_s:
                    crossed_at = time.time()
                    deadline = crossed_at + plan.alert_timeout_s
                matched = next((item for item in alerts if alert_crossed(item[1])), None)
                if matched is not None and crossed_at is not None:
                    break
                step += 1
                await asyncio.sleep(wall_step)
        finally:
            stop.set()
            await reader
            await consumer.stop()
            await producer.stop()
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
            "limit_s": limit_s,
            "hold_s": hold_s,
            "event_clock_speed": plan.alert_speed,
        }


def stop_profiler(profiler: ManagedProcess) -> None:
    """Stop py-spy the way that makes it write its output (SIGINT), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(profiler.process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        profiler.process.wait(timeout=30)
    profiler.stop()


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive share of samples per function from py-spy's collapsed stacks (idle
    samples included: the event loop waiting shows up as ``select``)."""
    self_time: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"error": f"no profile at {path}"}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame.split(" (")[0] + _where(frame) for frame in stack.split(";")]
        self_time[frames[-1]] = self_time.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    if not total:
        return {"error": "empty profile"}

    def shares(table: Mapping[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [(name, round(count / total, 4)) for name, count in ranked]

    return {"samples": total, "self": shares(self_time), "inclusive": shares(inclusive)}


def _where(frame: str) -> str:
    """`` (file.py)`` of a py-spy frame ``name (path/file.py:123)``, without the path."""
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    return f" ({Path(location.rsplit(':', 1)[0]).name})"


def alert_crossed(value: Mapping[str, Any]) -> bool:
    """The alert the scenario waits for: the bench area reported ``uncovered``."""
    return value.get("area_id") == "bench-alert" and value.get("state") == "uncovered"


# -- report -------------------------------------------------------------------------------------


def build_rows(results: Mapping[str, Any]) -> list[Row]:
    """The table from the raw results (each missing part becomes a 'not measured' row)."""
    rows: list[Row] = []
    throughput = results.get("throughput")
    if isinstance(throughput, dict):
        worker: ReplayResult = throughput["worker"]
        noop: Window = throughput["noop"]
        ceiling: Window = throughput["getmany"]
        measured = worker.window.rate
        passed = None
        if ratio(measured, noop.rate) is not None:
            passed = (ratio(measured, noop.rate) or 0) >= 0.8
        rows.append(
            Row(
                "end-to-end pings/s per worker",
                measured,
                "/s",
                noop.rate,
                "no-op Faust agent",
                ">= 0.8x no-op",
                passed,
                note=saturation_note(
                    {"worker": worker.worker_share, "no-op agent": noop.cpu.get("noop")}
                )
                + f"; the worker's event loop {_fmt(worker.window.cpu.get('worker'))} and its "
                f"presence process {_fmt(worker.window.cpu.get('presence'))}; the no-op agent "
                "read the backlog before and after the worker: "
                + " and ".join(f"{_fmt(run.rate)}/s" for run in throughput.get("noop_runs", [])),
            )
        )
        rows.append(
            Row("end-to-end vs aiokafka getmany", measured, "/s", ceiling.rate, "getmany", "info")
        )
        rows.append(
            Row("no-op Faust agent vs getmany", noop.rate, "/s", ceiling.rate, "getmany", "info")
        )
    else:
        rows.append(Row("end-to-end pings/s per worker", None, "", note=_missing(throughput)))
    latency = results.get("latency")
    if isinstance(latency, dict):
        for rate, phase in latency.items():
            target_p99 = int(rate) == 5000
            rows.append(Row(f"ingest->Redis p50 @ {int(rate):,}/s", phase["p50_s"], "s"))
            p99 = phase["p99_s"]
            rows.append(
                Row(
                    f"ingest->Redis p99 @ {int(rate):,}/s",
                    p99,
                    "s",
                    target="<= 1 s" if target_p99 else "",
                    passed=(p99 is not None and p99 <= 1.0) if target_p99 else None,
                    note=f"achieved {phase['achieved_rate']:.0f}/s; worker histogram p99 "
                    f"{_ms(phase['worker_histogram_p99_s'])}",
                )
            )
    else:
        rows.append(Row("ingest->Redis latency", None, "", note=_missing(latency)))
    scaling = results.get("scaling")
    if isinstance(scaling, dict):
        by_areas = _done(scaling["areas"])
        base_areas = min(by_areas)
        for count, failure in _failed(scaling["areas"]):
            rows.append(Row(f"us per ping, {count:,} areas", None, "us", note=failure))
        bracket = list(_done(scaling.get("baselines", {})).values()) or [by_areas[base_areas]]
        baseline = mean_of([run.us_per_ping for run in bracket])
        cpu_baseline = mean_of([run.cpu_us_per_ping for run in bracket])
        again = _done(scaling.get("areas_again", {}))
        for count, run in sorted(by_areas.items()):
            if count == base_areas:
                continue
            target = count >= 10_000
            runs = [run, *([again[count]] if count in again else [])]
            value = mean_of([each.us_per_ping for each in runs])
            rows.append(
                Row(
                    f"us per ping, {count:,} areas",
                    value,
                    "us",
                    baseline,
                    f"{base_areas} areas",
                    "<= 1.5x" if target else "info",
                    ((ratio(value, baseline) or math.inf) <= 1.5) if target else None,
                    note=f"CPU {_fmt(mean_of([each.cpu_us_per_ping for each in runs]))} us vs "
                    f"{_fmt(cpu_baseline)} us; "
                    + replays_note(runs, bracket)
                    + saturation_note(
                        {
                            f"{count:,} areas": run.worker_share,
                            f"{base_areas} areas": bracket[0].worker_share,
                        }
                    )
                    + warmup_note(run.window, bracket[0].window),
                )
            )
        for count, failure in _failed(scaling.get("areas_away", {})):
            rows.append(Row(f"us per ping, {count:,} areas away", None, "us", note=failure))
        for count, run in sorted(_done(scaling.get("areas_away", {})).items()):
            rows.append(
                Row(
                    f"us per ping, {count:,} areas away",
                    run.us_per_ping,
                    "us",
                    baseline,
                    f"{base_areas} areas",
                    "info",
                    note=f"the extra areas beside the patrol area, no ping in them; CPU "
                    f"{_fmt(run.cpu_us_per_ping)} us",
                )
            )
        most_areas = by_areas[max(by_areas)]
        if max(by_areas) != base_areas:
            rows.append(
                Row(
                    f"one GET /metrics, {max(by_areas):,} areas",
                    most_areas.metrics_scrape_s,
                    "s",
                    by_areas[base_areas].metrics_scrape_s,
                    f"{base_areas} areas",
                    "info",
                    note="built on a thread beside the worker's event loop",
                )
            )
        by_radios = _done(scaling["radios"])
        base_radios = min(by_radios)
        for radios, failure in _failed(scaling["radios"]):
            rows.append(Row(f"us per ping, {radios:,} radios", None, "us", note=failure))
        for radios, run in sorted(by_radios.items()):
            if radios == base_radios:
                continue
            rows.append(
                Row(
                    f"us per ping, {radios:,} radios",
                    run.us_per_ping,
                    "us",
                    baseline,
                    f"{base_radios:,} radios",
                    "info",
                    note=f"CPU {_fmt(run.cpu_us_per_ping)} us vs {_fmt(cpu_baseline)} us"
                    + warmup_note(run.window, by_radios[base_radios].window),
                )
            )
        memory = memory_figures(scaling)
        rows.append(
            Row(
                "Redis bytes of radio state",
                memory["state_bytes_per_radio"],
                "B",
                target="<= 2048 B",
                passed=memory["state_bytes_per_radio"] <= 2048,
                note="per radio: track, latest fix, GEO entry, roster entry, on-duty member",
            )
        )
        rows.append(
            Row(
                "Redis bytes per radio, all keys",
                memory["bytes_per_radio"],
                "B",
                target="info",
                note=f"{memory['radio_run']} (visits and dose buckets grow with activity, "
                f"not radios); {memory['largest_radios']:,}-radio fleet "
                f"{_fmt(memory['bytes_per_radio_largest'])} B per radio seen",
            )
        )
        rows.append(
            Row(
                "Redis bytes per area",
                memory["bytes_per_area"],
                "B",
                target="info",
                note=f"marginal over {memory['extra_areas']:,} grid areas (pings applied "
                f"{memory['pings_applied_most_fewest'][0]:,} vs "
                f"{memory['pings_applied_most_fewest'][1]:,}); definitions alone "
                f"{_fmt(memory['definition_bytes_per_area'])} B",
            )
        )
    else:
        rows.append(Row("per-ping cost and memory", None, "", note=_missing(scaling)))
    alert = results.get("alert")
    if isinstance(alert, dict) and alert.get("latency_s") is not None:
        value = float(alert["latency_s"])
        rows.append(Row("alert latency", value, "s", target="<= 5 s", passed=value <= 5.0))
    else:
        reason = alert.get("reason") if isinstance(alert, dict) else _missing(alert)
        rows.append(
            Row("alert latency", None, "s", target="<= 5 s", note=f"not measured: {reason}")
        )
    return rows


RADIO_STATE_KINDS = frozenset({"tracks", "lastfix", "geo", "roster", "on_duty"})
"""Key kinds that hold one entry per radio (see :func:`_key_kind`)."""


def mean_of(values: Sequence[float | None]) -> float | None:
    """The mean of the replays of one measurement (``None`` if one is missing)."""
    if not values or any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None) / len(values)


def replays_note(runs: Sequence[ReplayResult], bracket: Sequence[ReplayResult]) -> str:
    """Which replays a per-ping figure and its 40-area baseline are the means of."""

    def each(replays: Sequence[ReplayResult]) -> str:
        return " and ".join(f"{_fmt(run.us_per_ping)} us" for run in replays)

    measured = f"mean of {len(runs)} replays in a row, {each(runs)}; " if len(runs) > 1 else ""
    if len(bracket) < 2:
        return measured + "baseline: the 40-area replay of the throughput step; "
    return (
        measured + f"baseline: mean of the 40-area replays just before and after, {each(bracket)}; "
    )


def memory_figures(scaling: Mapping[str, Any]) -> dict[str, Any]:
    """Bytes per radio (steady state: the smallest fleet, every radio with many fixes; and per
    radio seen in the largest fleet) and per area (marginal: the run with most areas minus the
    one with fewest, over the extra areas; plus the definitions alone)."""
    by_radios = _done(scaling["radios"])
    by_areas = _done(scaling["areas"])
    steady = by_radios[min(by_radios)]
    largest = by_radios[max(by_radios)]
    most, fewest = by_areas[max(by_areas)], by_areas[min(by_areas)]
    extra = most.areas - fewest.areas
    definitions = sum(v for k, v in most.memory_by_kind.items() if k in ("features", "version"))
    radio_state = sum(v for k, v in steady.memory_by_kind.items() if k in RADIO_STATE_KINDS)
    return {
        "state_bytes_per_radio": radio_state / steady.radios,
        "bytes_per_radio": steady.memory_bytes / steady.radios,
        "radio_run": f"{steady.radios:,} radios, {steady.window.applied / steady.radios:.0f} "
        "fixes each, every key of the run",
        "bytes_per_radio_largest": largest.memory_bytes
        / max(min(largest.radios, largest.window.applied), 1),
        "largest_radios": largest.radios,
        "bytes_per_area": (most.memory_bytes - fewest.memory_bytes) / extra if extra else None,
        "definition_bytes_per_area": definitions / most.areas,
        "extra_areas": extra,
        "pings_applied_most_fewest": [most.window.applied, fewest.window.applied],
    }


def _done(runs: Mapping[int, Any]) -> dict[int, ReplayResult]:
    return {size: run for size, run in runs.items() if isinstance(run, ReplayResult)}


def _failed(runs: Mapping[int, Any]) -> list[tuple[int, str]]:
    return [
        (size, str(run.get("error")))
        for size, run in sorted(runs.items())
        if not isinstance(run, ReplayResult)
    ]


def limits_summary(results: Mapping[str, Any]) -> list[str]:
    """What limits the rate, from the CPU shares of the base replay and the no-op run."""
    throughput = results.get("throughput")
    if not isinstance(throughput, dict):
        return []
    worker: ReplayResult = throughput["worker"]
    noop: Window = throughput["noop"]
    lines = [
        f"worker replay: CPU share of one core {_shares(worker.window.cpu)} (worker = its event "
        "loop, presence = its presence process; 2 cores here; a share near 1.0 is one "
        "saturated Python thread)",
        f"no-op Faust agent: CPU {_shares(noop.cpu)}",
        f"worker per ping: {_fmt(worker.us_per_ping)} us wall, "
        f"{_fmt(worker.cpu_us_per_ping)} us CPU in its two processes; the pings agent waits "
        f"{_fmt(worker.handler_us_per_ping)} us per ping for the presence process (decode to "
        f"Redis commit); no-op agent {_fmt(1e6 / noop.rate if noop.rate else None)} us wall",
        f"mean batch {_fmt(worker.mean_batch)} pings; Redis round trips per batch "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(worker.round_trips_per_batch.items())),
    ]
    cpu = worker.window.cpu
    loop, presence = cpu.get("worker", 0.0), cpu.get("presence", 0.0)
    if loop >= SATURATED:
        lines.append(
            f"=> the worker's event loop is CPU-bound ({loop:.2f} of a core): Faust's "
            "per-message path, the other agents and the timers limit the rate"
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
            "=> neither process saturates a core: each batch is the part of Faust's stream "
            "path that cannot overlap the presence process (taking the next batch from the "
            "buffer) followed by the presence process's time for the batch (its CPU, Redis "
            "and the broker); the event loop fetches the next batch meanwhile"
        )
    return lines


def to_json(value: Any) -> Any:
    """Dataclasses and dict keys made JSON-friendly."""
    if isinstance(value, ReplayResult | Window):
        out = to_json(asdict(value))
        if isinstance(value, ReplayResult):
            out["us_per_ping"] = value.us_per_ping
            out["cpu_us_per_ping"] = value.cpu_us_per_ping
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _missing(part: object) -> str:
    return str(part.get("error")) if isinstance(part, dict) else "not run"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _shares(cpu: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {share:.2f}" for name, share in cpu.items()) or "-"


def run(plan: Plan, out: Path, profile: bool = False) -> int:
    """Run every measurement, print the table, write the JSON file."""
    from streams.devtools.bench import api_latency  # here: it builds on this module's pieces
    from streams.devtools.bench import (
        soak as bench_soak,  # here: the soak builds on this module's pieces
    )

    started = time.time()
    log_dir = Path(tempfile.mkdtemp(prefix="coverwatch-bench-"))
    results: dict[str, Any] = {}
    print(f"coverwatch bench ({'quick' if plan.quick else 'full'}); logs in {log_dir}", flush=True)
    with services(work_dir=log_dir / "services") as stack:
        bench = Bench(stack, plan, log_dir, out.parent if profile else None)
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("throughput", bench.throughput),
            (
                "scaling",
                lambda: (
                    bench.scaling(results["throughput"]["worker"])
                    if isinstance(results.get("throughput"), dict)
                    and "worker" in results["throughput"]
                    else {"error": "needs the throughput run"}
                ),
            ),
            ("latency", bench.latency),
            ("alert", bench.alert_latency),
            ("api", api_latency.ApiLatency(bench).run),
        ]
        if plan.soak_minutes > 0:
            steps.append(("soak", bench_soak.Soak(bench, plan.soak_minutes).run))
        for name, step in steps:
            if plan.only and name not in plan.only:
                continue
            print(f"{name} ... ({time.time() - started:.0f} s)", flush=True)
            try:
                results[name] = step()
            except Exception as error:  # a failed measurement is reported, the rest go on
                results[name] = {"error": f"{type(error).__name__}: {error}"}
                print(f"  {name} failed: {error}", flush=True)
        published = bench.published
        profiles = bench.profiles
    rows = build_rows(results) + api_latency.api_rows(results.get("api"))
    rows += bench_soak.soak_rows(results.get("soak"))
    limits = limits_summary(results)
    print()
    print(format_table(rows))
    if limits:
        print("\nWhat limits the rate:")
        for line in limits:
            print(f"  {line}")
    document = {
        "version": 1,
        "quick": plan.quick,
        "started": format_ts(started),
        "seconds": round(time.time() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": to_json(asdict(plan)),
        "messages_published": published,
        "rows": [row.as_json() for row in rows],
        "limits": limits,
        "profiles": to_json(profiles),
        "results": to_json(results),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{out} written ({time.time() - started:.0f} s, {published:,} messages published)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.devtools.bench.runner``."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.devtools.bench.runner", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 8 minutes)")
    parser.add_argument(
        "--soak-minutes",
        type=float,
        help="length of the memory soak (default 24, 4 with --quick; 0 skips it)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=STEPS,
        help="run only this step (repeatable; scaling needs throughput)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench-results/bench.json"), help="the JSON results file"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the base, 10,000-area and 100k-radio workers with py-spy (if installed); "
        "collapsed stacks next to --out, top functions in the JSON (slows the worker a little)",
    )
    args = parser.parse_args(argv)
    plan = replace(Plan.make(args.quick), only=tuple(args.only or ()))
    if args.soak_minutes is not None:
        plan = replace(plan, soak_minutes=args.soak_minutes)
    return run(plan, args.out, profile=args.profile)


if __name__ == "__main__":
    sys.exit(main())
