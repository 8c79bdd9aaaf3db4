"""Redis memory per radio and per area, from the scaling step's replays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.devtools.bench.scaling import done_replays
from streams.devtools.bench.support import Row, figure

RADIO_STATE_KINDS = frozenset({"tracks", "lastfix", "geo", "roster", "on_duty"})
"""Key kinds that hold one entry per radio (see :func:`key_kind`)."""


def memory_figures(scaling: Mapping[str, Any]) -> dict[str, Any]:
    """Bytes per radio (steady state: the smallest fleet, every radio with many fixes; and per
    radio seen in the largest fleet) and per area (marginal: the run with most areas minus the
    one with fewest, over the extra areas; plus the definitions alone)."""
    by_radios = done_replays(scaling["radios"])
    by_areas = done_replays(scaling["areas"])
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


def rows(scaling: object) -> list[Row]:
    """Redis bytes of radio state (target: at most 2 KiB per radio), per radio with every key,
    and per area; none when the scaling step did not run (its own row says why)."""
    if not isinstance(scaling, dict):
        return []
    memory = memory_figures(scaling)
    return [
        Row(
            "Redis bytes of radio state",
            memory["state_bytes_per_radio"],
            "B",
            target="<= 2048 B",
            passed=memory["state_bytes_per_radio"] <= 2048,
            note="per radio: track, latest fix, GEO entry, roster entry, on-duty member",
        ),
        Row(
            "Redis bytes per radio, all keys",
            memory["bytes_per_radio"],
            "B",
            target="info",
            note=f"{memory['radio_run']} (visits and dose buckets grow with activity, "
            f"not radios); {memory['largest_radios']:,}-radio fleet "
            f"{figure(memory['bytes_per_radio_largest'])} B per radio seen",
        ),
        Row(
            "Redis bytes per area",
            memory["bytes_per_area"],
            "B",
            target="info",
            note=f"marginal over {memory['extra_areas']:,} grid areas (pings applied "
            f"{memory['pings_applied_most_fewest'][0]:,} vs "
            f"{memory['pings_applied_most_fewest'][1]:,}); definitions alone "
            f"{figure(memory['definition_bytes_per_area'])} B",
        ),
    ]
