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
  repeat one fix (same lat/lon/accuracy, fresh ``ts``).
- ``malformed_rate``: share of records after the opening snapshot whose value is replaced by
  bytes that are not a JSON object (truncated, garbage, wrapped in an array, trailing junk).

Records after ``duration_seconds`` are not delivered (the recording ends there); with
``duration_seconds`` infinite the city goes on, day after day, for as long as it is read (the
live demo).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon

from streams.domain.areas import AreaDefinition, area_to_feature
from streams.simulator.geography import LocalProjection

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STEP_MS: Final = 5000
ENDLESS_MS: Final = 2**62
"""The end of an endless simulation: far beyond any run (a ``range`` to it is lazy)."""
STUCK_WITHIN_MS: Final = 86_400_000
"""Devices that get stuck do so within the first simulated day (or the run, if shorter)."""
"""Simulated milliseconds per step; fixes and events within a step keep their own times."""
DAY_S: Final = 86_400
ROLES: Final = ("response", "neighbourhood", "roads", "offender_management", "partnership")
ROLE_SHARES: Final = (0.45, 0.30, 0.07, 0.08, 0.10)
RESPONSE, NEIGHBOURHOOD, ROADS, OFFENDER_MANAGEMENT, PARTNERSHIP = range(5)
UNIT_LABELS: Final = ("Response", "NPT", "Roads Policing", "IOM", "Partnerships")
STATION_LETTERS: Final = "ABCDEF"
GRADES: Final = ("immediate", "priority", "scheduled", "resolution")
GRADE_SHARES: Final = (0.15, 0.35, 0.30, 0.20)
INCIDENT_CATEGORIES: Final = (
    "assault", "domestic", "burglary", "theft", "robbery", "antisocial_behaviour",
    "concern_for_welfare", "road_traffic_collision", "suspicious_activity", "public_order",
    "vehicle_crime", "drugs",
)  # fmt: skip
CRIME_OF_INCIDENT: Final = {
    "assault": "violence_against_the_person", "domestic": "violence_against_the_person",
    "burglary": "burglary", "theft": "theft", "robbery": "robbery",
    "public_order": "public_order", "vehicle_crime": "vehicle_offences", "drugs": "drugs",
}  # fmt: skip
CRIME_CATEGORIES: Final = (
    "violence_against_the_person", "burglary", "robbery", "theft", "vehicle_offences",
    "criminal_damage", "drugs", "public_order", "possession_of_weapons",
)  # fmt: skip
SEARCH_OBJECTS: Final = (
    "controlled_drugs",
    "offensive_weapons",
    "stolen_goods",
    "going_equipped",
    "firearms",
)
SEARCH_OBJECT_SHARES: Final = (0.60, 0.17, 0.12, 0.09, 0.02)
SEARCH_OUTCOMES: Final = (
    "no_further_action", "arrest", "community_resolution", "summons", "caution", "penalty_notice",
)  # fmt: skip
SEARCH_OUTCOME_SHARES: Final = (0.70, 0.14, 0.08, 0.03, 0.02, 0.03)
MALFORMED_GARBAGE: Final = b"ERROR 502: upstream gateway timeout"
FOOT_SPEED_MPS: Final = (1.0, 1.6)
PATROL_SPEED_MPS: Final = (7.0, 14.0)
DISPATCH_SPEED_MPS: Final = {
    "immediate": (15.0, 22.0),
    "priority": (10.0, 15.0),
    "scheduled": (8.0, 12.0),
}
MAX_FOOT_SPEED_MPS: Final = max(FOOT_SPEED_MPS)
MAX_VEHICLE_SPEED_MPS: Final = max(high for _, high in DISPATCH_SPEED_MPS.values())

PATROL, TO_INCIDENT, AT_INCIDENT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Record:
    """One message to deliver: ``at`` is seconds after ``options.start`` when it is delivered.

    ``value`` is the exact JSON bytes, malformed bytes (fault injection) or None (a tombstone).
    """

    at: float
    topic: str
    key: str | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """Everything that shapes a simulation. Equal options give byte-identical output."""

    seed: int = 0
    officers: int = 200
    start: datetime = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    duration_seconds: float = 3600.0
    vehicle_interval_s: tuple[float, float] = (10.0, 30.0)
    handheld_interval_s: tuple[float, float] = (30.0, 120.0)
    gps_noise_m: tuple[float, float] = (10.0, 30.0)
    outlier_rate: float = 0.001
    radio_off_rate: float = 0.02
    out_of_coverage_rate: float = 0.02
    duplicate_rate: float = 0.005
    stuck_device_rate: float = 0.01
    malformed_rate: float = 0.0
    heartbeat_interval_s: float = 5.0
    incident_rate_per_hour: float | None = None
    """Mean CAD incidents per hour (the daily curve peaks at 1.6x this in the evening);
    None means 0.05 per officer."""
    crime_rate_per_hour: float | None = None
    """Mean crimes per hour not linked to an incident; None means 0.3x the incident rate."""
    stop_search_rate_per_officer_hour: float = 0.03
    directed_patrol_share: float = 0.3
    """Share of vehicle patrol legs that are directed patrols to an Impact Area."""
    neglected_areas: tuple[str, ...] | None = None
    """Area ids that patrols skip; None picks 2-3 Impact Areas from the seed."""

    def __post_init__(self) -> None:
        """Reject options that cannot describe a simulation."""
        problems = _option_problems(self)
        if problems:
            raise ValueError("invalid simulation options: " + "; ".join(problems))

    @property
    def incidents_per_hour(self) -> float:
        """The mean CAD incident rate in effect."""
        if self.incident_rate_per_hour is None:
            return 0.05 * self.officers
        return self.incident_rate_per_hour

    @property
    def crimes_per_hour(self) -> float:
        """The mean rate of crimes not linked to an incident."""
        if self.crime_rate_per_hour is None:
            return 0.3 * self.incidents_per_hour
        return self.crime_rate_per_hour


def _option_problems(options: SimulationOptions) -> list[str]:
    """Every reason the options are unusable."""
    problems: list[str] = []
    if options.start.tzinfo is None:
        problems.append("start must be timezone-aware")
    if options.officers < 1:
        problems.append("officers must be at least 1")
    if options.duration_seconds <= 0 or options.heartbeat_interval_s <= 0:
        problems.append("duration_seconds and heartbeat_interval_s must be positive")
    for name in ("vehicle_interval_s", "handheld_interval_s"):
        low, high = getattr(options, name)
        if not 1.0 <= low <= high:
            problems.append(f"{name} must be (low, high) with 1 <= low <= high")
    low_m, high_m = options.gps_noise_m
    if not 0.0 <= low_m <= high_m:
        problems.append("gps_noise_m must be (low, high) with 0 <= low <= high")
    for name in (
        "outlier_rate", "radio_off_rate", "out_of_coverage_rate", "duplicate_rate",
        "stuck_device_rate", "malformed_rate", "directed_patrol_share",
    ):  # fmt: skip
        if not 0.0 <= getattr(options, name) < 1.0:
            problems.append(f"{name} must be in [0, 1)")
    return problems


def generate(options: SimulationOptions, areas: Sequence[AreaDefinition]) -> Iterator[Record]:
    """Every message of the simulation in delivery order (``at`` never decreases)."""
    return _Simulation(options, areas).run()


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


@lru_cache(maxsize=4096)
def _second_text(epoch_second: int) -> str:
    """RFC 3339 text of a whole UTC second, without the fraction and zone."""
    return datetime.fromtimestamp(epoch_second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def format_epoch_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds and ``Z`` for milliseconds since the Unix epoch."""
    second, millisecond = divmod(epoch_ms, 1000)
    return f"{_second_text(second)}.{millisecond:03d}Z"


@dataclass(slots=True)
class _Places:
    """Where things can happen, in local metres: sampled point pools per area and force-wide."""

    projection: LocalProjection
    area_pools: list[FloatArray]
    impact_targets: list[int]
    comparison_targets: list[int]
    patrol_pool: FloatArray
    beat_centres: FloatArray
    stations: FloatArray


@dataclass(slots=True)
class _Incident:
    """One CAD incident in progress."""

    incident_id: str
    category: str
    grade: str
    x: float
    y: float
    units: list[int] = field(default_factory=list)
    arrived: bool = False


class _Simulation:
    """The mutable world behind :func:`generate`; every random draw comes from seeded streams."""

    def __init__(self, options: SimulationOptions, areas: Sequence[AreaDefinition]) -> None:
        self.options = options
        self.areas = list(areas)
        streams = np.random.SeedSequence(options.seed).spawn(5)
        self.world_rng, self.ping_rng, self.fault_rng, self.malformed_rng, self.place_rng = (
            np.random.default_rng(stream) for stream in streams
        )
        self.start_ms = round(options.start.timestamp() * 1000)
        self.end_ms = (
            round(options.duration_seconds * 1000)
            if math.isfinite(options.duration_seconds)
            else ENDLESS_MS
        )
        self.queue: list[tuple[int, int, Record]] = []
        self.sequence = 0
        self.opening = True
        self.places = _build_places(
            self.place_rng, self.areas, set(neglected_area_ids(options, areas))
        )
        self._build_roster()
        self._build_devices()
        self.incidents: dict[str, _Incident] = {}
        self.actions: list[tuple[int, int, str, str]] = []
        self.incident_count = 0
        self.crime_count = 0
        self.search_count = 0
        self.next_heartbeat_ms = 0

    # ---- set-up -------------------------------------------------------------------------

    def _build_roster(self) -> None:
        """Officers: role, device, station, callsign, unit, collar number, ISSI, shift, home."""
        n, rng, places = self.options.officers, self.world_rng, self.places
        self.role = rng.choice(len(ROLES), size=n, p=ROLE_SHARES)
        self.is_vehicle = (self.role == RESPONSE) | (self.role == ROADS)
        self.is_vehicle_list: list[bool] = self.is_vehicle.tolist()
        self.issi = [str(value) for value in 2_300_000 + rng.choice(10 * n, size=n, replace=False)]
        self.officer_id = [str(value) for value in 1000 + rng.choice(10 * n, size=n, replace=False)]
        self.home_area = np.full(n, -1, dtype=np.int64)
        self.beat = places.beat_centres[rng.integers(len(places.beat_centres), size=n)]
        self._assign_homes(rng)
        home_points = self._home_points(np.arange(n))
        station_of = _nearest(places.stations, home_points)
        station_of[self.is_vehicle] = rng.integers(
            len(places.stations), size=int(self.is_vehicle.sum())
        )
        self.station = station_of
        counters: dict[tuple[int, int], int] = {}
        self.callsign: list[str] = []
        self.unit: list[str] = []
        for station, role in zip(station_of.tolist(), self.role.tolist(), strict=True):
            counters[(station, role)] = counters.get((station, role), 0) + 1
            letter = STATION_LETTERS[station]
            self.callsign.append(f"{letter}{role + 1}{counters[(station, role)]:02d}")
            self.unit.append(f"{letter} {UNIT_LABELS[role]}")
        self.shift_start_s = self._shift_starts(rng)
        self.shift_length_s = np.where(self.is_vehicle, 10 * 3600.0, 9 * 3600.0)

    def _assign_homes(self, rng: np.random.Generator) -> None:
        """Neighbourhood officers: 35% in an Impact Area, 15% in a comparison area, rest beats."""
        places = self.places
        for officer in np.flatnonzero(self.role == NEIGHBOURHOOD).tolist():
            draw = rng.random()
            if draw < 0.35 and places.impact_targets:
                self.home_area[officer] = places.impact_targets[
                    int(rng.integers(len(places.impact_targets)))
                ]
            elif draw < 0.50 and places.comparison_targets:
                pick = int(rng.integers(len(places.comparison_targets)))
                self.home_area[officer] = places.comparison_targets[pick]

    def _shift_starts(self, rng: np.random.Generator) -> FloatArray:
        """Seconds after midnight UTC each officer's shift starts, staggered by up to 20 min."""
        vehicle_starts = np.array([7.0, 15.0, 22.0]) * 3600.0
        foot_starts = np.array([8.0, 14.0]) * 3600.0
        n = self.options.officers
        starts = np.where(
            self.is_vehicle,
            vehicle_starts[rng.integers(3, size=n)],
            foot_starts[rng.integers(2, size=n)],
        )
        jitter: FloatArray = starts + rng.uniform(-1200.0, 1200.0, size=n)
        return jitter

    def _build_devices(self) -> None:
        """Per-device ping schedule, noise, fault spells and movement state."""
        options, n, rng = self.options, self.options.officers, self.ping_rng
        low = np.where(
            self.is_vehicle, options.vehicle_interval_s[0], options.handheld_interval_s[0]
        )
        high = np.where(
            self.is_vehicle, options.vehicle_interval_s[1], options.handheld_interval_s[1]
        )
        typical = rng.uniform(low, high)
        self.interval_low_ms = np.ceil(np.maximum(low, typical * 0.85) * 1000).astype(np.int64)
        self.interval_high_ms = np.floor(np.minimum(high, typical * 1.15) * 1000).astype(np.int64)
        self.interval_high_ms = np.maximum(self.interval_high_ms, self.interval_low_ms)
        self.noise_m = rng.uniform(*options.gps_noise_m, size=n)
        self.accuracy_m = np.round(np.maximum(self.noise_m, 2.0) * 1.5, 1).tolist()
        mean_interval_ms = (self.interval_low_ms + self.interval_high_ms) / 2.0
        self.radio_off_start_p = _spell_start_probability(
            options.radio_off_rate, 25 * 60_000, mean_interval_ms
        )
        self.coverage_start_p = _spell_start_probability(
            options.out_of_coverage_rate, 330_000, mean_interval_ms
        )
        faults = self.fault_rng
        stuck = faults.random(n) < options.stuck_device_rate
        self.stuck_from_ms = np.where(
            stuck,
            faults.integers(0, min(self.end_ms, STUCK_WITHIN_MS), size=n),
            np.iinfo(np.int64).max,
        )
        self.stuck_fix: dict[int, tuple[float, float]] = {}
        self.radio_off_until_ms = np.zeros(n, dtype=np.int64)
        self.coverage_until_ms = np.zeros(n, dtype=np.int64)
        self.next_ping_ms = np.zeros(n, dtype=np.int64)
        self.x = np.zeros(n)
        self.y = np.zeros(n)
        self.target_x = np.zeros(n)
        self.target_y = np.zeros(n)
        self.speed = np.zeros(n)
        self.dwell_s = np.zeros(n)
        self.hold_until_ms = np.zeros(n, dtype=np.int64)
        self.needs_leg = np.ones(n, dtype=np.bool_)
        self.activity = np.full(n, PATROL, dtype=np.int64)
        self.on_duty = np.zeros(n, dtype=np.bool_)
        self.incident_of: list[str | None] = [None] * n

    # ---- output ---------------------------------------------------------------------------

    def emit(self, at_ms: int, topic: str, key: str, value: dict[str, object] | bytes) -> None:
        """Queue one record for delivery at ``at_ms``, malformed at the configured rate."""
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        malformed_rate = self.options.malformed_rate
        if malformed_rate and not self.opening and self.malformed_rng.random() < malformed_rate:
            raw = _malformed(raw, int(self.malformed_rng.integers(4)))
        self.sequence += 1
        heapq.heappush(self.queue, (at_ms, self.sequence, Record(at_ms / 1000.0, topic, key, raw)))

    def deliver_before(self, limit_ms: int) -> Iterator[Record]:
        """Every queued record due before ``limit_ms``, in order."""
        queue = self.queue
        while queue and queue[0][0] < limit_ms:
            yield heapq.heappop(queue)[2]

    def ts(self, at_ms: int) -> str:
        """The RFC 3339 event time of simulation time ``at_ms``."""
        return format_epoch_ms(self.start_ms + at_ms)

    # ---- the run --------------------------------------------------------------------------

    def run(self) -> Iterator[Record]:
        """Opening snapshot, then one step at a time until the end."""
        self._open()
        for step_start_ms in range(0, self.end_ms + 1, STEP_MS):
            self._step(step_start_ms)
            yield from self.deliver_before(min(step_start_ms + STEP_MS, self.end_ms + 1))

    def _open(self) -> None:
        """Every area and every roster entry at time zero, then officers already on duty."""
        for area in self.areas:
            self.emit(0, "areas.definitions", area.area_id, area_to_feature(area))
        on_duty = self._should_be_on_duty(0)
        starting = np.flatnonzero(on_duty)
        self._place(starting, self._home_points(starting))
        self.on_duty[:] = on_duty
        self.next_ping_ms[starting] = self.ping_rng.integers(0, self.interval_high_ms[starting] + 1)
        for officer in range(self.options.officers):
            self.emit(0, "resources.roster", self.issi[officer], self._roster_value(officer, 0))
        self.opening = False

    def _step(self, t0: int) -> None:
        """Advance the world from ``t0`` to ``t0 + STEP_MS``."""
        self._change_shifts(t0)
        self._run_incident_actions(t0)
        self._open_incidents(t0)
        self._record_background_crimes(t0)
        self._stop_and_search(t0)
        self._start_legs(t0)
        old_x, old_y = self.x.copy(), self.y.copy()
        self._move(t0)
        self._ping(t0, old_x, old_y)
        self._heartbeat(t0)

    def _heartbeat(self, t0: int) -> None:
        """``clock.ticks`` every ``heartbeat_interval_s`` of simulated time."""
        interval_ms = max(1, round(self.options.heartbeat_interval_s * 1000))
        while self.next_heartbeat_ms < t0 + STEP_MS:
            at_ms = self.next_heartbeat_ms
            value: dict[str, object] = {
                "schema": "clock.ticks/1",
                "source": "simulator",
                "ts": self.ts(at_ms),
            }
            self.emit(at_ms, "clock.ticks", "simulator", value)
            self.next_heartbeat_ms += interval_ms

    # ---- roster and shifts -----------------------------------------------------------------

    def _roster_value(self, officer: int, at_ms: int) -> dict[str, object]:
        """The ``resources.roster`` value of one officer now."""
        return {
            "schema": "resources.roster/1",
            "issi": self.issi[officer],
            "officer_id": self.officer_id[officer],
            "callsign": self.callsign[officer],
            "unit": self.unit[officer],
            "role": ROLES[int(self.role[officer])],
            "device": "vehicle" if self.is_vehicle[officer] else "handheld",
            "on_duty": bool(self.on_duty[officer]),
            "ts": self.ts(at_ms),
        }

    def _should_be_on_duty(self, at_ms: int) -> BoolArray:
        """Which officers' shifts cover simulation time ``at_ms``."""
        second_of_day = (self.start_ms + at_ms) / 1000.0 % DAY_S
        into_shift = (second_of_day - self.shift_start_s) % DAY_S
        covered: BoolArray = into_shift < self.shift_length_s
        return covered

    def _change_shifts(self, t0: int) -> None:
        """Book officers on at their station and off when free (not at an incident)."""
        should = self._should_be_on_duty(t0)
        booking_on = np.flatnonzero(should & ~self.on_duty)
        booking_off = np.flatnonzero(~should & self.on_duty & (self.activity == PATROL))
        if booking_on.size:
            self._place(booking_on, self.places.stations[self.station[booking_on]])
            self.next_ping_ms[booking_on] = t0 + self.ping_rng.integers(
                0, self.interval_low_ms[booking_on] + 1
            )
        self.on_duty[booking_on] = True
        self.on_duty[booking_off] = False
        for officer in np.concatenate((booking_on, booking_off)).tolist():
            self.emit(t0, "resources.roster", self.issi[officer], self._roster_value(officer, t0))

    def _place(self, officers: IntArray, points: FloatArray) -> None:
        """Put officers at points, standing still, about to choose a leg."""
        self.x[officers] = points[:, 0]
        self.y[officers] = points[:, 1]
        self.target_x[officers] = points[:, 0]
        self.target_y[officers] = points[:, 1]
        self.needs_leg[officers] = True
        self.hold_until_ms[officers] = 0
        self.activity[officers] = PATROL

    def _home_points(self, officers: IntArray) -> FloatArray:
        """A random point in each officer's patch: home area, beat, or the force area (vehicles)."""
        rng, places = self.world_rng, self.places
        points = _disc_points(rng, self.beat[officers], 800.0)
        for row, officer in enumerate(officers.tolist()):
            if self.is_vehicle[officer]:
                points[row] = places.patrol_pool[int(rng.integers(len(places.patrol_pool)))]
            elif self.home_area[officer] >= 0:
                pool = places.area_pools[int(self.home_area[officer])]
                points[row] = pool[int(rng.integers(len(pool)))]
        return points

    # ---- movement -------------------------------------------------------------------------

    def _start_legs(self, t0: int) -> None:
        """Choose the next destination, speed and dwell for officers ready to move on."""
        ready = np.flatnonzero(self.on_duty & self.needs_leg & (self.hold_until_ms <= t0))
        if ready.size == 0:
            return
        rng, places = self.world_rng, self.places
        vehicles = ready[self.is_vehicle[ready]]
        walkers = ready[~self.is_vehicle[ready]]
        self._walk_legs(rng, walkers)
        if vehicles.size:
            share = np.where(
                self.role[vehicles] == ROADS,
                self.options.directed_patrol_share / 3,
                self.options.directed_patrol_share,
            )
            draw = rng.random(vehicles.size)
            points = places.patrol_pool[rng.integers(len(places.patrol_pool), size=vehicles.size)]
            dwell = rng.uniform(0.0, 180.0, size=vehicles.size)
            directed = _area_points(rng, places, places.impact_targets, draw < share, points)
            dwell = np.where(directed, rng.uniform(480.0, 1200.0, size=vehicles.size), dwell)
            brief = _area_points(
                rng,
                places,
                places.comparison_targets,
                (draw >= share) & (draw < share + 0.06),
                points,
            )
            dwell = np.where(brief, rng.uniform(60.0, 240.0, size=vehicles.size), dwell)
            self.target_x[vehicles], self.target_y[vehicles] = points[:, 0], points[:, 1]
            self.speed[vehicles] = rng.uniform(*PATROL_SPEED_MPS, size=vehicles.size)
            self.dwell_s[vehicles] = dwell
        self.needs_leg[ready] = False

    def _walk_legs(self, rng: np.random.Generator, walkers: IntArray) -> None:
        """Foot legs inside the home area or beat; partnership and IOM officers stay longer."""
        if walkers.size == 0:
            return
        points = self._home_points(walkers)
        self.target_x[walkers], self.target_y[walkers] = points[:, 0], points[:, 1]
        self.speed[walkers] = rng.uniform(*FOOT_SPEED_MPS, size=walkers.size)
        visiting = self.role[walkers] != NEIGHBOURHOOD
        self.dwell_s[walkers] = np.where(
            visiting,
            rng.uniform(600.0, 2400.0, size=walkers.size),
            rng.uniform(0.0, 360.0, size=walkers.size),
        )

    def _move(self, t0: int) -> None:
        """Move every free-to-move officer one step toward its destination; handle arrivals."""
        moving = np.flatnonzero(self.on_duty & ~self.needs_leg & (self.hold_until_ms <= t0))
        if moving.size == 0:
            return
        dx = self.target_x[moving] - self.x[moving]
        dy = self.target_y[moving] - self.y[moving]
        distance = np.hypot(dx, dy)
        reach = self.speed[moving] * (STEP_MS / 1000.0)
        arrived = distance <= reach
        fraction = np.where(arrived, 1.0, reach / np.maximum(distance, 1e-9))
        self.x[moving] += dx * fraction
        self.y[moving] += dy * fraction
        arrivals = moving[arrived]
        share_of_step = np.minimum(distance[arrived] / np.maximum(reach[arrived], 1e-9), 1.0)
        arrival_ms = t0 + np.floor(share_of_step * (STEP_MS - 1)).astype(np.int64)
        patrol = self.activity[arrivals] == PATROL
        done = arrivals[patrol]
        self.hold_until_ms[done] = arrival_ms[patrol] + (self.dwell_s[done] * 1000).astype(np.int64)
        self.needs_leg[done] = True
        for officer, at_ms in zip(
            arrivals[~patrol].tolist(), arrival_ms[~patrol].tolist(), strict=True
        ):
            self._arrive_at_incident(officer, at_ms)

    # ---- pings ----------------------------------------------------------------------------

    def _ping(self, t0: int, old_x: FloatArray, old_y: FloatArray) -> None:
        """Every fix due in this step (a device with a short interval may send several)."""
        while True:
            due = np.flatnonzero(self.on_duty & (self.next_ping_ms < t0 + STEP_MS))
            if due.size == 0:
                return
            self._ping_devices(due, t0, old_x, old_y)

    def _ping_devices(self, due: IntArray, t0: int, old_x: FloatArray, old_y: FloatArray) -> None:
        """The next fix of each device in ``due``, with noise and faults applied."""
        ping_ms = np.maximum(self.next_ping_ms[due], t0)
        self.next_ping_ms[due] = ping_ms + self.ping_rng.integers(
            self.interval_low_ms[due], self.interval_high_ms[due] + 1
        )
        noise = self.ping_rng.normal(0.0, 1.0, size=(2, due.size)) * self.noise_m[due]
        draws = self.fault_rng.random((6, due.size))
        sent = ~self._radio_off(due, ping_ms, draws[3])
        deliver_ms = self._delivery_times(due, ping_ms, draws[4])
        fraction = (ping_ms - t0) / STEP_MS
        vx, vy = self.x[due] - old_x[due], self.y[due] - old_y[due]
        outlier_m = np.where(
            draws[0] < self.options.outlier_rate, 2000.0 + draws[2] * 18_000.0, 0.0
        )
        bearing = draws[1] * 2.0 * math.pi
        lon, lat = self.places.projection.to_lonlat(
            old_x[due] + vx * fraction + noise[0] + outlier_m * np.sin(bearing),
            old_y[due] + vy * fraction + noise[1] + outlier_m * np.cos(bearing),
        )
        speed = np.round(np.hypot(vx, vy) / (STEP_MS / 1000.0), 1)
        heading = np.floor(np.degrees(np.arctan2(vx, vy)) % 360.0 * 10.0) / 10.0 % 360.0
        duplicate_ms = np.where(
            draws[5] < self.options.duplicate_rate, 200 + (draws[5] * 4800).astype(np.int64), -1
        )
        columns = zip(
            due[sent].tolist(), ping_ms[sent].tolist(), deliver_ms[sent].tolist(),
            np.round(lat[sent], 6).tolist(), np.round(lon[sent], 6).tolist(),
            speed[sent].tolist(), heading[sent].tolist(), duplicate_ms[sent].tolist(),
            strict=True,
        )  # fmt: skip
        for (
            officer,
            at_ms,
            delivered_ms,
            fix_lat,
            fix_lon,
            fix_speed,
            fix_heading,
            resend_after_ms,
        ) in columns:
            value = self._ping_value(officer, at_ms, fix_lat, fix_lon, fix_speed, fix_heading)
            self.emit(delivered_ms, "airwave.pings", self.issi[officer], value)
            if resend_after_ms >= 0:
                self.emit(
                    delivered_ms + resend_after_ms, "airwave.pings", self.issi[officer], value
                )

    def _ping_value(
        self, officer: int, at_ms: int, lat: float, lon: float, speed: float, heading: float
    ) -> bytes:
        """The ``airwave.pings`` bytes; a stuck device repeats its first stuck fix."""
        if at_ms >= self.stuck_from_ms[officer]:
            lat, lon = self.stuck_fix.setdefault(officer, (lat, lon))
            speed = 0.0
        value: dict[str, object] = {
            "schema": "airwave.pings/1",
            "issi": self.issi[officer],
            "ts": self.ts(at_ms),
            "lat": lat,
            "lon": lon,
            "accuracy_m": self.accuracy_m[officer],
        }
        if self.is_vehicle_list[officer]:
            value["speed_mps"] = speed
            if speed >= 0.5:
                value["heading_deg"] = heading
        return orjson.dumps(value)

    def _radio_off(self, devices: IntArray, ping_ms: IntArray, draw: FloatArray) -> BoolArray:
        """Which fixes are lost to a radio that is off; some start a 5-45 min spell now."""
        already_off = ping_ms < self.radio_off_until_ms[devices]
        start_p = self.radio_off_start_p[devices]
        switching_off = ~already_off & (draw < start_p)
        spell_ms = 300_000 + (draw / np.maximum(start_p, 1e-12) * 2_400_000).astype(np.int64)
        self.radio_off_until_ms[devices[switching_off]] = (ping_ms + spell_ms)[switching_off]
        off: BoolArray = already_off | switching_off
        return off

    def _delivery_times(self, devices: IntArray, ping_ms: IntArray, draw: FloatArray) -> IntArray:
        """When each fix is delivered: at once, or in a burst when coverage returns (1-10 min)."""
        covered_from = self.coverage_until_ms[devices]
        buffered = ping_ms < covered_from
        start_p = self.coverage_start_p[devices]
        losing_coverage = ~buffered & (draw < start_p)
        spell_ms = 60_000 + (draw / np.maximum(start_p, 1e-12) * 540_000).astype(np.int64)
        self.coverage_until_ms[devices[losing_coverage]] = (ping_ms + spell_ms)[losing_coverage]
        delivered: IntArray = np.where(
            buffered, covered_from, np.where(losing_coverage, ping_ms + spell_ms, ping_ms)
        )
        return delivered

    # ---- incidents, crimes, stop-search ---------------------------------------------------

    def _demand_factor(self, t0: int) -> float:
        """Time-of-day demand relative to the mean: 0.4 at 08:00 UTC up to 1.6 at 20:00."""
        hour = (self.start_ms + t0) / 3_600_000.0 % 24.0
        return 1.0 + 0.6 * math.cos(2.0 * math.pi * (hour - 20.0) / 24.0)

    def _demand_points(self, count: int) -> FloatArray:
        """Where demand happens: 18% in Impact Areas, 12% in comparison areas, the rest anywhere."""
        rng, places = self.world_rng, self.places
        points = places.patrol_pool[rng.integers(len(places.patrol_pool), size=count)]
        draw = rng.random(count)
        _area_points(rng, places, places.impact_targets, draw < 0.18, points)
        _area_points(rng, places, places.comparison_targets, (draw >= 0.18) & (draw < 0.30), points)
        return points

    def _open_incidents(self, t0: int) -> None:
        """New CAD incidents this step: opened now, graded 30 s to 4 min later."""
        rng = self.world_rng
        rate_per_step = (
            self.options.incidents_per_hour * self._demand_factor(t0) * STEP_MS / 3_600_000
        )
        count = int(rng.poisson(rate_per_step))
        for point in self._demand_points(count):
            self.incident_count += 1
            incident = _Incident(
                incident_id=f"INC-{self.ts(t0)[:10].replace('-', '')}-{self.incident_count:05d}",
                category=INCIDENT_CATEGORIES[int(rng.integers(len(INCIDENT_CATEGORIES)))],
                grade=GRADES[int(rng.choice(len(GRADES), p=GRADE_SHARES))],
                x=float(point[0]),
                y=float(point[1]),
            )
            self.incidents[incident.incident_id] = incident
            opened_ms = t0 + int(rng.integers(STEP_MS))
            self._incident_event(incident, "opened", opened_ms, grade=False)
            self._schedule(
                opened_ms + int(rng.integers(30_000, 240_000)), "grade", incident.incident_id
            )

    def _schedule(self, at_ms: int, action: str, incident_id: str) -> None:
        """Run ``action`` on the incident at ``at_ms``."""
        self.sequence += 1
        heapq.heappush(self.actions, (at_ms, self.sequence, action, incident_id))

    def _run_incident_actions(self, t0: int) -> None:
        """Grade, assign, and close incidents whose time has come."""
        rng = self.world_rng
        while self.actions and self.actions[0][0] < t0 + STEP_MS:
            at_ms, _, action, incident_id = heapq.heappop(self.actions)
            incident = self.incidents[incident_id]
            if action == "grade":
                self._incident_event(incident, "graded", at_ms)
                if incident.grade == "resolution":
                    self._schedule(
                        at_ms + int(rng.integers(900_000, 5_400_000)), "close", incident_id
                    )
                elif incident.grade == "scheduled":
                    self._schedule(
                        at_ms + int(rng.integers(1_200_000, 7_200_000)), "assign", incident_id
                    )
                else:
                    self._schedule(at_ms + int(rng.integers(10_000, 90_000)), "assign", incident_id)
            elif action == "assign":
                self._assign(incident, at_ms)
            else:
                self._close(incident, at_ms)

    def _assign(self, incident: _Incident, at_ms: int) -> None:
        """Send the nearest free vehicles (two for immediate); retry in a minute if none."""
        free = np.flatnonzero(self.on_duty & self.is_vehicle & (self.activity == PATROL))
        if free.size == 0:
            self._schedule(at_ms + 60_000, "assign", incident.incident_id)
            return
        distance = np.hypot(self.x[free] - incident.x, self.y[free] - incident.y)
        wanted = 2 if incident.grade == "immediate" else 1
        units = free[np.argsort(distance, kind="stable")[:wanted]].tolist()
        low, high = DISPATCH_SPEED_MPS[incident.grade]
        for officer in units:
            self.activity[officer] = TO_INCIDENT
            self.incident_of[officer] = incident.incident_id
            self.needs_leg[officer] = False
            self.hold_until_ms[officer] = 0
            self.target_x[officer], self.target_y[officer] = incident.x, incident.y
            self.speed[officer] = self.world_rng.uniform(low, high)
        incident.units = units
        self._incident_event(incident, "assigned", at_ms, units=units)

    def _arrive_at_incident(self, officer: int, at_ms: int) -> None:
        """A unit reached its incident: it stays; the first arrival starts the scene clock."""
        incident = self.incidents[str(self.incident_of[officer])]
        self.activity[officer] = AT_INCIDENT
        self.hold_until_ms[officer] = np.iinfo(np.int64).max
        self._incident_event(incident, "arrived", at_ms, units=[officer])
        if not incident.arrived:
            incident.arrived = True
            minutes = {"immediate": (30, 90), "priority": (20, 60), "scheduled": (20, 45)}[
                incident.grade
            ]
            scene_ms = int(self.world_rng.integers(minutes[0] * 60_000, minutes[1] * 60_000))
            self._schedule(at_ms + scene_ms, "close", incident.incident_id)

    def _close(self, incident: _Incident, at_ms: int) -> None:
        """Release the units, close the incident, and maybe record a linked crime."""
        for officer in incident.units:
            self.activity[officer] = PATROL
            self.incident_of[officer] = None
            self.hold_until_ms[officer] = at_ms
            self.needs_leg[officer] = True
        self._incident_event(incident, "closed", at_ms, units=incident.units)
        del self.incidents[incident.incident_id]
        crime = CRIME_OF_INCIDENT.get(incident.category)
        if crime is not None and self.world_rng.random() < 0.5:
            recorded_ms = at_ms + int(self.world_rng.integers(60_000, 1_200_000))
            self._crime(recorded_ms, crime, incident.x, incident.y, incident.incident_id)

    def _incident_event(
        self,
        incident: _Incident,
        event: str,
        at_ms: int,
        *,
        grade: bool = True,
        units: Sequence[int] = (),
    ) -> None:
        """One ``cad.incidents`` lifecycle message."""
        lon, lat = self._lonlat(incident.x, incident.y)
        value: dict[str, object] = {
            "schema": "cad.incidents/1",
            "incident_id": incident.incident_id,
            "event": event,
            "ts": self.ts(at_ms),
            "category": incident.category,
            "lat": lat,
            "lon": lon,
        }
        if grade:
            value["grade"] = incident.grade
        if units:
            value["callsigns"] = [self.callsign[officer] for officer in units]
        self.emit(at_ms, "cad.incidents", incident.incident_id, value)

    def _record_background_crimes(self, t0: int) -> None:
        """Crimes reported without a CAD incident, following the demand curve and places."""
        rate_per_step = self.options.crimes_per_hour * self._demand_factor(t0) * STEP_MS / 3_600_000
        for point in self._demand_points(int(self.world_rng.poisson(rate_per_step))):
            category = CRIME_CATEGORIES[int(self.world_rng.integers(len(CRIME_CATEGORIES)))]
            self._crime(
                t0 + int(self.world_rng.integers(STEP_MS)),
                category,
                float(point[0]),
                float(point[1]),
                None,
            )

    def _crime(
        self, at_ms: int, category: str, x: float, y: float, incident_id: str | None
    ) -> None:
        """One ``crimes.recorded`` message."""
        self.crime_count += 1
        lon, lat = self._lonlat(x, y)
        value: dict[str, object] = {
            "schema": "crimes.recorded/1",
            "crime_id": f"CRM-{self.crime_count:06d}",
            "ts": self.ts(at_ms),
            "lat": lat,
            "lon": lon,
            "category": category,
        }
        if incident_id is not None:
            value["incident_id"] = incident_id
        self.emit(at_ms, "crimes.recorded", str(value["crime_id"]), value)

    def _stop_and_search(self, t0: int) -> None:
        """Officers on patrol stop and search someone where they are, then stay 10-20 min."""
        rng = self.world_rng
        patrolling = np.flatnonzero(self.on_duty & (self.activity == PATROL))
        rate = (
            self.options.stop_search_rate_per_officer_hour
            * patrolling.size
            * self._demand_factor(t0)
        )
        count = min(int(rng.poisson(rate * STEP_MS / 3_600_000)), patrolling.size)
        for officer in rng.choice(patrolling, size=count, replace=False).tolist():
            self.search_count += 1
            at_ms = t0 + int(rng.integers(STEP_MS))
            lon, lat = self._lonlat(float(self.x[officer]), float(self.y[officer]))
            search_id = f"SS-{self.search_count:06d}"
            value = {
                "schema": "stopsearch.events/1",
                "id": search_id,
                "ts": self.ts(at_ms),
                "lat": lat,
                "lon": lon,
                "object_of_search": SEARCH_OBJECTS[
                    int(rng.choice(len(SEARCH_OBJECTS), p=SEARCH_OBJECT_SHARES))
                ],
                "outcome": SEARCH_OUTCOMES[
                    int(rng.choice(len(SEARCH_OUTCOMES), p=SEARCH_OUTCOME_SHARES))
                ],
                "callsign": self.callsign[officer],
            }
            self.emit(at_ms, "stopsearch.events", search_id, value)
            stay_ms = at_ms + int(rng.integers(600_000, 1_200_000))
            self.hold_until_ms[officer] = max(int(self.hold_until_ms[officer]), stay_ms)

    def _lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Local metres as lon/lat rounded to 6 decimals."""
        lon, lat = self.places.projection.to_lonlat(np.array([x]), np.array([y]))
        return round(float(lon[0]), 6), round(float(lat[0]), 6)


# ---- helpers ---------------------------------------------------------------------------------


def _spell_start_probability(
    rate: float, mean_spell_ms: float, mean_interval_ms: FloatArray
) -> FloatArray:
    """Per-fix chance to start a spell so that spells cover ``rate`` of fixes in the long run."""
    spell_fixes = mean_spell_ms / mean_interval_ms
    probability: FloatArray = rate / (rate + spell_fixes * (1.0 - rate))
    return probability


def _malformed(raw: bytes, variant: int) -> bytes:
    """Bytes that are not a JSON object: truncated, garbage, an array, or trailing junk."""
    if variant == 0:
        return raw[: max(1, len(raw) // 2)]
    if variant == 1:
        return MALFORMED_GARBAGE
    if variant == 2:
        return b"[" + raw + b"]"
    return raw + b"}}"


def _nearest(candidates: FloatArray, points: FloatArray) -> IntArray:
    """Index of the nearest candidate to each point."""
    distance = np.hypot(
        points[:, None, 0] - candidates[None, :, 0], points[:, None, 1] - candidates[None, :, 1]
    )
    nearest: IntArray = np.argmin(distance, axis=1).astype(np.int64)
    return nearest


def _disc_points(rng: np.random.Generator, centres: FloatArray, radius_m: float) -> FloatArray:
    """One uniform random point within ``radius_m`` of each centre."""
    radius = radius_m * np.sqrt(rng.random(len(centres)))
    angle = rng.random(len(centres)) * 2.0 * math.pi
    points: FloatArray = centres + np.column_stack((radius * np.cos(angle), radius * np.sin(angle)))
    return points


def _area_points(
    rng: np.random.Generator,
    places: _Places,
    targets: Sequence[int],
    chosen: BoolArray,
    points: FloatArray,
) -> BoolArray:
    """Replace ``points[chosen]`` with random points in random ``targets``; return where done."""
    if not targets:
        return np.zeros_like(chosen)
    for row in np.flatnonzero(chosen).tolist():
        pool = places.area_pools[targets[int(rng.integers(len(targets)))]]
        points[row] = pool[int(rng.integers(len(pool)))]
    return chosen


def _sample_inside(
    rng: np.random.Generator, shape: Polygon | MultiPolygon, count: int
) -> FloatArray:
    """``count`` uniform random points inside a local-metre shape (rejection sampling)."""
    min_x, min_y, max_x, max_y = shape.bounds
    found: list[FloatArray] = []
    total = 0
    while total < count:
        candidates = np.column_stack(
            (rng.uniform(min_x, max_x, 4 * count), rng.uniform(min_y, max_y, 4 * count))
        )
        inside = candidates[shapely.contains_xy(shape, candidates[:, 0], candidates[:, 1])]
        found.append(inside)
        total += len(inside)
    points: FloatArray = np.concatenate(found)[:count]
    return points


def _patrol_region(areas: Sequence[AreaDefinition]) -> Polygon | MultiPolygon:
    """The force area: the largest ``other`` area, else 2 km around all areas' hull."""
    others = [area.geometry for area in areas if area.kind == "other"]
    if others:
        return max(others, key=lambda shape: shape.area)
    hull = shapely.convex_hull(shapely.union_all([area.geometry for area in areas]))
    projection = LocalProjection(hull.centroid.x, hull.centroid.y)
    buffered = (
        projection.geometry_to_local(hull).buffer(2000.0) if isinstance(hull, Polygon) else hull
    )
    return projection.geometry_to_lonlat(buffered)


def _build_places(
    rng: np.random.Generator, areas: Sequence[AreaDefinition], neglected: set[str]
) -> _Places:
    """Point pools per area and force-wide, beats and stations, all clear of neglected areas."""
    if not areas:
        raise ValueError("the simulation needs at least one area")
    region_lonlat = _patrol_region(areas)
    projection = LocalProjection(region_lonlat.centroid.x, region_lonlat.centroid.y)
    region = projection.geometry_to_local(region_lonlat)
    local_areas = [projection.geometry_to_local(area.geometry) for area in areas]
    area_pools = [_sample_inside(rng, shape, 256) for shape in local_areas]
    neglected_shapes = [
        shape for shape, area in zip(local_areas, areas, strict=True) if area.area_id in neglected
    ]
    avoid = shapely.union_all(neglected_shapes) if neglected_shapes else Polygon()
    pool = _sample_inside(rng, region, 8192)
    clear_by_m = (
        shapely.distance(avoid, shapely.points(pool))
        if neglected_shapes
        else np.full(len(pool), np.inf)
    )
    patrol_pool = pool[clear_by_m > 150.0]
    far_from_neglected = pool[clear_by_m > 1000.0]
    beat_centres = (far_from_neglected if len(far_from_neglected) else patrol_pool)[:512]
    return _Places(
        projection=projection,
        area_pools=area_pools,
        impact_targets=[
            i for i, a in enumerate(areas) if a.kind == "impact" and a.area_id not in neglected
        ],
        comparison_targets=[
            i for i, a in enumerate(areas) if a.kind == "comparison" and a.area_id not in neglected
        ],
        patrol_pool=patrol_pool,
        beat_centres=beat_centres,
        stations=_spread_out(patrol_pool, len(STATION_LETTERS)),
    )


def _spread_out(points: FloatArray, count: int) -> FloatArray:
    """``count`` of the inner points far from each other (greedy farthest-point choice)."""
    centre = points.mean(axis=0)
    from_centre = np.hypot(*(points - centre).T)
    points = points[from_centre <= 0.6 * from_centre.max()]
    chosen = [int(np.argmin(np.hypot(*(points - centre).T)))]
    for _ in range(count - 1):
        gaps = np.min(
            np.hypot(
                points[:, None, 0] - points[chosen, 0], points[:, None, 1] - points[chosen, 1]
            ),
            axis=1,
        )
        chosen.append(int(np.argmax(gaps)))
    spread: FloatArray = points[chosen]
    return spread
