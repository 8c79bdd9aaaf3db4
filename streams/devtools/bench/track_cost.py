"""The extra cost per ping of the tracks' segment work (issue 22: inferred crossings), as a
share of the worker's whole cost per ping measured in the same run.

In process (:func:`streams.devtools.bench.crossings.compare`): the bench's fleet through the
tracks with and without the fence index's segment crossings, CPU time per fix, runs A B B A.
The denominator is one second over the end-to-end rate of the ``throughput`` step of the same
run (the worker's wall time per ping), so the row needs that step; without it the row says so.
The stuck-run bookkeeping and the activity marks are in both runs (they cannot be switched
off), so they are not in the extra.
"""

from __future__ import annotations

from typing import Any

from streams.devtools.bench import crossings
from streams.devtools.bench.harness import Bench
from streams.devtools.bench.support import Row, grid_areas, missing_reason
from streams.domain.areas import live_areas
from streams.simulator.geography import load_default_area_pack

RADIOS = 1000
ROUNDS = 60
TARGET_SHARE = 0.10
"""The issue's target: the extra cost per ping within 10 % of what a ping cost before."""


def measure(bench: Bench) -> dict[str, Any]:
    """The default pack's and the 10,000-area pack's cost per fix with and without crossings,
    and the worker's wall time per ping from this run's throughput step (None if it did not
    run)."""
    pack = live_areas(load_default_area_pack())
    throughput = bench.results.get("throughput")
    per_ping_us = None
    if isinstance(throughput, dict) and "worker" in throughput:
        rate = throughput["worker"].window.rate
        per_ping_us = 1e6 / rate if rate else None
    return {
        "default": crossings.compare(pack, RADIOS, ROUNDS),
        "grid": crossings.compare([*pack, *grid_areas(10_000, pack)], RADIOS, ROUNDS),
        "per_ping_us": per_ping_us,
    }


def rows(result: object) -> list[Row]:
    """Extra µs per fix of the crossings against the worker's µs per ping (target <= 10 %),
    and the same extra with 10,000 areas (info)."""
    name = "extra track work per ping (inferred crossings)"
    if not isinstance(result, dict):
        return [Row(name, None, "us", note=missing_reason(result))]
    per_ping = result["per_ping_us"]
    made: list[Row] = []
    for key, label, target in (
        ("default", "", f"<= {TARGET_SHARE:.0%} of a ping"),
        ("grid", ", 10,000 areas", "info"),
    ):
        part = result[key]
        extra = part["with_us"] - part["without_us"]
        passed = None
        if per_ping is not None and target != "info":
            passed = extra <= TARGET_SHARE * per_ping
        made.append(
            Row(
                name + label,
                extra,
                "us",
                per_ping,
                "worker's time per ping (end-to-end rate)",
                target,
                passed,
                note=f"tracks alone {part['without_us']:.1f} us/fix, with crossings "
                f"{part['with_us']:.1f} us/fix; {part['inferred']:.0f} inferred visits in "
                f"{part['fixes']:.0f} fixes over {part['areas']:.0f} areas"
                + ("" if per_ping is not None else "; the throughput step did not run"),
            )
        )
    return made
