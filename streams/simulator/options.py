"""What shapes a simulation (:class:`SimulationOptions`) and what it yields (:class:`Record`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


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
    area_crimes_per_day: float | None = None
    """Mean crimes per day in each Impact and comparison area (an extra Poisson process on the
    daily curve, at points inside the area); None: no such process, and no planted effect."""
    ring_crimes_per_day: float | None = None
    """Mean crimes per day in each area's displacement ring; None means ``area_crimes_per_day``."""
    crime_call_share: float = 0.1
    """Share of those crimes reported by a call: a CAD incident opened with the crime (each
    dispatch takes vehicles off patrol: a high share with a small force leaves none for
    directed patrols)."""
    effect_from_day: int | None = None
    """The planted effect applies from this day (1 = the first 24 h from ``start``) on; the days
    before are the baseline. None: no effect period (patrols as without any effect)."""
    deterrence_share: float = 0.0
    """From ``effect_from_day``: share of an Impact Area's crime hazard removed while an officer
    has been inside it for the qualifying time, and for ``deterrence_s`` after they leave."""
    deterrence_s: float = 3600.0
    """How long the deterrence of a qualifying visit lasts after the visit ends."""
    displacement_share: float = 0.0
    """Share of the prevented crimes moved into the area's displacement ring (same time)."""
    effect_directed_patrol_share: float = 0.6
    """From ``effect_from_day``: share of vehicle legs that are directed patrols, all to Impact
    Areas; before it, directed patrols (at ``directed_patrol_share``) go to Impact and
    comparison areas alike."""

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
        "effect_directed_patrol_share",
    ):  # fmt: skip
        if not 0.0 <= getattr(options, name) < 1.0:
            problems.append(f"{name} must be in [0, 1)")
    return problems + _effect_problems(options)


def _effect_problems(options: SimulationOptions) -> list[str]:
    """Every reason the area crime process or the planted effect is unusable."""
    problems: list[str] = []
    for name in ("area_crimes_per_day", "ring_crimes_per_day"):
        rate = getattr(options, name)
        if rate is not None and not 0.0 <= rate < 1e6:
            problems.append(f"{name} must be None or a rate >= 0")
    for name in ("crime_call_share", "deterrence_share", "displacement_share"):
        if not 0.0 <= getattr(options, name) <= 1.0:
            problems.append(f"{name} must be in [0, 1]")
    if options.deterrence_s < 0:
        problems.append("deterrence_s must be >= 0")
    if options.effect_from_day is not None and options.effect_from_day < 1:
        problems.append("effect_from_day must be None or a day number >= 1")
    planted = options.deterrence_share > 0 or options.displacement_share > 0
    if planted and (options.effect_from_day is None or options.area_crimes_per_day is None):
        problems.append("a planted effect needs effect_from_day and area_crimes_per_day")
    return problems
