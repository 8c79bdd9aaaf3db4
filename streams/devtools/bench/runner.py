"""``make bench``: speed as measured facts, each a ratio or percentile against a baseline measured
in the same run on the same embedded stack (these machines are shared and noisy).

``python -m streams.devtools.bench [--quick] [--out bench-results/bench.json]`` starts one
embedded stack (Tansu + redis-server), then, each measurement on its own topic prefix, consumer
group and Redis key prefix:

1. **Throughput** (:mod:`~streams.devtools.bench.throughput`): one backlog of pings is published
   first; then a no-op Faust agent (:func:`streams.devtools.bench.support.run_noop_worker`), the
   worker, the no-op agent again and a plain aiokafka ``getmany`` loop each read all of it (the
   baseline is the mean of the two no-op runs, which bracket the worker's: these machines drift
   within minutes). Rate = messages / time from the first to the last message processed, from
   the consumed counter on /metrics polled every 0.2 s (for the worker: its applied-offset
   watermarks in Redis, counted only once the roster and area topics it also reads are done).
   CPU shares of the worker (its event loop and its presence process), broker and Redis over
   the same window come from ``/proc``: they say what limits the rate.
2. **Ingest -> Redis latency** (:mod:`~streams.devtools.bench.latency`) at fixed offered loads
   (1k and 5k pings/s, wall clock, worker caught up after a warm-up): the bench records each
   ping's send time and its partition/offset, and polls the per-partition applied-offset
   watermarks in Redis every 5 ms; those are written in the same Lua call as the state a ping
   changes, so the first poll that shows a ping's offset applied is when its effect is visible
   (resolution 5 ms, an upper bound). The worker's own ``coverwatch_ingest_latency_seconds``
   histogram is reported as a cross-check.
3. **Per-ping cost** (:mod:`~streams.devtools.bench.scaling`: worker wall time and CPU per ping
   on a backlog) with 40 (the default pack), 1,000 and 10,000 areas (the pack plus square cells
   tiling it, so every ping is in one more area), with 10,000 areas beside the patrol area (no
   ping in them: what the index and the coverage evaluation cost alone), and with 1k, 10k and
   100k radios; each against the 40-area, 1k-radio pack. The comparison with a target (10,000
   areas) is replayed A B B A: a 40-area replay, the 10,000-area one twice, a 40-area replay
   again; each side is the mean of its two (these machines drift within minutes, as the no-op
   agent's bracket shows), and the other rows share that 40-area baseline.
4. **Redis memory** (:mod:`~streams.devtools.bench.state_size`): ``MEMORY USAGE`` summed over
   every key of a run's key prefix, per radio (steady state: the 1k-radio run, every radio with
   many fixes) and per area (the 10,000-area run minus the 40-area run over the extra areas).
5. **Alert latency** (:mod:`~streams.devtools.bench.alert`): an Impact Area with a 1-minute
   limit and a live feed outside it, on the event clock at 6x; from the moment the crossing can
   be judged (the tick that takes the clock past the limit plus the hold, ``judging_hold_s``:
   the evaluator judges an instant of event time once every input is that far past it) to an
   ``uncovered`` alert on ``coverage.alerts``. Reported as not measured when nothing arrives in
   time.
6. **API latency** (:mod:`~streams.devtools.bench.api_latency`): ``GET /api/areas`` and
   ``GET /api/areas/{id}`` with 10,000 areas, against the same requests with the 40-area pack.
   **The live page** (:mod:`~streams.devtools.bench.page_render`): headless Chromium's first
   render of the page with 10,000 areas and how fast it answers while their live updates
   arrive, against the 40-area pack.
7. **Memory soak** (:mod:`~streams.devtools.bench.soak`): a live worker under 2,700 pings/s of
   10,000 radios (``--soak-rate``, ``--soak-radios``) for 24 minutes (4 with ``--quick``,
   ``--soak-minutes``); growth per minute of its two processes' memory and of Redis's over the
   second half, against the noise. 24 rather than 20: the bench's radios all start at once, so
   every first visit qualifies together at 10.5-14 minutes, a one-off step that a 20-minute
   soak's second half would begin on.
8. **Report build** (:mod:`~streams.devtools.bench.report_build`): ``write_report`` over a
   synthetic archive of 30 days x 1,000 radios x the bundled pack's 40 areas (and their rings)
   plus a 30-day baseline, written in contract A's layout first (7 days with ``--quick``); no
   broker or Redis involved.
9. **Archive cost** (:mod:`~streams.devtools.bench.archive_cost`): the worker's pings/s with the
   Parquet archive on against off, replays off, on, on, off of the throughput backlog, and the
   archive's bytes per ping.
10. **Coverage evaluator cost** (:mod:`~streams.devtools.bench.evaluator_cost`): CPU per instant
    judged with 10,000 areas, judging the areas that changed or came due against judging every
    area, in process on synthetic evaluations (no broker or Redis).

``--only STEP`` runs some of them (``--only soak``: the soak alone). Each step is a module with a
``measure(bench)`` and a ``rows(result)``, registered in :data:`STEPS` and :data:`TABLE` here;
the replays the throughput and scaling steps are made of are in
:mod:`~streams.devtools.bench.replay`, what the bench reads off processes in
:mod:`~streams.devtools.bench.probes`, the shared stack in :mod:`~streams.devtools.bench.harness`.

Replays run on the event clock; in replays the roster and areas are both published and applied to
Redis before the worker starts (same decoders, same Lua call, with their offset watermarks, so the
worker's agents skip them), so the fence index and roster are complete from the first ping. Each
replay is time-boxed (15 s quick, 45 s full, from the first ping applied; runs with more areas
25 s and 60 s, to span the coverage evaluator's cycles). Total messages stay under 2 M (Tansu
keeps them all in memory).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from streams.devtools.bench import (
    alert,
    api_latency,
    archive_cost,
    evaluator_cost,
    latency,
    page_render,
    report_build,
    scaling,
    soak,
    state_size,
    throughput,
    track_cost,
)
from streams.devtools.bench.harness import Bench
from streams.devtools.bench.plan import Plan
from streams.devtools.bench.report import print_report, write_document
from streams.devtools.bench.support import Row
from streams.devtools.stack.embedded import services

Measure = Callable[[Bench], Any]
RowsOf = Callable[[Any], list[Row]]

STEPS: dict[str, Measure] = {
    "throughput": throughput.measure,
    "scaling": scaling.measure,
    "latency": latency.measure,
    "alert": alert.measure,
    "track_cost": track_cost.measure,
    "evaluator": evaluator_cost.measure,
    "api": api_latency.measure,
    "page": page_render.measure,
    "soak": soak.measure,
    "report": report_build.measure,
    "archive": archive_cost.measure,
}
"""Every measurement by name, in the order they run (``--only`` picks some)."""

TABLE: tuple[tuple[str, RowsOf], ...] = (
    ("throughput", throughput.rows),
    ("latency", latency.rows),
    ("scaling", scaling.rows),
    ("scaling", state_size.rows),
    ("alert", alert.rows),
    ("track_cost", track_cost.rows),
    ("evaluator", evaluator_cost.rows),
    ("api", api_latency.api_rows),
    ("page", page_render.rows),
    ("soak", soak.soak_rows),
    ("report", report_build.rows),
    ("archive", archive_cost.rows),
)
"""The table: each step's result (None if it did not run) and the rows it makes, in order."""


def build_rows(results: Mapping[str, Any]) -> list[Row]:
    """The table from the raw results (each missing part becomes a 'not measured' row)."""
    return [row for step, rows_of in TABLE for row in rows_of(results.get(step))]


def run_steps(bench: Bench, started: float) -> dict[str, Any]:
    """Run the plan's steps in order; a failed one is reported and the others go on."""
    for name, measure in STEPS.items():
        if not bench.plan.runs(name):
            continue
        print(f"{name} ... ({time.time() - started:.0f} s)", flush=True)
        try:
            bench.results[name] = measure(bench)
        except Exception as error:  # a failed measurement is reported, the rest go on
            bench.results[name] = {"error": f"{type(error).__name__}: {error}"}
            print(f"  {name} failed: {error}", flush=True)
    return bench.results


def run(plan: Plan, out: Path, profile: bool = False) -> int:
    """Run every measurement, print the table, write the JSON file."""
    started = time.time()
    log_dir = Path(tempfile.mkdtemp(prefix="coverwatch-bench-"))
    print(f"coverwatch bench ({'quick' if plan.quick else 'full'}); logs in {log_dir}", flush=True)
    with services(work_dir=log_dir / "services") as stack:
        bench = Bench(stack, plan, log_dir, out.parent if profile else None)
        results = run_steps(bench, started)
    rows = build_rows(results)
    limits = throughput.limits_summary(results)
    print_report(rows, limits)
    write_document(out, plan, started, bench.published, (rows, limits), bench.profiles, results)
    print(
        f"\n{out} written ({time.time() - started:.0f} s, {bench.published:,} messages published)"
    )
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
        "--soak-radios",
        type=int,
        default=Plan.soak_radios,
        help="radios of the soak's fleet (default %(default)s; a force of 35,000: 35000)",
    )
    parser.add_argument(
        "--soak-rate",
        type=int,
        default=Plan.soak_rate,
        help="pings/s the soak sends (default %(default)s; 35,000 radios every 10 s: 3500)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(STEPS),
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
    parser.add_argument(
        "--presence-processes",
        type=int,
        default=Plan.presence_processes,
        help="COVERWATCH_PRESENCE_PROCESSES of the measured workers (default %(default)s)",
    )
    args = parser.parse_args(argv)
    plan = replace(
        Plan.make(args.quick),
        only=tuple(args.only or ()),
        presence_processes=args.presence_processes,
        soak_radios=args.soak_radios,
        soak_rate=args.soak_rate,
    )
    if args.soak_minutes is not None:
        plan = replace(plan, soak_minutes=args.soak_minutes)
    return run(plan, args.out, profile=args.profile)


if __name__ == "__main__":
    sys.exit(main())
