"""The health of a radio at an instant: ``live``, ``stale``, ``stuck`` or ``off_duty``.

Pure: the instant ``now`` is an argument. In order of precedence:

- ``off_duty``: the roster says the radio's officer is off duty (what the radio does then
  counts for nothing anyway);
- ``stale``: no fix for longer than ``max_gap_s`` at ``now`` (or none at all): its presence
  has lapsed;
- ``stuck``: fixes keep arriving but the position is frozen (the track judged it so: see
  :mod:`~streams.domain.tracks.machine`), so the radio covers nothing;
- ``live``: otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias

from streams.domain.tracks.model import Policy, Track

Health: TypeAlias = Literal["live", "stale", "stuck", "off_duty"]
HEALTH_STATES: Final[tuple[Health, ...]] = ("live", "stale", "stuck", "off_duty")
"""Every health state (the bounded label values of the radios-by-health metric)."""


def radio_health(
    *, on_duty: bool, last_fix_ts: float | None, stuck: bool, now: float, max_gap_s: float
) -> Health:
    """The health of a radio whose latest accepted fix is at ``last_fix_ts`` (None: none yet),
    ``stuck`` as its track judged it after that fix."""
    if not on_duty:
        return "off_duty"
    if last_fix_ts is None or now - last_fix_ts > max_gap_s:
        return "stale"
    if stuck:
        return "stuck"
    return "live"


def track_health(track: Track, *, on_duty: bool, now: float, policy: Policy) -> Health:
    """The health of the radio of ``track`` at ``now``."""
    state = track.state
    last_fix = state.last_fix
    return radio_health(
        on_duty=on_duty,
        last_fix_ts=None if last_fix is None else last_fix.ts,
        stuck=state.stuck,
        now=now,
        max_gap_s=policy.max_gap_s,
    )


def shown_health(shown: Mapping[str, Any], *, now: float, max_gap_s: float) -> Health:
    """The health of a radio from what is kept of its latest accepted fix (``ts``, ``on_duty``
    and ``stuck``, as the presence engine stores it for the API)."""
    return radio_health(
        on_duty=bool(shown.get("on_duty")),
        last_fix_ts=float(shown["ts"]),
        stuck=bool(shown.get("stuck")),
        now=now,
        max_gap_s=max_gap_s,
    )


def count_by_health(
    shown: Iterable[Mapping[str, Any]], *, now: float, max_gap_s: float
) -> dict[Health, int]:
    """How many radios are in each health state (every state present, zero or not)."""
    counts: dict[Health, int] = dict.fromkeys(HEALTH_STATES, 0)
    for one in shown:
        counts[shown_health(one, now=now, max_gap_s=max_gap_s)] += 1
    return counts
