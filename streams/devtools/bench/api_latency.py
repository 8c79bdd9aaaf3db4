"""``make bench``'s API row: how long ``GET /api/areas`` and ``GET /api/areas/{id}`` take with
10,000 areas, against the same requests with the 40-area pack in the same run.

Each pack gets a worker of its own on the wall clock (as in production), its areas published and
preloaded as the replays do it (the pack plus square cells tiling the patrol area,
:func:`~streams.devtools.bench.support.grid_areas`), and no pings: every area is idle, so each
snapshot is the smallest the service makes (busy areas add a few hundred bytes each). Once the
coverage leader has evaluated once (its first evaluation stores every area's snapshot), the
bench sends the requests one after another as a viewer, each on a new connection, and times each
from sending it to its whole body read. The worker keeps evaluating coverage meanwhile, on the
event loop that serves the API, as a leader serving the API does.

Targets, in absolute terms because they are about what a user waits for (the ratios to the
40-area pack are shown as information: the list grows with the areas by design):

- ``/api/areas/{id}`` p99 <= :data:`DETAIL_P99_TARGET_S`: the live page asks for it when an area
  is clicked; 0.25 s is about where a click stops feeling immediate. It reads one stored
  snapshot, so it should not grow with the areas.
- ``/api/areas`` p99 <= :data:`LIST_P99_TARGET_S`: the live page loads every area's snapshot
  when it opens and every 30 s (``AREAS_REFRESH_MS`` in ``app.js``); live changes come over SSE
  in between. With 10,000 areas that is ~15 MB (about 1.2 s over a 100 Mbit/s link alone), so
  the need is a reload well inside its period: at most a sixth of it, so that the page is never
  much more than 30 s behind and two reloads never overlap.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from streams import topics
from streams.devtools.bench.loading import preload
from streams.devtools.bench.probes import Consumer, scrape, start_consumer
from streams.devtools.bench.support import Row, area_messages, grid_areas, percentile
from streams.devtools.stack.embedded import python_command, wait_until
from streams.domain.areas import AreaDefinition

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench

API_AREAS: Final = 10_000
VIEWER_TOKEN: Final = "bench-viewer-token-0123456789"  # noqa: S105 - a bench-only token
DETAIL_P99_TARGET_S: Final = 0.25
LIST_P99_TARGET_S: Final = 5.0
EVALUATIONS: Final = "coverwatch_coverage_evaluation_seconds"
STORED_TIMEOUT_S: Final = 180.0
"""How long the leader may take to store a snapshot of every area: its first evaluation, which
publishes and stores every area's (none was published before)."""


@dataclass(frozen=True)
class Requests:
    """How many requests of each kind one pack gets."""

    list_requests: int
    detail_requests: int

    @classmethod
    def make(cls, quick: bool) -> Requests:
        """Fewer with ``--quick``."""
        return cls(10, 60) if quick else cls(40, 300)


@dataclass(frozen=True)
class Timings:
    """The request times of one pack, in seconds, and the size of one list response."""

    areas: int
    list_s: list[float]
    detail_s: list[float]
    list_bytes: int


def measure(bench: Bench) -> dict[str, Any]:
    """The API latency step on the bench's stack."""
    return ApiLatency(bench).run()


class ApiLatency:
    """The API latency step: the 40-area pack, then 10,000 areas."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.requests = Requests.make(bench.plan.quick)

    def run(self) -> dict[str, Any]:
        """Time both packs; their timings by number of areas."""
        return {
            str(count): asdict(self._time(count)) for count in (len(self.bench.pack), API_AREAS)
        }

    def _time(self, count: int) -> Timings:
        """Start a worker on ``count`` areas, wait for their stored snapshots, time the API."""
        worker, areas = start_idle_worker(self.bench, count, f"api{count}")
        try:
            ids = sorted(area.area_id for area in areas)
            picks = [ids[(n * 7919) % len(ids)] for n in range(self.requests.detail_requests)]
            list_s, list_bytes = _timed(worker.url, ["/api/areas"] * self.requests.list_requests)
            detail_s, _ = _timed(worker.url, [f"/api/areas/{area_id}" for area_id in picks])
        finally:
            worker.stop()
        print(
            f"  api{count}: /api/areas p50 {_ms(percentile(list_s, 50))} ({list_bytes:,} B), "
            f"/api/areas/{{id}} p50 {_ms(percentile(detail_s, 50))}",
            flush=True,
        )
        return Timings(count, list_s, detail_s, list_bytes)


def start_idle_worker(
    bench: Bench, count: int, label: str
) -> tuple[Consumer, list[AreaDefinition]]:
    """A worker on the wall clock with ``count`` idle areas (the pack and grid cells, published
    and preloaded) and a viewer token, once its first coverage evaluation has stored every
    area's snapshot; the worker and the areas."""
    settings = replace(bench.settings(label, clock="wall"), viewer_tokens=f"bench={VIEWER_TOKEN}")
    areas = list(bench.pack) + grid_areas(count - len(bench.pack), bench.pack)
    messages = area_messages(areas)
    bench.publish(settings, [(topics.AREAS, messages)])
    asyncio.run(preload(settings, [], messages))
    worker = start_consumer(settings, python_command("worker"), bench.log_dir, label)
    try:
        wait_until(
            f"the first coverage evaluation of {count} areas",
            lambda: scrape(worker.url).value(f"{EVALUATIONS}_count") >= 1,
            worker.process,
            STORED_TIMEOUT_S,
        )
    except BaseException:
        worker.stop()
        raise
    return worker, areas


def _timed(base_url: str, paths: Sequence[str]) -> tuple[list[float], int]:
    """Each request's time from sending it to its whole body read, and the last body's size."""
    seconds: list[float] = []
    size = 0
    headers = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    for path in paths:
        request = urllib.request.Request(base_url + path, headers=headers)  # noqa: S310 - loopback
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            size = len(response.read())
        seconds.append(time.perf_counter() - started)
    return seconds, size


def api_rows(result: Mapping[str, Any] | None) -> list[Row]:
    """p50 and p99 of both requests with 10,000 areas, each against the 40-area pack's."""
    measured = result if isinstance(result, Mapping) else {}
    most, fewest = measured.get(str(API_AREAS)), _fewest(measured)
    if not isinstance(most, Mapping) or not isinstance(fewest, Mapping):
        reason = measured.get("error", "not run")
        return [Row("API latency", None, "s", note=f"not measured: {reason}")]
    rows = []
    for label, key, target_s in (
        ("/api/areas", "list_s", LIST_P99_TARGET_S),
        ("/api/areas/{id}", "detail_s", DETAIL_P99_TARGET_S),
    ):
        for q in (50, 99):
            value = percentile(most[key], q)
            judged = q == 99
            rows.append(
                Row(
                    f"{label} p{q}, {API_AREAS:,} areas",
                    value,
                    "s",
                    percentile(fewest[key], q),
                    f"{fewest['areas']} areas",
                    f"<= {target_s:g} s" if judged else "info",
                    (value is not None and value <= target_s) if judged else None,
                    note=_note(label, most, fewest, key),
                )
            )
    return rows


def _fewest(measured: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The timings of the smaller pack (the baseline)."""
    packs = [value for key, value in measured.items() if key.isdigit() and key != str(API_AREAS)]
    return packs[0] if len(packs) == 1 and isinstance(packs[0], Mapping) else None


def _note(label: str, most: Mapping[str, Any], fewest: Mapping[str, Any], key: str) -> str:
    """How many requests, and for the list how big a response."""
    note = f"{len(most[key])} vs {len(fewest[key])} requests"
    if key == "list_s":
        note += f"; {most['list_bytes']:,} B vs {fewest['list_bytes']:,} B per response"
    return note


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
