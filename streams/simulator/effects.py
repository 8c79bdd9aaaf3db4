"""Area crime and planted effects: what lets an end-to-end test check the evaluation's numbers.

With ``area_crimes_per_day`` set, every Impact and comparison area, and every area's
displacement ring, has crimes of its own: a Poisson process on the daily demand curve (the
same curve as the CAD incidents), at random points inside the place, each reported by a call
(a CAD incident opened with it) at ``crime_call_share``. Calls that report no crime come from
the ordinary incident process (non-crime demand).

From ``effect_from_day`` on (day 1 is the first 24 h from ``start``):

- **Residual deterrence.** Once an officer has been inside an Impact Area for the qualifying
  time of :class:`~streams.domain.tracks.model.Policy` (10 min), the area is *deterred* for as
  long as they stay and for ``deterrence_s`` after they leave; each crime drawn in a deterred
  area is prevented with probability ``deterrence_share`` (thinning: the hazard falls by that
  share). Comparison areas never are. The simulator sees stays from its own true positions,
  every step, for all officers at once (:class:`QualifyingPresence`).
- **Displacement.** Each prevented crime is moved, at the same time, into the area's ring with
  probability ``displacement_share``. The ring is the pack's feature whose ``ring_of`` names
  the area, else buffer(area, ``ring_m`` or 250 m) minus every Impact and comparison area (the
  rule of the pack's rings); crimes fall at least 5 m inside it, clear of its edges.
- **Directed patrols.** Before the effect day they go to Impact and comparison areas alike at
  ``directed_patrol_share``; from it on only to Impact Areas, at
  ``effect_directed_patrol_share``: dose rises where the effect is planted.

Every count is kept in a :class:`~streams.simulator.truth.GroundTruth`, never on a topic. Every
draw comes from a stream of its own, so with no area crime and no effect day nothing here runs
and the simulation is what it was without these options, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import shapely

from streams.domain.areas import AreaDefinition, AreaGeometry
from streams.domain.tracks.model import Policy
from streams.simulator.catalogue import CRIME_CATEGORIES, BoolArray, FloatArray, IntArray
from streams.simulator.demand_generator import DemandGenerator
from streams.simulator.options import SimulationOptions
from streams.simulator.patrols import Patrols
from streams.simulator.places import Places, sample_inside
from streams.simulator.truth import GroundTruth, Measure, PlaceKind

DAY_MS: Final = 86_400_000
DEFAULT_RING_M: Final = 250.0
RING_INSET_M: Final = 5.0
POINTS_PER_PLACE: Final = 256
EFFECT_STEP_MS: Final = 30_000
"""The effects step, a multiple of the world's: presence is judged, the deterred areas are
set and crimes are drawn for the next 30 s at once (a day holds a whole number of them)."""
EFFECT_STREAM: Final = 5
"""The spawn key of the effects' random stream under the seed (the world uses keys 0-4)."""


def effect_rng(seed: int) -> np.random.Generator:
    """The random stream of the area crime and the planted effects."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(EFFECT_STREAM,)))


def displacement_rings(
    areas: Sequence[AreaDefinition], targets: Sequence[int], places: Places
) -> list[tuple[str, AreaGeometry]]:
    """(ring id, local-metre ring) of each target area: the pack's ring when it has one."""
    local = [places.projection.geometry_to_local(area.geometry) for area in areas]
    measured = shapely.union_all(
        [local[i] for i, area in enumerate(areas) if area.kind in ("impact", "comparison")]
    )
    given = {
        str(area.properties["ring_of"]): index
        for index, area in enumerate(areas)
        if isinstance(area.properties.get("ring_of"), str)
    }
    rings: list[tuple[str, AreaGeometry]] = []
    for index in targets:
        area = areas[index]
        if area.area_id in given:
            rings.append((areas[given[area.area_id]].area_id, local[given[area.area_id]]))
            continue
        ring_m = area.properties.get("ring_m", DEFAULT_RING_M)
        width_m = float(ring_m) if isinstance(ring_m, int | float) else DEFAULT_RING_M
        rings.append((f"{area.area_id}-ring", local[index].buffer(width_m).difference(measured)))
    return rings


class QualifyingPresence:
    """Which areas have an officer who has stayed inside for the qualifying time, step by step.

    ``since_ms[officer, area]`` is when the officer's current stay in the area began (-1: not
    inside). Containment is one query of an STR tree of the areas for every officer at once.
    """

    def __init__(self, shapes: Sequence[AreaGeometry], officers: int, qualifying_s: float) -> None:
        self.tree = shapely.STRtree(shapes)
        self.qualifying_ms = round(qualifying_s * 1000)
        self.since_ms = np.full((officers, len(shapes)), -1, dtype=np.int64)

    def inside(self, x: FloatArray, y: FloatArray, on_duty: BoolArray) -> BoolArray:
        """(officer, area): whether the on-duty officer is inside the area."""
        inside = np.zeros(self.since_ms.shape, dtype=np.bool_)
        officers = np.flatnonzero(on_duty)
        if officers.size:
            found, areas = self.tree.query(
                shapely.points(x[officers], y[officers]), predicate="within"
            )
            inside[officers[found], areas] = True
        return inside

    def step(
        self, t0: int, x: FloatArray, y: FloatArray, on_duty: BoolArray
    ) -> tuple[BoolArray, IntArray]:
        """Advance to the positions at ``t0`` (one effects step after the last call); return
        which areas hold a qualifying stay now, and how many stays reached the qualifying time
        since the last call."""
        inside = self.inside(x, y, on_duty)
        self.since_ms[~inside] = -1
        self.since_ms[inside & (self.since_ms < 0)] = t0
        stayed_ms = np.where(inside, t0 - self.since_ms, -1)
        qualifying = stayed_ms >= self.qualifying_ms
        reached = qualifying & (stayed_ms - EFFECT_STEP_MS < self.qualifying_ms)
        holding: BoolArray = np.any(qualifying, axis=0)
        counts: IntArray = reached.sum(axis=0).astype(np.int64)
        return holding, counts


class PlantedEffects:
    """The area crime process, the deterrence and displacement it suffers, the re-direction
    of patrols at the effect day, and the ground truth of it all (:attr:`truth`)."""

    def __init__(
        self,
        options: SimulationOptions,
        areas: Sequence[AreaDefinition],
        patrols: Patrols,
        demand: DemandGenerator,
    ) -> None:
        self.options, self.patrols, self.demand = options, patrols, demand
        self.rng = effect_rng(options.seed)
        places = patrols.places
        targets = [i for i, area in enumerate(areas) if area.kind in ("impact", "comparison")]
        rings = displacement_rings(areas, targets, places)
        self.truth = GroundTruth(
            place_ids=tuple([areas[i].area_id for i in targets] + [ring for ring, _ in rings]),
            kinds=tuple([_kind(areas[i]) for i in targets] + ["ring"] * len(rings)),
            ring_of={ring: areas[i].area_id for (ring, _), i in zip(rings, targets, strict=True)},
        )
        self.pools = [places.area_pools[i] for i in targets] + [
            _ring_points(self.rng, shape) for _, shape in rings
        ]
        area_rate = options.area_crimes_per_day or 0.0
        ring_rate = (
            area_rate if options.ring_crimes_per_day is None else options.ring_crimes_per_day
        )
        self.rate_per_step = np.array([area_rate] * len(targets) + [ring_rate] * len(rings)) * (
            EFFECT_STEP_MS / DAY_MS
        )
        self.is_impact = np.array([areas[i].kind == "impact" for i in targets])
        self.presence = QualifyingPresence(
            [places.projection.geometry_to_local(areas[i].geometry) for i in targets],
            options.officers,
            Policy().qualifying_s,
        )
        self.deterred_until_ms = np.zeros(len(targets), dtype=np.int64)
        self.effect_on: bool | None = None

    def step(self, t0: int) -> None:
        """At each effects step (``t0`` a multiple of :data:`EFFECT_STEP_MS`): patrols'
        direction, qualifying stays, and the crimes of the next 30 s; nothing in between."""
        if t0 % EFFECT_STEP_MS:
            return
        day = t0 // DAY_MS + 1
        effect_from_day = self.options.effect_from_day
        effect_on = effect_from_day is not None and day >= effect_from_day
        if effect_from_day is not None and effect_on != self.effect_on:
            self._direct(effect_on)
        patrols = self.patrols
        qualifying, reached = self.presence.step(t0, patrols.x, patrols.y, patrols.on_duty)
        self.deterred_until_ms[qualifying] = t0 + round(self.options.deterrence_s * 1000)
        deterred = self.is_impact & (t0 <= self.deterred_until_ms) & effect_on
        factor = self.demand.demand_factor(t0)
        self._count(day, deterred, reached, factor)
        drawn = self.rng.poisson(self.rate_per_step * factor)
        counts = self.truth.day(day)
        for place in np.flatnonzero(drawn).tolist():
            for _ in range(int(drawn[place])):
                self._crime(place, t0, bool(place < len(deterred) and deterred[place]), counts)

    def _count(self, day: int, deterred: BoolArray, reached: IntArray, factor: float) -> None:
        """The exposure, deterrence and qualifying stays of one effects step."""
        counts, areas, seconds = self.truth.day(day), len(deterred), EFFECT_STEP_MS / 1000
        counts["exposure_s"] += factor * seconds
        counts["deterred_exposure_s"][:areas][deterred] += factor * seconds
        counts["deterred_s"][:areas][deterred] += seconds
        counts["qualifying_visits"][:areas] += reached

    def _direct(self, effect_on: bool) -> None:
        """Directed patrols to Impact Areas from the effect day, before it to any measured area."""
        places, options = self.patrols.places, self.options
        if effect_on:
            self.patrols.direct(places.impact_targets, options.effect_directed_patrol_share)
        else:
            alike = sorted(places.impact_targets + places.comparison_targets)
            self.patrols.direct(alike, options.directed_patrol_share)
        self.effect_on = effect_on

    def _crime(
        self, place: int, t0: int, deterred: bool, counts: dict[Measure, FloatArray]
    ) -> None:
        """One crime drawn in ``place``: recorded there, prevented, or displaced to its ring."""
        rng = self.rng
        at_ms = t0 + int(rng.integers(EFFECT_STEP_MS))
        category = CRIME_CATEGORIES[int(rng.integers(len(CRIME_CATEGORIES)))]
        if deterred and rng.random() < self.options.deterrence_share:
            counts["prevented"][place] += 1
            if rng.random() >= self.options.displacement_share:
                return
            place += len(self.is_impact)
            counts["displaced_in"][place] += 1
        pool = self.pools[place]
        x, y = pool[int(rng.integers(len(pool)))]
        self.demand.report_crime(at_ms, category, float(x), float(y), rng)
        counts["crimes"][place] += 1


def _kind(area: AreaDefinition) -> PlaceKind:
    """An Impact or comparison area's place kind."""
    return "impact" if area.kind == "impact" else "comparison"


def _ring_points(rng: np.random.Generator, ring: AreaGeometry) -> FloatArray:
    """Points for a ring's crimes, at least :data:`RING_INSET_M` inside it when it is wide
    enough (so a ring drawn by another projection still holds them)."""
    inset = ring.buffer(-RING_INSET_M)
    return sample_inside(rng, inset if inset.area > 0 else ring, POINTS_PER_PLACE)
