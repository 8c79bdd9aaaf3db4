"""The archive's cost: the worker's pings/s with the archive on against off, on the same kind
of backlog in the same run, and the archive's bytes per ping.

The replays alternate off, on, on, off (these machines drift within minutes; each side is the
mean of its two). The archive runs with its defaults but a 10 s flush (so its files are written
within the window) into a directory under the bench's log directory. After an archive-on
replay, the worker stays up until its archive has written every row it read (no row waiting
and the fix rows counter still for 2 s); bytes per ping are then the size of the ``fixes``
table's files over the pings of the backlog, and of the whole archive over the same.
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
    sizes: list[dict[str, int]] = []
    for serial, side in enumerate(("off", "on", "on", "off")):
        if side == "on":
            runs[side].append(replay_archiving(bench, bench.log_dir / f"archive-{serial}", sizes))
        else:
            plan = bench.plan
            label = f"archiveoff{serial}"
            runs[side].append(replay(bench, label, plan.base_radios, 0, plan.base_pings))
    return {"runs": runs, "sizes": sizes, "pings": runs["on"][0].pings}


def replay_archiving(bench: Bench, directory: Path, sizes: list[dict[str, int]]) -> ReplayResult:
    """A replay with the archive on into ``directory``; its sizes appended to ``sizes``."""

    def after(settings: Settings) -> None:
        read_from_log = settle(settings)
        sizes.append(archive_sizes(directory) | {"read_from_log": read_from_log})

    def adjust(settings: Settings) -> Settings:
        return replace(settings, archive_url=directory.as_uri(), archive_flush_s=FLUSH_S)

    plan = bench.plan
    label = f"archiveon{len(sizes)}"
    return replay(bench, label, plan.base_radios, 0, plan.base_pings, after=after, adjust=adjust)


def settle(settings: Settings) -> int:
    """Wait until the worker's archive has written every row it read; return how many pings it
    read from the log itself (rather than fed by the pings agent)."""
    url = f"http://127.0.0.1:{settings.web_port}"
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last = -1.0
    while True:
        metrics = MetricsText.parse(fetch_metrics(url))
        rows = metrics.value("coverwatch_archive_rows_total", table="fixes")
        waiting = metrics.value("coverwatch_archive_unwritten_age_seconds")
        if (rows > 0 and rows == last and waiting == 0) or time.monotonic() > deadline:
            return int(metrics.value("coverwatch_archive_log_read_records_total"))
        last = rows
        time.sleep(2.0)


def archive_sizes(directory: Path) -> dict[str, int]:
    """Bytes of the ``fixes`` table's files and of every archive file."""
    files = [path for path in directory.rglob("*.parquet") if path.is_file()]
    return {
        "fixes": sum(p.stat().st_size for p in files if "table=fixes" in p.parts),
        "all": sum(p.stat().st_size for p in files),
    }


def loop_us_per_ping(result: ReplayResult) -> float | None:
    """CPU of the worker's event-loop process (where the archive runs) per ping, microseconds."""
    loop = result.window.cpu.get("worker")
    rate = result.window.rate
    return None if loop is None or not rate else 1e6 * loop / rate


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if len(known) == len(values) and known else None


def rows(result: object) -> list[Row]:
    """pings/s with the archive on against off (target: at most 10 % slower) and bytes per
    ping."""
    if not isinstance(result, dict):
        reason = missing_reason(result)
        return [
            Row("pings/s with the archive on", None, "/s", note=reason),
            Row("worker CPU per ping with the archive on", None, "us", note=reason),
            Row("event-loop CPU per ping with the archive on", None, "us", note=reason),
            Row("archive bytes per ping", None, "B", note=reason),
        ]
    runs: dict[str, list[ReplayResult]] = result["runs"]
    on = _mean([r.window.rate for r in runs["on"]])
    off = _mean([r.window.rate for r in runs["off"]])
    measured = ratio(on, off)
    pings = result["pings"]
    sizes: list[dict[str, int]] = result["sizes"]
    fixes_bytes = _mean([float(s["fixes"]) for s in sizes])
    all_bytes = _mean([float(s["all"]) for s in sizes])
    order = ", ".join(
        f"{side} {figure(r.window.rate)}/s" for side in ("off", "on") for r in runs[side]
    )
    read_from_log = " and ".join(f"{s.get('read_from_log', 0):,}" for s in sizes)
    cpu_on = _mean([r.cpu_us_per_ping for r in runs["on"]])
    cpu_off = _mean([r.cpu_us_per_ping for r in runs["off"]])
    loop_on = _mean([loop_us_per_ping(r) for r in runs["on"]])
    loop_off = _mean([loop_us_per_ping(r) for r in runs["off"]])
    return [
        Row(
            "pings/s with the archive on",
            on,
            "/s",
            off,
            "archive off",
            f">= {1 - MAX_COST:.2f}x off",
            None if measured is None else measured >= 1 - MAX_COST,
            note=f"replays off, on, on, off, each side the mean of two: {order}; pings the "
            f"archive read from the log itself (not fed by the pings agent): {read_from_log}",
        ),
        Row(
            "worker CPU per ping with the archive on",
            cpu_on,
            "us",
            cpu_off,
            "archive off",
            f"<= {1 + MAX_COST:.2f}x off",
            None
            if ratio(cpu_on, cpu_off) is None
            else (ratio(cpu_on, cpu_off) or 0) <= 1 + MAX_COST,
            note="both of the worker's processes (event loop and presence process), the cost "
            "that limits a saturated worker; steadier than the rate on a shared host",
        ),
        Row(
            "event-loop CPU per ping with the archive on",
            loop_on,
            "us",
            loop_off,
            "archive off",
            "info",
            note="the worker's event-loop process, where the archive's consumer, rows and "
            "writes run (its presence process does not archive)",
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
