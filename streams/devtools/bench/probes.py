"""What the bench reads off the processes it runs: CPU seconds and memory from ``/proc``
and Redis, /metrics, progress through a backlog, and the measured window of a backlog read."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams import topics
from streams.devtools.bench.support import MetricsText, rate_between
from streams.devtools.stack.embedded import ManagedProcess, http_ok, spawn, wait_until
from streams.settings import Settings
from streams.state.measure import key_sizes, server_pid, watermark_reader

POLL_S = 0.1
PARTITIONS = topics.BY_NAME[topics.PINGS].partitions
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def child_kind(pid: int) -> str:
    """``archive`` for a worker's archive process, ``presence`` for its other child."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "presence"
    return "archive" if b"streams.archive" in command else "presence"


def cpu_sample(pids: Mapping[str, int]) -> dict[str, float | None]:
    """CPU seconds so far of each process; for the worker also of its children: its presence
    process, as ``presence``, and its archive process when it keeps one, as ``archive``."""
    sample = {name: cpu_seconds(pid) for name, pid in pids.items()}
    if "worker" in pids:
        children: dict[str, list[float]] = {"presence": []}
        for child in child_pids(pids["worker"]):
            seconds = cpu_seconds(child)
            if seconds is not None:
                children.setdefault(child_kind(child), []).append(seconds)
        for kind, known in children.items():
            sample[kind] = sum(known) if known else None
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
    whole_rate: float | None = None
    """The rate over the whole read, warm-up included."""
    whole_cpu: dict[str, float] = field(default_factory=dict)
    """Process -> CPU share of one core over the whole read, warm-up included."""
    whole_seconds: float = 0.0


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
    warmup_messages: int = 0,
) -> Window:
    """Poll ``progress`` until ``total`` messages are processed or the window (from the first
    poll that shows messages processed with everything else read) lasts ``max_window_s``. The
    rate and CPU shares are taken after the first ``warmup_s`` of it and the first
    ``warmup_messages``, so that they are the steady per-message cost and not the consumer's
    start; the warm-up's own rate is kept apart (a backlog read within twice the warm-up is
    measured whole)."""
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
    window = measured_window(samples, count, total, warmup_s, warmup_messages)
    if len(samples) < 2 and ready_at is not None:
        window.rate = 0.0
        window.note = f"no progress within {max_window_s:.0f} s of the topics it reads first"
    if not window.completed and not window.note:
        window.note = f"window closed after {count:.0f} of {total} (time-boxed)"
    return window


def measured_window(
    samples: Sequence[Sample],
    count: float,
    total: int,
    warmup_s: float,
    warmup_messages: int = 0,
) -> Window:
    """The rate and CPU shares between the first sample at least ``warmup_s`` after the first
    one, with at least ``warmup_messages`` processed, and the last one (the warm-up's own rate
    kept apart; a backlog read within twice the warm-up is measured whole). A window whose
    warm-up never ended says so in its note."""
    window = Window(completed=count >= total, applied=int(count))
    if len(samples) >= 2:
        window.whole_rate = rate_between([samples[0][:2], samples[-1][:2]])
        window.whole_seconds = samples[-1][0] - samples[0][0]
        for name, end in samples[-1][2].items():
            start = samples[0][2].get(name)
            if start is not None and end is not None and window.whole_seconds > 0:
                window.whole_cpu[name] = (end - start) / window.whole_seconds
    if samples and samples[-1][0] - samples[0][0] >= 2 * warmup_s > 0:
        first = next(
            (
                i
                for i, sample in enumerate(samples)
                if sample[0] - samples[0][0] >= warmup_s and sample[1] >= warmup_messages
            ),
            len(samples) - 1,
        )
        if first == len(samples) - 1:
            window.note = (
                f"warm-up ({warmup_s:g} s and {warmup_messages} messages) not over; measured whole"
            )
        else:
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


def prefix_memory(redis_url: str, prefix: str) -> tuple[int, int, dict[str, int]]:
    """(bytes, keys, bytes by key kind) of every Redis key under ``prefix:`` (MEMORY USAGE with
    every element counted)."""
    sizes = key_sizes(redis_url, prefix)
    by_kind: dict[str, int] = {}
    for key, size in sizes:
        kind = key_kind(key)
        by_kind[kind] = by_kind.get(kind, 0) + size
    return sum(size for _, size in sizes), len(sizes), by_kind


def key_kind(key: str) -> str:
    """``cw:{airwave.pings.2}:dose:123`` -> ``dose:*``; ``cw:{directory}:roster`` -> ``roster``."""
    rest = key.split("}:", 1)[1] if "}:" in key else key.split(":", 1)[-1]
    parts = rest.split(":")
    if len(parts) > 1 and any(ch.isdigit() for ch in parts[-1]):
        return ":".join(parts[:-1]) + ":*"
    return rest


def redis_pid(redis_url: str) -> int:
    """The process id of the Redis server."""
    return server_pid(redis_url)


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


def worker_share(cpu: Mapping[str, float]) -> float | None:
    """Cores a worker used (its event loop, ``worker``, plus its presence process and its
    archive process, if any)."""
    loop = cpu.get("worker")
    return None if loop is None else loop + cpu.get("presence", 0.0) + cpu.get("archive", 0.0)
