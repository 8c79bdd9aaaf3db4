"""``make bench``'s soak: does memory level off under a steady live load?

The worker runs as in production (wall clock, one worker subprocess with its presence process)
while a paced producer sends simulated pings of 10,000 radios at 2,700 pings/s by default
(``--soak-radios``, ``--soak-rate``: ``--soak-radios 35000 --soak-rate 3500`` is a force of 35,000
radios each reporting every 10 s). The pings follow the bench's seeded random walk
(:func:`streams.devtools.bench.support.ping_messages`, generated a few seconds ahead; each ping
is dated when it is due), with an in-band ``clock.ticks`` heartbeat every 5 s as the
simulator publishes them (to ``clock.ticks`` and to every ``airwave.pings`` partition). Every
10 s the soak samples the resident memory (``/proc``) of the worker's event-loop process, of its
presence process and of redis-server, Redis's own ``used_memory``, every key of the run's prefix
by kind (``MEMORY USAGE``), the records sent and applied (the applied-offset watermarks), so
that a stall shows, and every process's CPU seconds (the broker's too: see :data:`LINGER_MS`).

Growth is the least-squares slope over the soak's second half (the first is the warm-up: every
radio's track fills with the fixes of the allowed lateness, the caches and the allocators' pools
fill). Every visit open since the start qualifies ``qualifying_s`` (10 minutes) after it, all at
once, which a 20-minute soak's second half begins with (docs/benchmarks.md says what that step is).
The noise is the residual
standard deviation about that line. A figure **levels off** when its slope is at most
:data:`FLOOR_MB_PER_MIN` or its growth over the half (slope x span) is within
:data:`NOISE_FACTOR` residual standard deviations.

Some Redis state grows by design with time, not with radios, until its retention fills (24 h
of dose minute buckets, 3 days of visits, 2 days of qualifying visit ends:
:data:`RETAINED_FAMILIES`). It is measured apart (``MEMORY USAGE`` of those keys) and taken out
of ``used_memory`` before the Redis figure is judged; its own growth is reported as information.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from streams import topics
from streams.devtools.bench.loading import Messages
from streams.devtools.bench.probes import (
    PARTITIONS,
    child_pids,
    cpu_sample,
    cpu_seconds,
    prefix_memory,
)
from streams.devtools.bench.support import Fleet, Row, ping_messages
from streams.devtools.stack.embedded import ManagedProcess
from streams.domain.timefmt import format_ts
from streams.kafka.producer import Producer, new_producer
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import State

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench

SAMPLE_S: Final = 10.0
HEARTBEAT_S: Final = 5.0
"""The simulator's default heartbeat interval."""
CHUNK_ROUNDS: Final = 2
"""Pings generated ahead, in rounds of the fleet (one ping per radio each)."""
SEND_POLL_S: Final = 0.005
LINGER_MS: Final = 100
"""Batches of ~70 pings per partition rather than a few: the embedded broker (Tansu's memory
storage) keeps every batch and its cost per request grows with the batches it holds (with a
5 ms linger the worker fell behind after ~12 minutes, the broker at 0.6-0.7 of a core)."""
MB: Final = 1_000_000
FLOOR_MB_PER_MIN: Final = 0.1
"""Slopes at or under this level off whatever the noise: 1 MB over a 10-minute half, the size
of one pymalloc arena (1 MiB), the step in which a Python process's heap grows or shrinks."""
NOISE_FACTOR: Final = 2.0
RETAINED_FAMILIES: Final = frozenset(
    {"dose:m", "dose:minutes", "visits", "visit_parts", "vday", "reporting", "trail", "patrol:m"}
)
"""Key kinds kept by time, not by radio: dose minute buckets and their index (24 h, the longest
dose window), a day's visits, their parts and summary (3 days), each minute's reporting radios
(1 h), each minute's trail of positions (3 h 10 min) and each minute's patrol steps (2 days)."""
RETAINED_SORTED_SETS: Final = frozenset({"qends", "vends", "vstarts", "closed"})
"""Per area, the qualifying visit ends and every visit's end and start of the last 2 days; per
``cad.incidents`` partition, the incidents closed in the last 2 days."""


# -- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trend:
    """A least-squares line through (minutes, MB) samples."""

    slope_mb_per_min: float
    residual_sd_mb: float
    span_min: float
    samples: int
    first_mb: float
    last_mb: float

    @property
    def growth_mb(self) -> float:
        """What the line grows by over the samples' span."""
        return self.slope_mb_per_min * self.span_min

    @property
    def levels_off(self) -> bool:
        """No growth beyond the noise: the slope is under the floor, or the growth over the
        span is within :data:`NOISE_FACTOR` residual standard deviations."""
        return (
            self.slope_mb_per_min <= FLOOR_MB_PER_MIN
            or self.growth_mb <= NOISE_FACTOR * self.residual_sd_mb
        )


def trend(points: Sequence[tuple[float, float]]) -> Trend | None:
    """The least-squares line through (seconds, bytes) points, in MB per minute, with the
    residual standard deviation (n - 2 degrees of freedom); None with fewer than 3 points or
    no time between them."""
    if len(points) < 3:
        return None
    minutes = [at / 60.0 for at, _ in points]
    values = [size / MB for _, size in points]
    mean_t = sum(minutes) / len(minutes)
    mean_v = sum(values) / len(values)
    spread = sum((t - mean_t) ** 2 for t in minutes)
    if spread <= 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(minutes, values, strict=True)) / spread
    residuals = [v - (mean_v + slope * (t - mean_t)) for t, v in zip(minutes, values, strict=True)]
    return Trend(
        slope_mb_per_min=slope,
        residual_sd_mb=math.sqrt(sum(r * r for r in residuals) / (len(points) - 2)),
        span_min=max(minutes) - min(minutes),
        samples=len(points),
        first_mb=values[0],
        last_mb=values[-1],
    )


def retained_by_design(kind: str) -> bool:
    """Whether a key kind (as :func:`streams.devtools.bench.probes.prefix_memory` names them:
    ``dose:m:*``,
    ``visits:*``, ``qends:*`` or ``qends:patrol-area``) is state kept by time."""
    family = kind.removesuffix(":*")
    return family in RETAINED_FAMILIES or family.split(":", 1)[0] in RETAINED_SORTED_SETS


@dataclass
class SoakSample:
    """One look at the soak, ``at_s`` seconds after it began (sizes in bytes; None: not read)."""

    at_s: float
    worker_rss: int | None
    presence_rss: int | None
    redis_used: int | None
    redis_rss: int | None
    broker_rss: int | None
    by_kind: dict[str, int]
    pings_sent: int
    records_sent: int
    records_applied: int
    cpu_s: dict[str, float | None] = field(default_factory=dict)
    """CPU seconds so far of the worker's two processes, Redis, the broker and the bench."""

    @property
    def retained(self) -> int:
        """Bytes of the run's Redis state kept by time (:func:`retained_by_design`)."""
        return sum(size for kind, size in self.by_kind.items() if retained_by_design(kind))

    @property
    def redis_other(self) -> int | None:
        """Redis ``used_memory`` less the state kept by time."""
        return None if self.redis_used is None else self.redis_used - self.retained


FIGURES: Final = ("worker_rss", "presence_rss", "redis_other", "retained", "redis_rss")
"""What the soak fits a line to (``broker_rss`` is left out: Tansu's test storage keeps every
message in memory by design)."""


def second_half(samples: Sequence[SoakSample]) -> list[SoakSample]:
    """The samples from the middle of the soak on."""
    if not samples:
        return []
    middle = (samples[0].at_s + samples[-1].at_s) / 2
    return [sample for sample in samples if sample.at_s >= middle]


def trends(samples: Sequence[SoakSample]) -> dict[str, Trend | None]:
    """A line through each of :data:`FIGURES` over the second half."""
    half = second_half(samples)
    found: dict[str, Trend | None] = {}
    for name in FIGURES:
        points = [(s.at_s, float(v)) for s in half if (v := getattr(s, name)) is not None]
        found[name] = trend(points)
    return found


def kind_growth(samples: Sequence[SoakSample], top: int = 8) -> dict[str, float]:
    """MB per minute by key kind between the first and the last sample of the second half,
    the largest changes first."""
    half = second_half(samples)
    if len(half) < 2 or half[-1].at_s <= half[0].at_s:
        return {}
    minutes = (half[-1].at_s - half[0].at_s) / 60.0
    first, last = half[0].by_kind, half[-1].by_kind
    growth = {
        kind: (last.get(kind, 0) - first.get(kind, 0)) / MB / minutes for kind in first | last
    }
    ranked = sorted(growth.items(), key=lambda item: -abs(item[1]))[:top]
    return {kind: round(rate, 4) for kind, rate in ranked}


def cpu_shares(samples: Sequence[SoakSample]) -> dict[str, float]:
    """Each process's share of one core over the second half."""
    half = second_half(samples)
    if len(half) < 2 or half[-1].at_s <= half[0].at_s:
        return {}
    seconds = half[-1].at_s - half[0].at_s
    shares: dict[str, float] = {}
    for name, end in half[-1].cpu_s.items():
        start = half[0].cpu_s.get(name)
        if start is not None and end is not None:
            shares[name] = round((end - start) / seconds, 3)
    return shares


def applied_rate(samples: Sequence[SoakSample]) -> tuple[float | None, float | None]:
    """(records applied per second, records sent per second) over the second half."""
    half = second_half(samples)
    if len(half) < 2 or half[-1].at_s <= half[0].at_s:
        return None, None
    seconds = half[-1].at_s - half[0].at_s
    applied = (half[-1].records_applied - half[0].records_applied) / seconds
    return applied, (half[-1].records_sent - half[0].records_sent) / seconds


# -- rows ---------------------------------------------------------------------------------------

TARGET: Final = f"levels off: <= {FLOOR_MB_PER_MIN} MB/min or growth <= {NOISE_FACTOR:.0f} sd"
JUDGED: Final = (
    ("worker_rss", "worker event loop RSS"),
    ("presence_rss", "presence process RSS"),
    ("redis_other", "Redis used_memory less state kept by time"),
)


def soak_rows(result: Mapping[str, Any] | None) -> list[Row]:
    """The soak's rows: growth per minute of each judged figure (with its noise), the state
    kept by time and redis-server's RSS as information, and whether the worker kept up."""
    if not isinstance(result, Mapping) or "samples" not in result:
        reason = result.get("error") if isinstance(result, Mapping) else "not run"
        return [Row("soak: memory growth", None, "MB/min", note=f"not measured: {reason}")]
    samples = [SoakSample(**sample) for sample in result["samples"]]
    lines = trends(samples)
    rows = [_trend_row(f"soak: {label}", lines[name], TARGET) for name, label in JUDGED]
    kinds = ", ".join(f"{kind} {rate:+.3f}" for kind, rate in kind_growth(samples).items())
    rows.append(
        _trend_row(
            "soak: Redis state kept by time",
            lines["retained"],
            "info",
            "dose minute buckets (24 h), visits (3 days), qualifying visit ends (2 days) grow "
            f"until their retention fills; MB/min by key kind: {kinds}",
        )
    )
    rows.append(
        _trend_row("soak: redis-server RSS", lines["redis_rss"], "info", "includes the above")
    )
    applied, sent = applied_rate(samples)
    kept_up = None if applied is None or not sent else applied >= 0.99 * sent
    last = samples[-1] if samples else None
    behind = last.records_sent - last.records_applied if last else 0
    rows.append(
        Row(
            "soak: records applied per s",
            applied,
            "/s",
            sent,
            "sent",
            ">= 0.99x sent",
            kept_up,
            note=f"second half; {last.pings_sent if last else 0:,} pings sent in all, "
            f"{behind:,} records not applied at the last sample; CPU share of a core: "
            + ", ".join(f"{name} {share:.2f}" for name, share in cpu_shares(samples).items()),
        )
    )
    return rows


def _trend_row(measurement: str, line: Trend | None, target: str, note: str = "") -> Row:
    if line is None:
        return Row(measurement, None, "MB/min", target=target, note="not measured: too few samples")
    return Row(
        measurement,
        round(line.slope_mb_per_min, 4),
        "MB/min",
        target=target,
        passed=line.levels_off if target != "info" else None,
        note=f"second half, {line.span_min:.1f} min, {line.samples} samples: "
        f"{line.first_mb:,.1f} -> {line.last_mb:,.1f} MB, growth {line.growth_mb:+.2f} MB, "
        f"residual sd {line.residual_sd_mb:.2f} MB" + (f"; {note}" if note else ""),
    )


# -- the run ------------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


@dataclass
class Counts:
    """What the producer has sent so far."""

    pings: int = 0
    records: int = 0
    """Records sent to ``airwave.pings``: pings and in-band heartbeats."""


def measure(bench: Bench) -> dict[str, Any]:
    """The soak step: a soak of the plan's length on the bench's stack."""
    plan = bench.plan
    return Soak(bench, plan.soak_minutes, plan.soak_radios, plan.soak_rate).run()


@dataclass
class Soak:
    """One soak on the bench's stack: a live worker, a paced producer and a sampler."""

    bench: Bench
    minutes: float
    radios: int
    """Radios of the fleet, each sending one ping a round."""
    rate: int
    """Pings a second."""
    samples: list[SoakSample] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)

    def run(self) -> dict[str, Any]:
        """Start the worker with the roster and areas in place, soak, return the samples."""
        worker, fleet = self.bench.start_live_worker("soak", self.radios)
        try:
            asyncio.run(self._soak(worker.settings, fleet, worker.process))
        finally:
            worker.stop()
            self.bench.published += self.counts.records
        return {
            "minutes": self.minutes,
            "rate": self.rate,
            "radios": self.radios,
            "sample_s": SAMPLE_S,
            "samples": [asdict(sample) for sample in self.samples],
        }

    async def _soak(self, settings: Settings, fleet: Fleet, worker: ManagedProcess) -> None:
        """Produce and sample side by side until the soak's time is up."""
        began = time.time()
        stop_at = began + self.minutes * 60
        producer = asyncio.create_task(self._produce(settings, fleet, began, stop_at))
        try:
            await self._sample(settings, worker, began, stop_at, producer)
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _produce(
        self, settings: Settings, fleet: Fleet, began: float, stop_at: float
    ) -> None:
        """Pings at the soak's rate, each dated and sent when due, and a heartbeat every
        :data:`HEARTBEAT_S`; every chunk's deliveries are awaited before the next is sent."""
        producer = new_producer(
            settings.kafka_bootstrap, linger_ms=LINGER_MS, max_batch_size=1 << 20
        )
        await producer.start()
        topic = settings.topic(topics.PINGS)
        chunk_start, next_tick, seed = began, began, 0
        try:
            while time.time() < stop_at:
                seed += 1
                messages, fleet = await asyncio.to_thread(
                    soak_chunk, fleet, chunk_start, seed, self.rate
                )
                deliveries: list[asyncio.Future[Any]] = []
                sent = 0
                while sent < len(messages) and time.time() < stop_at:
                    now = time.time()
                    due = min(len(messages), int((now - chunk_start) * self.rate) + 1)
                    for key, value in messages[sent:due]:
                        deliveries.append(await producer.send(topic, value, key=key))
                    self.counts.pings += max(due - sent, 0)
                    self.counts.records += max(due - sent, 0)
                    sent = max(sent, due)
                    if now >= next_tick:
                        deliveries += await heartbeat(producer, settings, now)
                        self.counts.records += PARTITIONS
                        next_tick += HEARTBEAT_S
                    await asyncio.sleep(SEND_POLL_S)
                await asyncio.gather(*deliveries)
                chunk_start += len(messages) / self.rate
        finally:
            await producer.stop()

    async def _sample(
        self,
        settings: Settings,
        worker: ManagedProcess,
        began: float,
        stop_at: float,
        producer: asyncio.Task[None],
    ) -> None:
        """A sample every :data:`SAMPLE_S` from ``began`` to ``stop_at``; a line a minute."""
        state = State(settings.redis_url, settings.key_prefix, Metrics(()))
        keys = [state.watermark_key(topics.PINGS, p) for p in range(PARTITIONS)]
        next_at = began
        try:
            while next_at <= stop_at:
                await asyncio.sleep(max(next_at - time.time(), 0.0))
                if not worker.alive:
                    raise RuntimeError(f"the soak worker died:\n{worker.log_tail()}")
                if producer.done():
                    producer.result()
                sample = await self._look(state, keys, settings, worker.process.pid, began)
                self.samples.append(sample)
                if len(self.samples) % round(60 / SAMPLE_S) == 1:
                    print(f"  {progress_line(sample)}", flush=True)
                next_at += SAMPLE_S
        finally:
            await state.close()

    async def _look(
        self, state: State, keys: list[str], settings: Settings, worker_pid: int, began: float
    ) -> SoakSample:
        """Memory of the worker's two processes, Redis and the broker; the records sent and
        applied."""
        at_s = time.time() - began
        used_memory = await state.memory_used()
        watermarks = await state.read_versions(keys)
        _, _, by_kind = await asyncio.to_thread(
            prefix_memory, settings.redis_url, settings.key_prefix
        )
        children = [rss for child in child_pids(worker_pid) if (rss := rss_bytes(child))]
        pids = {
            "worker": worker_pid,
            "redis": self.bench.redis_pid,
            "broker": self.bench.broker_pid,
        }
        cpu = cpu_sample(pids) | {"bench": cpu_seconds(os.getpid())}
        return SoakSample(
            at_s=round(at_s, 2),
            worker_rss=rss_bytes(worker_pid),
            presence_rss=sum(children) if children else None,
            redis_used=used_memory,
            redis_rss=rss_bytes(self.bench.redis_pid),
            broker_rss=rss_bytes(self.bench.broker_pid),
            by_kind=by_kind,
            pings_sent=self.counts.pings,
            records_sent=self.counts.records,
            records_applied=sum(int(value) + 1 for value in watermarks if value is not None),
            cpu_s=cpu,
        )


def soak_chunk(fleet: Fleet, start_ts: float, seed: int, rate: int) -> tuple[Messages, Fleet]:
    """:data:`CHUNK_ROUNDS` rounds of pings from ``start_ts`` on, and the fleet after them. One
    round more is made and dropped: :func:`ping_messages` starts at the fleet's last positions,
    which the previous chunk has sent already."""
    radios = len(fleet.issis)
    messages, fleet = ping_messages(
        fleet, (CHUNK_ROUNDS + 1) * radios, start_ts - radios / rate, rate, seed=seed
    )
    return messages[radios:], fleet


async def heartbeat(
    producer: Producer, settings: Settings, now: float
) -> list[asyncio.Future[Any]]:
    """A ``clock.ticks`` heartbeat at ``now``, in band to every pings partition too (as the
    simulator publishes them); its deliveries."""
    tick = orjson.dumps({"schema": "clock.ticks/1", "source": "bench", "ts": format_ts(now)})
    deliveries = [
        await producer.send(settings.topic(topics.PINGS), tick, key=b"bench", partition=partition)
        for partition in range(PARTITIONS)
    ]
    deliveries.append(await producer.send(settings.topic(topics.CLOCK_TICKS), tick, key=b"bench"))
    return deliveries


def progress_line(sample: SoakSample) -> str:
    """One sample for the console."""

    def mb(size: int | None) -> str:
        return "-" if size is None else f"{size / MB:,.1f} MB"

    return (
        f"soak {sample.at_s / 60:.0f} min: worker {mb(sample.worker_rss)}, presence "
        f"{mb(sample.presence_rss)}, Redis used {mb(sample.redis_used)} (kept by time "
        f"{mb(sample.retained)}), redis-server RSS {mb(sample.redis_rss)}; "
        f"{sample.pings_sent:,} pings sent, "
        f"{sample.records_sent - sample.records_applied:,} records not yet applied"
    )
