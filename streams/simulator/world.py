"""The simulated force: a pure, seeded generator of every input topic's messages.

:func:`generate` steps a world of officers five simulated seconds at a time (numpy arrays, one
entry per officer) and yields :class:`Record` values in delivery order: the area pack on
``areas.definitions`` and the roster on ``resources.roster`` first, then Airwave pings, roster
changes at book-on/off, the CAD incident lifecycle, recorded crimes, stop-searches and
``clock.ticks`` heartbeats. No I/O, no wall clock: the same options and areas always give the
same records, byte for byte.

The world
- Roles: response and roads officers drive (``vehicle`` devices); neighbourhood, partnership and
  offender-management officers walk (``handheld``). Shifts of 9-10 h start at staggered hours.
- Neighbourhood officers walk inside a home Impact or comparison area, or a beat of 800 m around
  a point. Vehicles patrol the force area; some legs are directed patrols that park in an Impact
  Area for 8-20 minutes (a few in comparison areas for 1-4 minutes). Areas listed in
  ``neglected_areas`` get no homes, no directed patrols and no demand hot spot, so coverage
  alarms have something to find.
- CAD incidents arrive as a Poisson process, more in the evening and in Impact Areas, with a UK
  grade mix. Immediate and priority incidents are assigned to the nearest free vehicles (two
  for immediate), which drive there, stay, and clear; the incident then closes.

Faults (each a rate; all off except as configured)
- ``outlier_rate``: share of fixes replaced by a confident fix 2-20 km off.
- ``radio_off_rate``: share of on-duty time with the radio off (spells of 5-45 min; no fixes).
- ``out_of_coverage_rate``: share of fixes buffered out of coverage (spells of 1-10 min) and
  delivered late in one burst when coverage returns; they keep their ``ts``.
- ``duplicate_rate``: share of fixes delivered a second time 0.2-5 s later, byte-identical.
- ``stuck_device_rate``: share of devices that get stuck at a random moment and from then on
  repeat one fix (same lat/lon/accuracy, fresh ``ts``): the service judges them stuck after 10
  fixes over 10 minutes and counts nothing of them from the first (every healthy fix carries
  ``gps_noise_m`` of noise, so none repeats a position).
- ``malformed_rate``: share of records after the opening snapshot whose value is replaced by
  bytes that are not a JSON object (truncated, garbage, wrapped in an array, trailing junk).

Area crime and planted effects (residual deterrence after qualifying visits, displacement into
the rings, directed patrols from an effect day on) are described in
:mod:`streams.simulator.effects`; :func:`generate_with_truth` also returns their ground truth.

Records after ``duration_seconds`` are not delivered (the recording ends there); with
``duration_seconds`` infinite the city goes on, day after day, for as long as it is read (the
live demo).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Final, cast

import numpy as np

from streams.domain.areas import AreaDefinition, area_to_feature, live_areas
from streams.simulator.catalogue import (
    CRIME_CATEGORIES,
    ENDLESS_MS,
    INCIDENT_CATEGORIES,
    PATROL,
    SEARCH_OBJECTS,
    STEP_MS,
)
from streams.simulator.demand_generator import DemandGenerator
from streams.simulator.effects import PlantedEffects
from streams.simulator.force import Force
from streams.simulator.options import Record, SimulationOptions
from streams.simulator.outbox import Outbox
from streams.simulator.patrols import Patrols
from streams.simulator.places import build_places
from streams.simulator.radios import Radios
from streams.simulator.truth import GroundTruth

SHIFT_MARGIN_MS: Final = 10_000
"""Shifts are judged again this long before the next computed start or end (float rounding)."""

__all__ = [
    "CRIME_CATEGORIES",
    "INCIDENT_CATEGORIES",
    "SEARCH_OBJECTS",
    "GroundTruth",
    "Record",
    "SimulationOptions",
    "generate",
    "generate_with_truth",
    "neglected_area_ids",
]


def generate(options: SimulationOptions, areas: Sequence[AreaDefinition]) -> Iterator[Record]:
    """Every message of the simulation in delivery order (``at`` never decreases)."""
    return _Simulation(options, areas).run()


def generate_with_truth(
    options: SimulationOptions, areas: Sequence[AreaDefinition]
) -> tuple[Iterator[Record], GroundTruth | None]:
    """The records of :func:`generate`, and the ground truth of the area crime and planted
    effects (None without ``area_crimes_per_day`` and ``effect_from_day``), which is complete
    once the records have all been read."""
    simulation = _Simulation(options, areas)
    truth = simulation.effects.truth if simulation.effects is not None else None
    return simulation.run(), truth


def neglected_area_ids(
    options: SimulationOptions, areas: Sequence[AreaDefinition]
) -> tuple[str, ...]:
    """The areas patrols skip: ``options.neglected_areas``, or 2-3 Impact Areas picked by seed."""
    known = {area.area_id for area in areas}
    if options.neglected_areas is not None:
        unknown = sorted(set(options.neglected_areas) - known)
        if unknown:
            raise ValueError(f"neglected_areas names unknown areas: {', '.join(unknown)}")
        return options.neglected_areas
    impact = sorted(area.area_id for area in areas if area.kind == "impact")
    rng = np.random.default_rng([options.seed, 1])
    count = min(int(rng.integers(2, 4)), max(0, len(impact) - 1))
    return tuple(sorted(rng.choice(impact, size=count, replace=False).tolist())) if count else ()


class _Simulation:
    """The mutable world behind :func:`generate`; every random draw comes from seeded streams.

    It steps its parts in a fixed order (:meth:`_step`): the force's shifts, the demand
    (:class:`~streams.simulator.demand_generator.DemandGenerator`), the patrols' legs and
    movement (:class:`~streams.simulator.patrols.Patrols`), the radios' fixes
    (:class:`~streams.simulator.radios.Radios`) and the clock's heartbeats, all queued in one
    :class:`~streams.simulator.outbox.Outbox`.
    """

    def __init__(self, options: SimulationOptions, areas: Sequence[AreaDefinition]) -> None:
        self.options = options
        self.areas = list(areas)
        streams = np.random.SeedSequence(options.seed).spawn(5)
        world_rng, ping_rng, fault_rng, malformed_rng, place_rng = (
            np.random.default_rng(stream) for stream in streams
        )
        start_ms = round(options.start.timestamp() * 1000)
        self.end_ms = (
            round(options.duration_seconds * 1000)
            if math.isfinite(options.duration_seconds)
            else ENDLESS_MS
        )
        self.outbox = Outbox(start_ms, options.malformed_rate, malformed_rng)
        self.places = build_places(  # rings are published, but nobody patrols or targets them
            place_rng, live_areas(self.areas), set(neglected_area_ids(options, areas))
        )
        self.force = Force(options.officers, world_rng, self.places)
        self.patrols = Patrols(self.force, self.places, world_rng, options.directed_patrol_share)
        self.radios = Radios(options, self.end_ms, self.patrols, self.outbox, ping_rng, fault_rng)
        self.demand = DemandGenerator(options, world_rng, self.patrols, self.outbox)
        self.effects = (
            PlantedEffects(options, self.areas, self.patrols, self.demand)
            if options.area_crimes_per_day is not None or options.effect_from_day is not None
            else None
        )
        self.next_heartbeat_ms = 0
        self.shifts_settled_until_ms = 0

    def run(self) -> Iterator[Record]:
        """Opening snapshot, then one step at a time until the end."""
        self._open()
        for step_start_ms in range(0, self.end_ms + 1, STEP_MS):
            self._step(step_start_ms)
            yield from self.outbox.deliver_before(min(step_start_ms + STEP_MS, self.end_ms + 1))

    def _dated_feature(self, area: AreaDefinition) -> dict[str, object]:
        """The area's definition, valid from the simulation's start unless the pack dates it (so
        the archive of simulated history has every area on every simulated day)."""
        feature = area_to_feature(area)
        properties = cast(dict[str, object], feature["properties"])
        properties.setdefault("valid_from", self.outbox.ts(0))
        return feature

    def _open(self) -> None:
        """Every area and every roster entry at time zero, then officers already on duty."""
        outbox, force, patrols = self.outbox, self.force, self.patrols
        for area in self.areas:
            outbox.emit(0, "areas.definitions", area.area_id, self._dated_feature(area))
        on_duty = force.on_shift(outbox.start_ms)
        starting = np.flatnonzero(on_duty)
        patrols.place(starting, force.home_points(starting))
        patrols.on_duty[:] = on_duty
        self.radios.switch_on_at_opening(starting)
        for officer in range(self.options.officers):
            self._roster_change(officer, 0)
        outbox.opening = False

    def _step(self, t0: int) -> None:
        """Advance the world from ``t0`` to ``t0 + STEP_MS``."""
        demand, patrols = self.demand, self.patrols
        self._change_shifts(t0)
        demand.run_incident_actions(t0)
        demand.open_incidents(t0)
        demand.record_background_crimes(t0)
        demand.stop_and_search(t0)
        patrols.start_legs(t0)
        old_x, old_y = patrols.x.copy(), patrols.y.copy()
        for officer, at_ms in patrols.move(t0):
            demand.arrive_at_incident(officer, at_ms)
        self.radios.ping(t0, old_x, old_y)
        if self.effects is not None:
            self.effects.step(t0)
        self._heartbeat(t0)

    def _heartbeat(self, t0: int) -> None:
        """``clock.ticks`` every ``heartbeat_interval_s`` of simulated time."""
        interval_ms = max(1, round(self.options.heartbeat_interval_s * 1000))
        while self.next_heartbeat_ms < t0 + STEP_MS:
            at_ms = self.next_heartbeat_ms
            value: dict[str, object] = {
                "schema": "clock.ticks/1",
                "source": "simulator",
                "ts": self.outbox.ts(at_ms),
            }
            self.outbox.emit(at_ms, "clock.ticks", "simulator", value)
            self.next_heartbeat_ms += interval_ms

    def _change_shifts(self, t0: int) -> None:
        """Book officers on at their station and off when free (not at an incident).

        Until a shift starts or ends (less a margin for rounding), with nobody waiting to book
        off, nothing can change: those steps skip the work (most steps of a day).
        """
        if t0 < self.shifts_settled_until_ms:
            return
        patrols = self.patrols
        epoch_ms = self.outbox.start_ms + t0
        should = self.force.on_shift(epoch_ms)
        booking_on = np.flatnonzero(should & ~patrols.on_duty)
        booking_off = np.flatnonzero(~should & patrols.on_duty & (patrols.activity == PATROL))
        if booking_on.size:
            patrols.place(booking_on, self.places.stations[self.force.station[booking_on]])
            self.radios.switch_on(booking_on, t0)
        patrols.on_duty[booking_on] = True
        patrols.on_duty[booking_off] = False
        for officer in np.concatenate((booking_on, booking_off)).tolist():
            self._roster_change(officer, t0)
        waiting_to_book_off = bool(np.any(~should & patrols.on_duty))
        self.shifts_settled_until_ms = (
            0
            if waiting_to_book_off
            else t0 + int(self.force.seconds_to_shift_change(epoch_ms) * 1000) - SHIFT_MARGIN_MS
        )

    def _roster_change(self, officer: int, at_ms: int) -> None:
        """The ``resources.roster`` record of one officer as of ``at_ms``."""
        on_duty = bool(self.patrols.on_duty[officer])
        value = self.force.roster_value(officer, on_duty, self.outbox.ts(at_ms))
        self.outbox.emit(at_ms, "resources.roster", self.force.issi[officer], value)
