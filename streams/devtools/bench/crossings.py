"""What inferred crossings cost per ping, in process: the tracks' domain work per fix with and
without the fence index's segment crossings (:mod:`streams.domain.tracks.crossings`).

``python -m streams.devtools.bench.crossings``: the bench's fleet (half in vehicles, 40 % in an
area) on its random walk, a fix every 30 s per radio, through :func:`advance` with the default
pack, then with the default pack and 10,000 grid cells tiling the patrol area (every segment in
some cell). Runs A B B A per pack (the host drifts); prints µs per fix of each and the extra
per fix. The worker's whole cost per ping (``make bench``, docs/benchmarks.md) is the
denominator the issue's 10 % is about.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from streams.devtools.bench.support import grid_areas, make_fleet
from streams.domain.areas import AreaDefinition, live_areas
from streams.domain.fences import FenceIndex, Location
from streams.domain.fixes import Fix
from streams.domain.tracks import FixContext, Policy, Track, advance, new_track
from streams.simulator.geography import load_default_area_pack

METRES_PER_DEGREE_LAT = 111_195.0
INTERVAL_S = 30.0


def journeys(
    areas: Sequence[AreaDefinition], radios: int, rounds: int, seed: int = 1
) -> list[tuple[Fix, FixContext]]:
    """Every radio's fixes, round by round (so each radio's are in time order)."""
    fleet = make_fleet(radios, areas)
    rng = np.random.default_rng(seed)
    speed = np.where(fleet.vehicle, 10.0, 1.4)
    heading = rng.uniform(0.0, 360.0, radios)
    per_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(float(fleet.lat.mean())))
    lon, lat = fleet.lon.copy(), fleet.lat.copy()
    contexts = [
        FixContext("response", "vehicle") if vehicle else FixContext("neighbourhood", "handheld")
        for vehicle in fleet.vehicle.tolist()
    ]
    fixes: list[tuple[Fix, FixContext]] = []
    for index in range(rounds):
        if index:
            heading = (heading + rng.normal(0.0, 30.0, radios)) % 360.0
            step = speed * INTERVAL_S * rng.uniform(0.3, 1.0, radios)
            lon = lon + step * np.sin(np.radians(heading)) / per_lon
            lat = lat + step * np.cos(np.radians(heading)) / METRES_PER_DEGREE_LAT
        ts = 1_790_000_000.0 + index * INTERVAL_S
        for radio, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            fixes.append((Fix(fleet.issis[radio], ts + radio * 0.01, y, x), contexts[radio]))
    return fixes


def run(
    fixes: Sequence[tuple[Fix, FixContext]],
    locations: Sequence[Location],
    index: FenceIndex | None,
) -> tuple[float, int]:
    """CPU seconds to advance every fix (crossings from ``index``, or none: process time, as
    the host is shared), and the inferred visits made."""
    policy = Policy()
    tracks: dict[str, Track] = {}
    inferred = 0
    started = time.process_time()
    for (fix, context), location in zip(fixes, locations, strict=True):
        track = tracks.get(fix.issi) or new_track(fix.issi)
        tracks[fix.issi], facts = advance(track, fix, location, context, policy, index)
        inferred += sum(1 for fact in facts if getattr(getattr(fact, "visit", None), "inferred", 0))
    return time.process_time() - started, inferred


def compare(areas: Sequence[AreaDefinition], radios: int, rounds: int) -> dict[str, float]:
    """µs per fix through the tracks without and with crossings (runs A B B A: the host
    drifts), the fixes and the inferred visits made, for one pack."""
    index = FenceIndex(areas)
    fixes = journeys(areas, radios, rounds)
    locations = index.locate([f.lon for f, _ in fixes], [f.lat for f, _ in fixes])
    without_1, _ = run(fixes, locations, None)
    with_1, inferred = run(fixes, locations, index)
    with_2, _ = run(fixes, locations, index)
    without_2, _ = run(fixes, locations, None)
    count = len(fixes)
    return {
        "areas": float(len(areas)),
        "fixes": float(count),
        "inferred": float(inferred),
        "without_us": (without_1 + without_2) / 2 / count * 1e6,
        "with_us": (with_1 + with_2) / 2 / count * 1e6,
    }


def measure(label: str, areas: Sequence[AreaDefinition], radios: int, rounds: int) -> None:
    """Print µs per fix without and with crossings for one pack (:func:`compare`)."""
    result = compare(areas, radios, rounds)
    base, crossing = result["without_us"], result["with_us"]
    print(
        f"{label}: {result['fixes']:.0f} fixes, {result['areas']:.0f} areas, "
        f"{result['inferred']:.0f} inferred visits; "
        f"tracks without crossings {base:.1f} us/fix, with {crossing:.1f} us/fix "
        f"(+{crossing - base:.1f} us/fix, {crossing / base:.2f}x of the tracks' work)"
    )


def main() -> None:
    pack = live_areas(load_default_area_pack())
    measure("default pack", pack, 1000, 60)
    measure("10,000 more areas", [*pack, *grid_areas(10_000, pack)], 1000, 60)


if __name__ == "__main__":
    main()
