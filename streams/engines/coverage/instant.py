"""What the coverage evaluator judges with at one instant (:class:`Instant`), what it keeps of
an area's last evaluation (:class:`Evaluated`), and the feed's state at an instant."""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.coverage import (
    DEFAULT_FEED,
    CoverageInputs,
    FeedPolicy,
    feed_dead_reason,
    feed_degraded,
)
from streams.domain.feedhealth import FeedHealth
from streams.engines.coverage.reading import AreasRead, History
from streams.engines.coverage.views import AreaView


@dataclass(frozen=True, slots=True)
class Evaluated:
    """The last full evaluation of an area: what its facts looked like, when, and the view."""

    fingerprint: tuple[object, ...]
    evaluated_at: float
    evaluated_wall: float
    view: AreaView


NO_HEALTH = FeedHealth(0, 0)


@dataclass(frozen=True, slots=True)
class Instant:
    """One instant every area is judged at, with what it is judged with."""

    read: AreasRead
    now: float
    wall_now: float
    history: History
    feed_live: bool
    final: bool
    """The last instant of the evaluation: the one the views are made at."""
    health: FeedHealth = NO_HEALTH
    """The radios on duty at the instant and how many of them reported."""
    feed: str = "live"
    """What the feed was like at the instant: ``live``, ``feed_degraded`` or why it could not
    tell (:func:`feed_state`): part of every area's fingerprint."""


def feed_live(read: AreasRead, now: float, on_duty: int | None = None) -> bool:
    """Whether the radio feed is live at ``now``: officers on duty (``on_duty``, by default as
    read) and a recent fix."""
    last_fix = read.presence.feed_last_fix
    on_duty = read.on_duty if on_duty is None else on_duty
    return on_duty > 0 and last_fix is not None and now - last_fix <= DEFAULT_FEED.stale_after_s


def feed_state(
    feed_last_fix: float | None, health: FeedHealth, now: float, policy: FeedPolicy
) -> str:
    """The feed at ``now`` as the coverage rules see it: why it cannot tell at all
    (:func:`~streams.domain.coverage.feed_dead_reason`), ``feed_degraded`` or ``live``."""
    probe = CoverageInputs(None, 0, {}, feed_last_fix, health.on_duty, now, health.reporting)
    dead = feed_dead_reason(probe, now, policy)
    if dead is not None:
        return dead
    return "feed_degraded" if feed_degraded(probe, policy) else "live"
