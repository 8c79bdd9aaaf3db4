"""A location fix from an Airwave radio or vehicle terminal, as the domain sees it."""

from __future__ import annotations

from streams.domain.records import record


@record
class Fix:
    """One validated location fix. ``ts`` is event time in seconds since the Unix epoch (UTC)."""

    issi: str
    ts: float
    lat: float
    lon: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
