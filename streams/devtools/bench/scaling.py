"""Per-ping cost with more areas and more radios, each against the 40-area, 1k-radio replay."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from streams.devtools.bench.plan import Plan
from streams.devtools.bench.probes import Window
from streams.devtools.bench.replay import ReplayResult, replay
from streams.devtools.bench.support import Row, figure, missing_reason, ratio, saturation_note

if TYPE_CHECKING:
    from streams.devtools.bench.harness import Bench

Replay = tuple[str, dict[int, Any], int, int, int, int, float]
"""One replay of the scaling step: label, the results it goes into and its key there, radios,
extra areas, pings, longest window (s)."""


def measure(bench: Bench) -> dict[str, Any]:
    """Per-ping cost and memory with more areas and more radios (a failed run is reported
    and the others go on). The largest pack, the one with a target, is replayed twice in a
    row between two 40-area replays (A B B A): these machines drift within minutes, and the
    means of the two pairs take a steady drift out of the ratio."""
    throughput = bench.results.get("throughput")
    if not isinstance(throughput, dict) or "worker" not in throughput:
        return {"error": "needs the throughput run"}
    found, runs = planned_replays(bench.plan, len(bench.pack), throughput["worker"])
    for label, into, key, radios, extra, pings, window_s in runs:
        try:
            into[key] = replay(
                bench,
                label,
                radios,
                extra,
                pings,
                window_s=window_s,
                areas_beside=into is found["areas_away"],
            )
        except Exception as error:  # reported in the table; the other runs go on
            into[key] = {"error": f"{type(error).__name__}: {error}"}
            print(f"  {label} failed: {error}", flush=True)
    return found


def planned_replays(
    plan: Plan, pack_areas: int, base: ReplayResult
) -> tuple[dict[str, dict[int, Any]], list[Replay]]:
    """The step's results, keyed by what varies (the base replay of the throughput step in
    place), and the replays that fill them, in the order they run."""
    most = max(plan.area_counts)
    found: dict[str, dict[int, Any]] = {
        "areas": {pack_areas: base},
        "areas_again": {},
        "baselines": {},
        "areas_away": {},
        "radios": {plan.base_radios: base},
    }

    def pack(label: str, into: str, key: int, areas: int) -> Replay:
        extra = areas - pack_areas
        return (
            label,
            found[into],
            key,
            plan.base_radios,
            extra,
            plan.area_pings,
            plan.area_window_s,
        )

    runs: list[Replay] = [
        pack(f"areas{count}", "areas", count, count)
        for count in plan.area_counts
        if pack_areas < count < most
    ]
    runs += [
        pack("base-before", "baselines", 0, pack_areas),
        pack(f"areas{most}", "areas", most, most),
        pack(f"areas{most}-again", "areas_again", most, most),
        pack("base-after", "baselines", 1, pack_areas),
    ]
    runs += [
        (f"radios{radios}", found["radios"], radios, radios, 0, pings, plan.radio_window_s)
        for radios, pings in plan.radio_pings.items()
        if radios != plan.base_radios
    ]
    runs.append(pack(f"areas{most}away", "areas_away", most, most))
    return found, runs


AREAS_TARGET = 1.2
"""10,000 areas against 40, per ping (issue 25; 1.5x before it)."""
RADIOS_TARGET = 1.3
"""100,000 radios against 1,000, per ping (issue 25)."""


def rows(scaling: object) -> list[Row]:
    """Per-ping cost with more areas (target: 10,000 areas at most 1.2x the 40-area baseline),
    with the areas beside the patrol area, one /metrics scrape, and with more radios."""
    if not isinstance(scaling, dict):
        return [Row("per-ping cost and memory", None, "", note=missing_reason(scaling))]
    by_areas = done_replays(scaling["areas"])
    base_areas = min(by_areas)
    bracket = list(done_replays(scaling.get("baselines", {})).values()) or [by_areas[base_areas]]
    return [
        *area_rows(scaling, bracket),
        *away_rows(scaling, bracket, base_areas),
        *scrape_rows(by_areas),
        *radio_rows(scaling, bracket),
    ]


def area_rows(scaling: Mapping[str, Any], bracket: Sequence[ReplayResult]) -> list[Row]:
    """us per ping with each larger area pack (the largest replayed twice) against the
    40-area baseline replays."""
    found = [
        Row(f"us per ping, {count:,} areas", None, "us", note=failure)
        for count, failure in failed_replays(scaling["areas"])
    ]
    by_areas = done_replays(scaling["areas"])
    base_areas = min(by_areas)
    baseline = mean_of([run.us_per_ping for run in bracket])
    cpu_baseline = mean_of([run.cpu_us_per_ping for run in bracket])
    again = done_replays(scaling.get("areas_again", {}))
    for count, run in sorted(by_areas.items()):
        if count == base_areas:
            continue
        target = count >= 10_000
        runs = [run, *([again[count]] if count in again else [])]
        value = mean_of([each.us_per_ping for each in runs])
        found.append(
            Row(
                f"us per ping, {count:,} areas",
                value,
                "us",
                baseline,
                f"{base_areas} areas",
                f"<= {AREAS_TARGET:g}x" if target else "info",
                ((ratio(value, baseline) or math.inf) <= AREAS_TARGET) if target else None,
                note=f"CPU {figure(mean_of([each.cpu_us_per_ping for each in runs]))} us vs "
                f"{figure(cpu_baseline)} us; "
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
    return found


def away_rows(
    scaling: Mapping[str, Any], bracket: Sequence[ReplayResult], base_areas: int
) -> list[Row]:
    """us per ping with the extra areas beside the patrol area (no ping in them)."""
    found = [
        Row(f"us per ping, {count:,} areas away", None, "us", note=failure)
        for count, failure in failed_replays(scaling.get("areas_away", {}))
    ]
    baseline = mean_of([run.us_per_ping for run in bracket])
    for count, run in sorted(done_replays(scaling.get("areas_away", {})).items()):
        found.append(
            Row(
                f"us per ping, {count:,} areas away",
                run.us_per_ping,
                "us",
                baseline,
                f"{base_areas} areas",
                "info",
                note=f"the extra areas beside the patrol area, no ping in them; CPU "
                f"{figure(run.cpu_us_per_ping)} us",
            )
        )
    return found


def scrape_rows(by_areas: Mapping[int, ReplayResult]) -> list[Row]:
    """How long one GET /metrics took with the most areas, against the fewest."""
    most, fewest = max(by_areas), min(by_areas)
    if most == fewest:
        return []
    return [
        Row(
            f"one GET /metrics, {most:,} areas",
            by_areas[most].metrics_scrape_s,
            "s",
            by_areas[fewest].metrics_scrape_s,
            f"{fewest} areas",
            "info",
            note="built on a thread beside the worker's event loop",
        )
    ]


def radio_rows(scaling: Mapping[str, Any], bracket: Sequence[ReplayResult]) -> list[Row]:
    """us per ping with more radios against the 40-area baseline replays."""
    found = [
        Row(f"us per ping, {radios:,} radios", None, "us", note=failure)
        for radios, failure in failed_replays(scaling["radios"])
    ]
    by_radios = done_replays(scaling["radios"])
    base_radios = min(by_radios)
    baseline = mean_of([run.us_per_ping for run in bracket])
    cpu_baseline = mean_of([run.cpu_us_per_ping for run in bracket])
    for radios, run in sorted(by_radios.items()):
        if radios == base_radios:
            continue
        target = radios >= 100 * base_radios
        found.append(
            Row(
                f"us per ping, {radios:,} radios",
                run.us_per_ping,
                "us",
                baseline,
                f"{base_radios:,} radios",
                f"<= {RADIOS_TARGET:g}x" if target else "info",
                ((ratio(run.us_per_ping, baseline) or math.inf) <= RADIOS_TARGET)
                if target
                else None,
                note=f"CPU {figure(run.cpu_us_per_ping)} us vs {figure(cpu_baseline)} us"
                + warmup_note(run.window, by_radios[base_radios].window),
            )
        )
    return found


def warmup_note(run: Window, base: Window) -> str:
    """The rates of the warm-ups left out of a run and of its baseline (the worker's start)."""
    if run.warmup_rate is None or base.warmup_rate is None:
        return ""
    return (
        f"; warm-up left out (the worker's start, every radio's first fix): "
        f"{figure(run.warmup_rate)} pings/s vs "
        f"{figure(base.warmup_rate)} pings/s"
    )


def mean_of(values: Sequence[float | None]) -> float | None:
    """The mean of the replays of one measurement (``None`` if one is missing)."""
    if not values or any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None) / len(values)


def replays_note(runs: Sequence[ReplayResult], bracket: Sequence[ReplayResult]) -> str:
    """Which replays a per-ping figure and its 40-area baseline are the means of."""

    def each(replays: Sequence[ReplayResult]) -> str:
        return " and ".join(f"{figure(run.us_per_ping)} us" for run in replays)

    measured = f"mean of {len(runs)} replays in a row, {each(runs)}; " if len(runs) > 1 else ""
    if len(bracket) < 2:
        return measured + "baseline: the 40-area replay of the throughput step; "
    return (
        measured + f"baseline: mean of the 40-area replays just before and after, {each(bracket)}; "
    )


def done_replays(runs: Mapping[int, Any]) -> dict[int, ReplayResult]:
    """The replays of a group that ran (a failed one is its error instead)."""
    return {size: run for size, run in runs.items() if isinstance(run, ReplayResult)}


def failed_replays(runs: Mapping[int, Any]) -> list[tuple[int, str]]:
    """(key, error) of the replays of a group that failed."""
    return [
        (size, str(run.get("error")))
        for size, run in sorted(runs.items())
        if not isinstance(run, ReplayResult)
    ]
