"""The demand of the simulated force: CAD incidents and their dispatch, recorded crimes and
stop-searches (``cad.incidents``, ``crimes.recorded``, ``stopsearch.events``).

Incidents arrive as a Poisson process, more in the evening and in Impact Areas, with a UK grade
mix. Immediate and priority incidents are assigned to the nearest free vehicles (two for
immediate), which drive there, stay, and clear; the incident then closes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streams.simulator.catalogue import (
    AT_INCIDENT,
    CALL_OF_CRIME,
    CRIME_CATEGORIES,
    CRIME_OF_INCIDENT,
    DISPATCH_SPEED_MPS,
    GRADE_SHARES,
    GRADES,
    INCIDENT_CATEGORIES,
    PATROL,
    SEARCH_OBJECT_SHARES,
    SEARCH_OBJECTS,
    SEARCH_OUTCOME_SHARES,
    SEARCH_OUTCOMES,
    STEP_MS,
    TO_INCIDENT,
    FloatArray,
)
from streams.simulator.options import SimulationOptions
from streams.simulator.outbox import Outbox
from streams.simulator.patrols import Patrols
from streams.simulator.places import area_points


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
    crime_recorded: bool = False
    """Opened for a crime already recorded (a call about it): closing it records no crime."""


class DemandGenerator:
    """Incidents in progress and the actions scheduled on them; draws from the world's stream
    (``rng``) and moves the officers it dispatches (``patrols``)."""

    def __init__(
        self,
        options: SimulationOptions,
        rng: np.random.Generator,
        patrols: Patrols,
        outbox: Outbox,
    ) -> None:
        self.options = options
        self.world_rng = rng
        self.patrols = patrols
        self.places = patrols.places
        self.callsign = patrols.force.callsign
        self.is_vehicle = patrols.force.is_vehicle
        self.outbox = outbox
        self.incidents: dict[str, _Incident] = {}
        self.actions: list[tuple[int, int, str, str]] = []
        self.incident_count = 0
        self.crime_count = 0
        self.search_count = 0

    def demand_factor(self, t0: int) -> float:
        """Time-of-day demand relative to the mean: 0.4 at 08:00 UTC up to 1.6 at 20:00."""
        hour = (self.outbox.start_ms + t0) / 3_600_000.0 % 24.0
        return 1.0 + 0.6 * math.cos(2.0 * math.pi * (hour - 20.0) / 24.0)

    def _demand_points(self, count: int) -> FloatArray:
        """Where demand happens: 18% in Impact Areas, 12% in comparison areas, the rest anywhere."""
        rng, places = self.world_rng, self.places
        if count == 0:  # most steps; an empty draw takes nothing from the stream
            return np.empty((0, 2))
        points = places.patrol_pool[rng.integers(len(places.patrol_pool), size=count)]
        draw = rng.random(count)
        area_points(rng, places, places.impact_targets, draw < 0.18, points)
        area_points(rng, places, places.comparison_targets, (draw >= 0.18) & (draw < 0.30), points)
        return points

    def open_incidents(self, t0: int) -> None:
        """New CAD incidents this step: opened now, graded 30 s to 4 min later."""
        rng = self.world_rng
        rate_per_step = (
            self.options.incidents_per_hour * self.demand_factor(t0) * STEP_MS / 3_600_000
        )
        count = int(rng.poisson(rate_per_step))
        for point in self._demand_points(count):
            category = INCIDENT_CATEGORIES[int(rng.integers(len(INCIDENT_CATEGORIES)))]
            grade = GRADES[int(rng.choice(len(GRADES), p=GRADE_SHARES))]
            opened_ms = t0 + int(rng.integers(STEP_MS))
            self._open_incident(
                category, grade, float(point[0]), float(point[1]), opened_ms, rng, crime=False
            )

    def _open_incident(
        self,
        category: str,
        grade: str,
        x: float,
        y: float,
        opened_ms: int,
        rng: np.random.Generator,
        *,
        crime: bool,
    ) -> str:
        """Open one incident at ``opened_ms``, graded 30 s to 4 min later (drawn from ``rng``);
        ``crime``: its crime is already recorded, so closing it records none. Returns its id,
        which carries the date of the step it opens in."""
        self.incident_count += 1
        day = self.outbox.ts(opened_ms - opened_ms % STEP_MS)[:10].replace("-", "")
        incident = _Incident(
            incident_id=f"INC-{day}-{self.incident_count:05d}",
            category=category,
            grade=grade,
            x=x,
            y=y,
            crime_recorded=crime,
        )
        self.incidents[incident.incident_id] = incident
        self._incident_event(incident, "opened", opened_ms, grade=False)
        self._schedule(
            opened_ms + int(rng.integers(30_000, 240_000)), "grade", incident.incident_id
        )
        return incident.incident_id

    def report_crime(
        self, at_ms: int, category: str, x: float, y: float, rng: np.random.Generator
    ) -> None:
        """A crime at ``at_ms``, reported by a call (a CAD incident opened with it) at the
        options' ``crime_call_share``; every draw from ``rng``."""
        incident_id = None
        if rng.random() < self.options.crime_call_share:
            grade = GRADES[int(rng.choice(len(GRADES), p=GRADE_SHARES))]
            incident_id = self._open_incident(
                CALL_OF_CRIME[category], grade, x, y, at_ms, rng, crime=True
            )
        self._crime(at_ms, category, x, y, incident_id)

    def _schedule(self, at_ms: int, action: str, incident_id: str) -> None:
        """Run ``action`` on the incident at ``at_ms``."""
        heapq.heappush(self.actions, (at_ms, self.outbox.next_sequence(), action, incident_id))

    def run_incident_actions(self, t0: int) -> None:
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
        patrols = self.patrols
        free = np.flatnonzero(patrols.on_duty & self.is_vehicle & (patrols.activity == PATROL))
        if free.size == 0:
            self._schedule(at_ms + 60_000, "assign", incident.incident_id)
            return
        distance = np.hypot(patrols.x[free] - incident.x, patrols.y[free] - incident.y)
        wanted = 2 if incident.grade == "immediate" else 1
        units = free[np.argsort(distance, kind="stable")[:wanted]].tolist()
        low, high = DISPATCH_SPEED_MPS[incident.grade]
        for officer in units:
            patrols.activity[officer] = TO_INCIDENT
            patrols.incident_of[officer] = incident.incident_id
            patrols.needs_leg[officer] = False
            patrols.hold_until_ms[officer] = 0
            patrols.target_x[officer], patrols.target_y[officer] = incident.x, incident.y
            patrols.speed[officer] = self.world_rng.uniform(low, high)
        incident.units = units
        self._incident_event(incident, "assigned", at_ms, units=units)

    def arrive_at_incident(self, officer: int, at_ms: int) -> None:
        """A unit reached its incident: it stays; the first arrival starts the scene clock."""
        patrols = self.patrols
        incident = self.incidents[str(patrols.incident_of[officer])]
        patrols.activity[officer] = AT_INCIDENT
        patrols.hold_until_ms[officer] = np.iinfo(np.int64).max
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
        patrols = self.patrols
        for officer in incident.units:
            patrols.activity[officer] = PATROL
            patrols.incident_of[officer] = None
            patrols.hold_until_ms[officer] = at_ms
            patrols.needs_leg[officer] = True
        self._incident_event(incident, "closed", at_ms, units=incident.units)
        del self.incidents[incident.incident_id]
        crime = None if incident.crime_recorded else CRIME_OF_INCIDENT.get(incident.category)
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
        lon, lat = self.places.lonlat(incident.x, incident.y)
        value: dict[str, object] = {
            "schema": "cad.incidents/1",
            "incident_id": incident.incident_id,
            "event": event,
            "ts": self.outbox.ts(at_ms),
            "category": incident.category,
            "lat": lat,
            "lon": lon,
        }
        if grade:
            value["grade"] = incident.grade
        if units:
            value["callsigns"] = [self.callsign[officer] for officer in units]
        self.outbox.emit(at_ms, "cad.incidents", incident.incident_id, value)

    def record_background_crimes(self, t0: int) -> None:
        """Crimes reported without a CAD incident, following the demand curve and places."""
        rate_per_step = self.options.crimes_per_hour * self.demand_factor(t0) * STEP_MS / 3_600_000
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
        lon, lat = self.places.lonlat(x, y)
        value: dict[str, object] = {
            "schema": "crimes.recorded/1",
            "crime_id": f"CRM-{self.crime_count:06d}",
            "ts": self.outbox.ts(at_ms),
            "lat": lat,
            "lon": lon,
            "category": category,
        }
        if incident_id is not None:
            value["incident_id"] = incident_id
        self.outbox.emit(at_ms, "crimes.recorded", str(value["crime_id"]), value)

    def stop_and_search(self, t0: int) -> None:
        """Officers on patrol stop and search someone where they are, then stay 10-20 min."""
        rng, patrols = self.world_rng, self.patrols
        patrolling = np.flatnonzero(patrols.on_duty & (patrols.activity == PATROL))
        rate = (
            self.options.stop_search_rate_per_officer_hour
            * patrolling.size
            * self.demand_factor(t0)
        )
        count = min(int(rng.poisson(rate * STEP_MS / 3_600_000)), patrolling.size)
        if count == 0:  # most steps; an empty draw takes nothing from the stream
            return
        for officer in rng.choice(patrolling, size=count, replace=False).tolist():
            self.search_count += 1
            at_ms = t0 + int(rng.integers(STEP_MS))
            lon, lat = self.places.lonlat(float(patrols.x[officer]), float(patrols.y[officer]))
            search_id = f"SS-{self.search_count:06d}"
            value = {
                "schema": "stopsearch.events/1",
                "id": search_id,
                "ts": self.outbox.ts(at_ms),
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
            self.outbox.emit(at_ms, "stopsearch.events", search_id, value)
            stay_ms = at_ms + int(rng.integers(600_000, 1_200_000))
            patrols.hold_until_ms[officer] = max(int(patrols.hold_until_ms[officer]), stay_ms)
