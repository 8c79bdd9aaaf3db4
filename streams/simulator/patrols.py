"""Where each officer of the simulated force is, where they are heading and what they are doing:
patrol legs on foot and in vehicles, directed patrols, and one step of movement at a time."""

from __future__ import annotations

import numpy as np

from streams.simulator.catalogue import (
    FOOT_SPEED_MPS,
    NEIGHBOURHOOD,
    PATROL,
    PATROL_SPEED_MPS,
    ROADS,
    STEP_MS,
    FloatArray,
    IntArray,
)
from streams.simulator.force import Force
from streams.simulator.places import Places, area_points


class Patrols:
    """The moving state of every officer (one entry per officer), changed by the world's steps.

    ``activity`` is :data:`~streams.simulator.catalogue.PATROL`, ``TO_INCIDENT`` or
    ``AT_INCIDENT``; ``hold_until_ms`` keeps an officer where they are (dwelling after a leg,
    searching someone, at an incident); ``needs_leg`` marks an officer about to choose the next
    destination. ``directed_targets`` (area indices) and ``directed_patrol_share`` say where and
    how often vehicle legs are directed patrols: Impact Areas at the options' share, unless the
    world re-directs them (:meth:`direct`) for a planted effect.
    """

    def __init__(
        self,
        force: Force,
        places: Places,
        rng: np.random.Generator,
        directed_patrol_share: float,
    ) -> None:
        self.force = force
        self.places = places
        self.rng = rng
        self.directed_patrol_share = directed_patrol_share
        self.directed_targets = places.impact_targets
        n = force.officers
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

    def place(self, officers: IntArray, points: FloatArray) -> None:
        """Put officers at points, standing still, about to choose a leg."""
        self.x[officers] = points[:, 0]
        self.y[officers] = points[:, 1]
        self.target_x[officers] = points[:, 0]
        self.target_y[officers] = points[:, 1]
        self.needs_leg[officers] = True
        self.hold_until_ms[officers] = 0
        self.activity[officers] = PATROL

    def direct(self, targets: list[int], share: float) -> None:
        """From now on, directed patrols go to ``targets`` on ``share`` of vehicle legs."""
        self.directed_targets = targets
        self.directed_patrol_share = share

    def start_legs(self, t0: int) -> None:
        """Choose the next destination, speed and dwell for officers ready to move on."""
        ready = np.flatnonzero(self.on_duty & self.needs_leg & (self.hold_until_ms <= t0))
        if ready.size == 0:
            return
        rng = self.rng
        is_vehicle = self.force.is_vehicle
        vehicles = ready[is_vehicle[ready]]
        walkers = ready[~is_vehicle[ready]]
        self._walk_legs(rng, walkers)
        if vehicles.size:
            self._drive_legs(rng, vehicles)
        self.needs_leg[ready] = False

    def _drive_legs(self, rng: np.random.Generator, vehicles: IntArray) -> None:
        """Vehicle legs across the force area; some are directed patrols that park in a directed
        target, an Impact Area (roads officers a third as often), a few brief stops in comparison
        areas."""
        places = self.places
        share = np.where(
            self.force.role[vehicles] == ROADS,
            self.directed_patrol_share / 3,
            self.directed_patrol_share,
        )
        draw = rng.random(vehicles.size)
        points = places.patrol_pool[rng.integers(len(places.patrol_pool), size=vehicles.size)]
        dwell = rng.uniform(0.0, 180.0, size=vehicles.size)
        directed = area_points(rng, places, self.directed_targets, draw < share, points)
        dwell = np.where(directed, rng.uniform(480.0, 1200.0, size=vehicles.size), dwell)
        brief = area_points(
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

    def _walk_legs(self, rng: np.random.Generator, walkers: IntArray) -> None:
        """Foot legs inside the home area or beat; partnership and IOM officers stay longer."""
        if walkers.size == 0:
            return
        points = self.force.home_points(walkers)
        self.target_x[walkers], self.target_y[walkers] = points[:, 0], points[:, 1]
        self.speed[walkers] = rng.uniform(*FOOT_SPEED_MPS, size=walkers.size)
        visiting = self.force.role[walkers] != NEIGHBOURHOOD
        self.dwell_s[walkers] = np.where(
            visiting,
            rng.uniform(600.0, 2400.0, size=walkers.size),
            rng.uniform(0.0, 360.0, size=walkers.size),
        )

    def move(self, t0: int) -> list[tuple[int, int]]:
        """Move every free-to-move officer one step toward its destination. Officers on patrol
        who arrive dwell, then need a leg; returns ``(officer, at_ms)`` of each officer who
        reached an incident, in officer order."""
        moving = np.flatnonzero(self.on_duty & ~self.needs_leg & (self.hold_until_ms <= t0))
        if moving.size == 0:
            return []
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
        return list(zip(arrivals[~patrol].tolist(), arrival_ms[~patrol].tolist(), strict=True))
