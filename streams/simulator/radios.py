"""The Airwave radios of the simulated force: each device's ping schedule and GPS noise, the
faults it suffers (radio off, out of coverage, outliers, duplicates, stuck), and its fixes."""

from __future__ import annotations

import math

import numpy as np
import orjson

from streams.simulator.catalogue import (
    STEP_MS,
    STUCK_WITHIN_MS,
    BoolArray,
    FloatArray,
    IntArray,
)
from streams.simulator.options import SimulationOptions
from streams.simulator.outbox import Outbox
from streams.simulator.patrols import Patrols


class Radios:
    """Per-device ping schedule, noise and fault spells; draws from the ping and fault streams.

    Fixes are taken where :class:`~streams.simulator.patrols.Patrols` has the officers, and
    queued in the ``outbox``.
    """

    def __init__(
        self,
        options: SimulationOptions,
        end_ms: int,
        patrols: Patrols,
        outbox: Outbox,
        ping_rng: np.random.Generator,
        fault_rng: np.random.Generator,
    ) -> None:
        self.options = options
        force = patrols.force
        self.force, self.patrols, self.places, self.outbox = force, patrols, patrols.places, outbox
        self.ping_rng = ping_rng
        self.fault_rng = fault_rng
        n, rng, is_vehicle = options.officers, ping_rng, force.is_vehicle
        low = np.where(is_vehicle, options.vehicle_interval_s[0], options.handheld_interval_s[0])
        high = np.where(is_vehicle, options.vehicle_interval_s[1], options.handheld_interval_s[1])
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
            faults.integers(0, min(end_ms, STUCK_WITHIN_MS), size=n),
            np.iinfo(np.int64).max,
        )
        self.stuck_fix: dict[int, tuple[float, float]] = {}
        self.radio_off_until_ms = np.zeros(n, dtype=np.int64)
        self.coverage_until_ms = np.zeros(n, dtype=np.int64)
        self.next_ping_ms = np.zeros(n, dtype=np.int64)

    def switch_on_at_opening(self, devices: IntArray) -> None:
        """Devices on duty when the simulation opens: a first fix within one interval."""
        self.next_ping_ms[devices] = self.ping_rng.integers(0, self.interval_high_ms[devices] + 1)

    def switch_on(self, devices: IntArray, at_ms: int) -> None:
        """Devices booked on at ``at_ms``: a first fix within their shortest interval."""
        self.next_ping_ms[devices] = at_ms + self.ping_rng.integers(
            0, self.interval_low_ms[devices] + 1
        )

    def ping(self, t0: int, old_x: FloatArray, old_y: FloatArray) -> None:
        """Every fix due in this step (a device with a short interval may send several)."""
        while True:
            due = np.flatnonzero(self.patrols.on_duty & (self.next_ping_ms < t0 + STEP_MS))
            if due.size == 0:
                return
            self._ping_devices(due, t0, old_x, old_y)

    def _ping_devices(self, due: IntArray, t0: int, old_x: FloatArray, old_y: FloatArray) -> None:
        """The next fix of each device in ``due``, with noise and faults applied."""
        patrols, outbox = self.patrols, self.outbox
        ping_ms = np.maximum(self.next_ping_ms[due], t0)
        self.next_ping_ms[due] = ping_ms + self.ping_rng.integers(
            self.interval_low_ms[due], self.interval_high_ms[due] + 1
        )
        noise = self.ping_rng.normal(0.0, 1.0, size=(2, due.size)) * self.noise_m[due]
        draws = self.fault_rng.random((6, due.size))
        sent = ~self._radio_off(due, ping_ms, draws[3])
        deliver_ms = self._delivery_times(due, ping_ms, draws[4])
        fraction = (ping_ms - t0) / STEP_MS
        vx, vy = patrols.x[due] - old_x[due], patrols.y[due] - old_y[due]
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
        issi = self.force.issi
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
            outbox.emit(delivered_ms, "airwave.pings", issi[officer], value)
            if resend_after_ms >= 0:
                outbox.emit(delivered_ms + resend_after_ms, "airwave.pings", issi[officer], value)

    def _ping_value(
        self, officer: int, at_ms: int, lat: float, lon: float, speed: float, heading: float
    ) -> bytes:
        """The ``airwave.pings`` bytes; a stuck device repeats its first stuck fix."""
        if at_ms >= self.stuck_from_ms[officer]:
            lat, lon = self.stuck_fix.setdefault(officer, (lat, lon))
            speed = 0.0
        value: dict[str, object] = {
            "schema": "airwave.pings/1",
            "issi": self.force.issi[officer],
            "ts": self.outbox.ts(at_ms),
            "lat": lat,
            "lon": lon,
            "accuracy_m": self.accuracy_m[officer],
        }
        if self.force.is_vehicle_list[officer]:
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


def _spell_start_probability(
    rate: float, mean_spell_ms: float, mean_interval_ms: FloatArray
) -> FloatArray:
    """Per-fix chance to start a spell so that spells cover ``rate`` of fixes in the long run."""
    spell_fixes = mean_spell_ms / mean_interval_ms
    probability: FloatArray = rate / (rate + spell_fixes * (1.0 - rate))
    return probability
