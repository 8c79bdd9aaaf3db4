"""Who the officers of the simulated force are: role, device, station, callsign, unit, collar
number, ISSI, shift and home patch, fixed for the whole run (one entry per officer)."""

from __future__ import annotations

import numpy as np

from streams.simulator.catalogue import (
    DAY_S,
    NEIGHBOURHOOD,
    RESPONSE,
    ROADS,
    ROLE_SHARES,
    ROLES,
    STATION_LETTERS,
    UNIT_LABELS,
    BoolArray,
    FloatArray,
    IntArray,
)
from streams.simulator.places import Places, disc_points, nearest


class Force:
    """The roster of the simulated force, drawn from ``rng`` (the world's stream), which it keeps
    to pick points in officers' patches (:meth:`home_points`)."""

    def __init__(self, officers: int, rng: np.random.Generator, places: Places) -> None:
        self.officers = officers
        self.rng = rng
        self.places = places
        n = officers
        self.role = rng.choice(len(ROLES), size=n, p=ROLE_SHARES)
        self.is_vehicle = (self.role == RESPONSE) | (self.role == ROADS)
        self.is_vehicle_list: list[bool] = self.is_vehicle.tolist()
        self.issi = [str(value) for value in 2_300_000 + rng.choice(10 * n, size=n, replace=False)]
        self.officer_id = [str(value) for value in 1000 + rng.choice(10 * n, size=n, replace=False)]
        self.home_area = np.full(n, -1, dtype=np.int64)
        self.beat = places.beat_centres[rng.integers(len(places.beat_centres), size=n)]
        self._assign_homes(rng)
        home_points = self.home_points(np.arange(n))
        station_of = nearest(places.stations, home_points)
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
        n = self.officers
        starts = np.where(
            self.is_vehicle,
            vehicle_starts[rng.integers(3, size=n)],
            foot_starts[rng.integers(2, size=n)],
        )
        jitter: FloatArray = starts + rng.uniform(-1200.0, 1200.0, size=n)
        return jitter

    def home_points(self, officers: IntArray) -> FloatArray:
        """A random point in each officer's patch: home area, beat, or the force area (vehicles)."""
        rng, places = self.rng, self.places
        points = disc_points(rng, self.beat[officers], 800.0)
        for row, officer in enumerate(officers.tolist()):
            if self.is_vehicle[officer]:
                points[row] = places.patrol_pool[int(rng.integers(len(places.patrol_pool)))]
            elif self.home_area[officer] >= 0:
                pool = places.area_pools[int(self.home_area[officer])]
                points[row] = pool[int(rng.integers(len(pool)))]
        return points

    def on_shift(self, epoch_ms: int) -> BoolArray:
        """Which officers' shifts cover ``epoch_ms`` (milliseconds since the Unix epoch)."""
        second_of_day = epoch_ms / 1000.0 % DAY_S
        into_shift = (second_of_day - self.shift_start_s) % DAY_S
        covered: BoolArray = into_shift < self.shift_length_s
        return covered

    def seconds_to_shift_change(self, epoch_ms: int) -> float:
        """Seconds from ``epoch_ms`` until the next start or end of any officer's shift."""
        second_of_day = epoch_ms / 1000.0 % DAY_S
        into_shift = (second_of_day - self.shift_start_s) % DAY_S
        until = np.where(
            into_shift < self.shift_length_s, self.shift_length_s - into_shift, DAY_S - into_shift
        )
        return float(until.min())

    def roster_value(self, officer: int, on_duty: bool, ts: str) -> dict[str, object]:
        """The ``resources.roster`` value of one officer, on or off duty as of ``ts``."""
        return {
            "schema": "resources.roster/1",
            "issi": self.issi[officer],
            "officer_id": self.officer_id[officer],
            "callsign": self.callsign[officer],
            "unit": self.unit[officer],
            "role": ROLES[int(self.role[officer])],
            "device": "vehicle" if self.is_vehicle[officer] else "handheld",
            "on_duty": on_duty,
            "ts": ts,
        }
