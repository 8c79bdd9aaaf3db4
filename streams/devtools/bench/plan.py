"""The sizes of one bench run: the quick plan and the full one, and which steps run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run (``--quick`` is the small one)."""

    quick: bool
    base_radios: int
    base_pings: int
    replay_interval_s: float
    area_counts: tuple[int, ...]
    area_pings: int
    radio_pings: dict[int, int]
    latency_radios: int
    latency_rates: tuple[int, ...]
    latency_seconds: float
    latency_warmup_s: float
    alert_speed: float
    alert_timeout_s: float
    consume_timeout_s: float
    max_window_s: float
    area_window_s: float
    radio_window_s: float
    """The longest window of a replay with more radios: its first round (every radio's first
    fix) is its warm-up, left out of the measurement."""
    warmup_s: float
    soak_minutes: float
    soak_radios: int = 10_000
    """Radios of the soak's fleet (``--soak-radios``)."""
    soak_rate: int = 2700
    """Pings a second the soak sends (``--soak-rate``)."""
    only: tuple[str, ...] = ()
    """The steps to run (all when empty)."""
    presence_processes: int = 2
    """``COVERWATCH_PRESENCE_PROCESSES`` of the measured workers: one per core of this 2-core
    machine (the event loop, Redis and the broker use about 0.25 of a core between them)."""

    @classmethod
    def make(cls, quick: bool) -> Plan:
        """The quick or the full plan."""
        return cls(
            quick=quick,
            base_radios=1000,
            base_pings=60_000 if quick else 200_000,
            replay_interval_s=10.0,
            area_counts=(40, 1000, 10_000),
            area_pings=30_000 if quick else 150_000,
            radio_pings={1000: 0, 10_000: 30_000, 100_000: 250_000}
            if quick
            else {1000: 0, 10_000: 150_000, 100_000: 500_000},
            latency_radios=10_000,
            latency_rates=(1000, 5000, 20000),
            latency_seconds=6.0 if quick else 20.0,
            latency_warmup_s=2.0 if quick else 5.0,
            alert_speed=6.0,
            alert_timeout_s=10.0 if quick else 20.0,
            consume_timeout_s=120.0 if quick else 300.0,
            max_window_s=15.0 if quick else 45.0,
            area_window_s=25.0 if quick else 60.0,
            radio_window_s=40.0 if quick else 90.0,
            warmup_s=3.0 if quick else 5.0,
            soak_minutes=4.0 if quick else 24.0,
        )

    def runs(self, step: str) -> bool:
        """Whether this run includes ``step`` (``--only``; a soak of 0 minutes is skipped)."""
        if step == "soak" and self.soak_minutes <= 0:
            return False
        return not self.only or step in self.only
