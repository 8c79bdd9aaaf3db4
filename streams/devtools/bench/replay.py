"""A backlog replay: publish areas, roster and pings, preload Redis, let a worker read it all,
and what it cost (the throughput and scaling steps are made of these)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.devtools.bench.loading import area_version, preload
from streams.devtools.bench.probes import (
    Consumer,
    Progress,
    Window,
    fetch_metrics,
    prefix_memory,
    start_consumer,
    watch_backlog,
    watermark_progress,
    worker_share,
)
from streams.devtools.bench.support import (
    BENCH_EPOCH,
    MetricsText,
    area_messages,
    cpu_shares_text,
    figure,
    grid_areas,
    make_fleet,
    ping_messages,
)
from streams.devtools.stack.embedded import ManagedProcess, python_command, spawn
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench


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
    """Time the pings reader waits for the presence processes per ping (decode to Redis commit),
    whole run."""

    @property
    def us_per_ping(self) -> float | None:
        """Worker wall time per ping (microseconds)."""
        return None if not self.window.rate else 1e6 / self.window.rate

    @property
    def worker_share(self) -> float | None:
        """Cores the worker used: its event loop and its child processes."""
        return worker_share(self.window.cpu)

    @property
    def cpu_us_per_ping(self) -> float | None:
        """Worker CPU time per ping, all its processes (microseconds)."""
        share = self.worker_share
        if share is None or not self.window.rate:
            return None
        return 1e6 * share / self.window.rate


def replay(
    bench: Bench,
    label: str,
    radios: int,
    extra_areas: int,
    pings: int,
    after: Callable[[Settings], None] | None = None,
    window_s: float | None = None,
    areas_beside: bool = False,
    before: Callable[[Settings], None] | None = None,
    adjust: Callable[[Settings], Settings] | None = None,
) -> ReplayResult:
    """Publish a backlog (areas, roster, pings), preload Redis, let a worker read it all;
    ``before`` and ``after`` run with its settings just before the worker starts and after
    it read the backlog; ``adjust`` changes the worker's settings (the archive step turns the
    archive on)."""
    areas = list(bench.pack) + grid_areas(extra_areas, bench.pack, beside=areas_beside)
    fleet = make_fleet(radios, bench.pack)
    roster = fleet.roster_messages()
    area_msgs = area_messages(areas)
    rate = radios / bench.plan.replay_interval_s
    backlog, _ = ping_messages(fleet, pings, BENCH_EPOCH, rate)
    settings = bench.settings(label)
    if adjust is not None:
        settings = adjust(settings)
    bench.publish(
        settings,
        [(topics.AREAS, area_msgs), (topics.ROSTER, roster), (topics.PINGS, backlog)],
    )
    version = asyncio.run(preload(settings, roster, area_msgs))
    if before is not None:
        before(settings)
    progress = watermark_progress(settings, len(roster), len(area_msgs))
    window, metrics, scrape_s = read_backlog(
        bench, settings, label, progress, len(backlog), window_s, after, warmup_messages=radios
    )
    memory, keys, by_kind = prefix_memory(settings.redis_url, settings.key_prefix)
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
        metrics_scrape_s=scrape_s,
        **worker_figures(metrics),
    )
    print(
        f"  {label}: {radios} radios, {len(areas)} areas, {len(backlog)} pings -> "
        f"{figure(window.rate)} pings/s (warm-up {figure(window.warmup_rate)} pings/s); "
        f"CPU {cpu_shares_text(window.cpu)}; one GET /metrics {scrape_s:.2f} s",
        flush=True,
    )
    return result


def read_backlog(
    bench: Bench,
    settings: Settings,
    label: str,
    progress: Progress,
    total: int,
    window_s: float | None,
    after: Callable[[Settings], None] | None,
    warmup_messages: int = 0,
) -> tuple[Window, MetricsText, float]:
    """Start a worker (profiled with ``--profile``), watch it read ``total`` pings, scrape its
    /metrics, run ``after``, stop it; the window, the metrics and how long the scrape took.
    The warm-up left out is the worker's start and at least ``warmup_messages`` pings (a
    replay's first round: every radio's first fix makes its track, its first visit and its
    roster entry in the cache, once per radio and worker)."""
    worker = start_consumer(settings, python_command("worker"), bench.log_dir, label)
    profiler = start_profiler(bench, label, worker)
    try:
        window = watch_backlog(
            worker.process,
            progress,
            total,
            bench.plan.consume_timeout_s,
            window_s or bench.plan.max_window_s,
            bench.pids(worker),
            bench.plan.warmup_s,
            warmup_messages,
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
            bench.profiles[label] = summarise_profile(profiler.log_path.with_suffix(".txt"))
        worker.stop()
    return window, metrics, scrape_s


def worker_figures(metrics: MetricsText) -> dict[str, Any]:
    """What a replay's worker reported on /metrics: fix outcomes, deadletters, Redis round
    trips per batch, the mean batch and the handler's time per ping."""
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
    handler_s = metrics.value("coverwatch_batch_seconds_sum", topic=topics.PINGS)
    return {
        "outcomes": outcomes,
        "deadletters": metrics.value("coverwatch_deadletter_total", topic=topics.PINGS),
        "round_trips_per_batch": trips,
        "mean_batch": batch_sum / batches if batches else None,
        "handler_us_per_ping": 1e6 * handler_s / batch_sum if batch_sum else None,
    }


def start_profiler(bench: Bench, label: str, worker: Consumer) -> ManagedProcess | None:
    """py-spy sampling the base worker (``--profile``), without pausing it."""
    if bench.profile_dir is None or label not in ("base", "areas10000", "radios100000"):
        return None
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("  (--profile: py-spy not found next to python; pip install py-spy)")
        return None
    bench.profile_dir.mkdir(parents=True, exist_ok=True)
    output = bench.profile_dir / f"profile-{label}.txt"
    argv = [str(spy), "record", "--nonblocking", "--subprocesses", "--format", "raw"]
    argv += ["--rate", "100"]
    argv += ["--output", str(output), "--pid", str(worker.process.process.pid)]
    return spawn(f"profile-{label}", argv, bench.profile_dir)


def stop_profiler(profiler: ManagedProcess) -> None:
    """Stop py-spy the way that makes it write its output (SIGINT), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(profiler.process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        profiler.process.wait(timeout=30)
    profiler.stop()


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive share of samples per function from py-spy's collapsed stacks, per
    process (the worker's event loop, its presence process, its archive process: py-spy names
    each stack's process first), idle samples included (the event loop waiting shows up as
    ``select``)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"error": f"no profile at {path}"}
    by_process: dict[str, list[tuple[list[str], int]]] = {}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        command = ""
        while frames and frames[0].startswith("process "):  # the parent's, then the child's
            command = frames.pop(0)
        if not frames:  # the process was sampled idle
            continue
        process = "worker"
        if "streams.engines.presence_process" in command:
            process = "presence"
        elif "streams.archive" in command:
            process = "archive"
        by_process.setdefault(process, []).append((frames, int(count_text)))
    if not by_process:
        return {"error": "empty profile"}
    return {name: _shares(stacks, top) for name, stacks in sorted(by_process.items())}


def _shares(stacks: list[tuple[list[str], int]], top: int) -> dict[str, Any]:
    self_time: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for stack, count in stacks:
        total += count
        frames = [frame.split(" (")[0] + frame_file(frame) for frame in stack]
        self_time[frames[-1]] = self_time.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def shares(table: Mapping[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [(name, round(count / total, 4)) for name, count in ranked]

    return {"samples": total, "self": shares(self_time), "inclusive": shares(inclusive)}


def frame_file(frame: str) -> str:
    """`` (file.py)`` of a py-spy frame ``name (path/file.py:123)``, without the path."""
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    return f" ({Path(location.rsplit(':', 1)[0]).name})"
