"""The archive's cost: the worker's pings/s with the archive on against off, on the same kind
of backlog in the same run, and the archive's bytes per ping.

The replays alternate off, on, on, off (these machines drift within minutes; each side is the
mean of its two). Each replay's rate and CPU are taken over the whole read, warm-up included:
the archive process reads the backlog at its own pace, mostly while the worker warms up, so the
steady window after the warm-up would miss most of its work. The archive runs with its defaults
but a 10 s flush (so its files are written within the replay), in the worker's archive process,
into a directory under the bench's log directory. After an archive-on replay, the worker stays
up until its archive has written every row it read (no row waiting and the fix rows counter
still for 2 s); bytes per ping are then the size of the ``fixes`` table's files over the pings
of the backlog, and of the whole archive over the same.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.devtools.bench.probes import fetch_metrics
from streams.devtools.bench.replay import ReplayResult, replay
from streams.devtools.bench.support import MetricsText, Row, figure, missing_reason, ratio
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench

FLUSH_S = 10.0
SETTLE_TIMEOUT_S = 120.0
MAX_COST = 0.10


def measure(bench: Bench) -> dict[str, Any]:
    """Off, on, on, off replays of one backlog size; archive sizes after each on replay."""
    runs: dict[str, list[ReplayResult]] = {"off": [], "on": []}
    sizes: list[dict[str, float]] = []
    for serial, side in enumerate(("off", "on", "on", "off")):
        if side == "on":
            runs[side].append(replay_archiving(bench, bench.log_dir / f"archive-{serial}", sizes))
        else:
            plan = bench.plan
            label = f"archiveoff{serial}"
            runs[side].append(replay(bench, label, plan.base_radios, 0, plan.base_pings))
    return {"runs": runs, "sizes": sizes, "pings": runs["on"][0].pings}


def replay_archiving(bench: Bench, directory: Path, sizes: list[dict[str, float]]) -> ReplayResult:
    """A replay with the archive on into ``directory``; its sizes appended to ``sizes``."""

    def after(settings: Settings) -> None:
        archive_cpu_s = settle(settings)
        sizes.append(archive_sizes(directory) | {"archive_cpu_s": archive_cpu_s})

    def adjust(settings: Settings) -> Settings:
        return replace(settings, archive_url=directory.as_uri(), archive_flush_s=FLUSH_S)

    plan = bench.plan
    label = f"archiveon{len(sizes)}"
    return replay(bench, label, plan.base_radios, 0, plan.base_pings, after=after, adjust=adjust)


def settle(settings: Settings) -> float:
    """Wait until the worker's archive has written every row it read; return the CPU seconds
    its archive process used in all."""
    url = f"http://127.0.0.1:{settings.web_port}"
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last = -1.0
    while True:
        metrics = MetricsText.parse(fetch_metrics(url))
        rows = metrics.value("coverwatch_archive_rows_total", table="fixes")
        waiting = metrics.value("coverwatch_archive_unwritten_age_seconds")
        if (rows > 0 and rows == last and waiting == 0) or time.monotonic() > deadline:
            return metrics.value("coverwatch_archive_process_cpu_seconds_total")
        last = rows
        time.sleep(2.0)


def archive_sizes(directory: Path) -> dict[str, float]:
    """Bytes of the ``fixes`` table's files and of every archive file."""
    files = [path for path in directory.rglob("*.parquet") if path.is_file()]
    return {
        "fixes": sum(p.stat().st_size for p in files if "table=fixes" in p.parts),
        "all": sum(p.stat().st_size for p in files),
    }


def us_per_ping(result: ReplayResult, *processes: str) -> float | None:
    """CPU of the worker's ``processes`` per ping over the whole replay, microseconds:
    ``worker`` (its event loop), ``presence``, ``archive``."""
    window = result.window
    if not window.whole_rate or "worker" not in window.whole_cpu:
        return None
    return 1e6 * sum(window.whole_cpu.get(p, 0.0) for p in processes) / window.whole_rate


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if len(known) == len(values) and known else None


def rows(result: object) -> list[Row]:
    """pings/s with the archive on against off (target: at most 10 % slower), what the archive
    costs in CPU, and bytes per ping."""
    if not isinstance(result, dict):
        reason = missing_reason(result)
        return [
            Row("pings/s with the archive on", None, "/s", note=reason),
            Row("event-loop CPU per ping with the archive on", None, "us", note=reason),
            Row("worker CPU per ping with the archive on", None, "us", note=reason),
            Row("archive bytes per ping", None, "B", note=reason),
        ]
    runs: dict[str, list[ReplayResult]] = result["runs"]
    on = _mean([r.window.whole_rate for r in runs["on"]])
    off = _mean([r.window.whole_rate for r in runs["off"]])
    measured = ratio(on, off)
    pings = result["pings"]
    sizes: list[dict[str, float]] = result["sizes"]
    fixes_bytes = _mean([float(s["fixes"]) for s in sizes])
    all_bytes = _mean([float(s["all"]) for s in sizes])
    order = ", ".join(
        f"{side} {figure(r.window.whole_rate)}/s" for side in ("off", "on") for r in runs[side]
    )
    steady = ratio(
        _mean([r.window.rate for r in runs["on"]]), _mean([r.window.rate for r in runs["off"]])
    )
    within = " and ".join(
        f"{r.window.whole_cpu.get('archive', 0.0) * r.window.whole_seconds:.1f} of "
        f"{size.get('archive_cpu_s', 0.0):.1f} s"
        for r, size in zip(runs["on"], sizes, strict=False)
    )
    everything = ("worker", "presence", "archive")
    cpu_on = _mean([us_per_ping(r, *everything) for r in runs["on"]])
    cpu_off = _mean([us_per_ping(r, *everything) for r in runs["off"]])
    loop_on = _mean([us_per_ping(r, "worker") for r in runs["on"]])
    loop_off = _mean([us_per_ping(r, "worker") for r in runs["off"]])
    loop_ratio = ratio(loop_on, loop_off)
    archive_cpu = _mean([us_per_ping(r, "archive") for r in runs["on"]])
    return [
        Row(
            "pings/s with the archive on",
            on,
            "/s",
            off,
            "archive off",
            f">= {1 - MAX_COST:.2f}x off",
            None if measured is None else measured >= 1 - MAX_COST,
            note=f"each replay whole, from the worker's first ping applied to its last (the "
            f"archive reads the backlog at its own pace, so a window after the warm-up can miss "
            f"its work); replays off, on, on, off, each side the mean of two: {order}; the "
            f"archive process's CPU within the replays {within} it used in all; after the "
            f"warm-up alone {figure(steady)}x",
        ),
        Row(
            "event-loop CPU per ping with the archive on",
            loop_on,
            "us",
            loop_off,
            "archive off",
            f"<= {1 + MAX_COST:.2f}x off",
            None if loop_ratio is None else loop_ratio <= 1 + MAX_COST,
            note="the worker's event-loop process over each whole replay, which every agent "
            "shares and which limits a saturated worker; the archive runs in a process of its "
            "own, so what it adds here is only taking its reports",
        ),
        Row(
            "worker CPU per ping with the archive on",
            cpu_on,
            "us",
            cpu_off,
            "archive off",
            "info",
            note=f"all the worker's processes over each whole replay; the archive process's share "
            f"{figure(archive_cpu)} us per ping (it reads every archived record again, decodes, "
            "pseudonymises and writes Parquet), on a core the event loop does not use",
        ),
        Row(
            "archive bytes per ping",
            None if fixes_bytes is None else fixes_bytes / pings,
            "B",
            target="info",
            note=f"the fixes table (one fix per radio per 60 s kept of a ping every 10 s) over "
            f"the {pings:,} pings of the backlog; the whole archive "
            f"{figure(None if all_bytes is None else all_bytes / pings)} B per ping (with the "
            "roster and areas)",
        ),
    ]
