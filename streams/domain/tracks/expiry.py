"""What the clock does to a track: settling fixes past the lateness, closing the visits of a
silent radio, forgetting visit revisions and, in the end, the radio itself.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import replace

from streams.domain.tracks.machine import LONGEST_DISTANCE_M, close_visit
from streams.domain.tracks.model import (
    Fact,
    Membership,
    Policy,
    RecentFix,
    Track,
    TrackState,
    VisitRecorded,
    entry_ts,
)


def needs_expiry(track: Track, now: float, policy: Policy) -> bool:
    """Whether :func:`expire` at ``now`` would change more than the track's watermark.

    False means ``expire`` would settle no fix, forget no revision and close no visit: the
    caller may skip the track (its watermark then simply lags, which only makes a later late fix
    of this radio less likely to be ``too_late``). Cheap, so a clock tick over many idle radios
    costs little.
    """
    horizon = max(track.watermark, now) - policy.allowed_lateness_s
    if track.recent and track.recent[0].fix.ts < horizon:
        return True
    forget_before = horizon - policy.max_gap_s
    old = [v for v, (_, touched) in track.revisions.items() if touched < forget_before]
    if old:
        held = {m.published.visit_id for m in track.state.memberships if m.published is not None}
        if any(visit_id not in held for visit_id in old):
            return True
    if track.recent:
        return False
    last_fix = track.settled.last_fix
    return (
        last_fix is not None
        and now - last_fix.ts > policy.max_gap_s
        and any(m.entered and not m.lapsed for m in track.settled.memberships)
    )


def forget_after_s(policy: Policy, max_age_s: float) -> float:
    """How long a radio must have been silent before its settled track can be forgotten
    (:func:`forgettable`) when input older than ``max_age_s`` is refused: any fix still accepted
    then comes after a gap that starts a track afresh (longer than ``max_gap_s`` and the
    lateness) and that no distance makes implausible. With the defaults, 8.4 days."""
    afresh_s = policy.max_gap_s + policy.allowed_lateness_s
    return max_age_s + max(afresh_s, LONGEST_DISTANCE_M / policy.max_speed_mps)


def forgettable(track: Track, now: float, policy: Policy, max_age_s: float) -> bool:
    """Whether a radio's track can be dropped at ``now`` (from memory and from Redis) without
    changing what any fix accepted later does: every fix is settled, its visits are closed and
    nothing is left for the clock to do (:func:`needs_expiry`), and its last fix and watermark
    are :func:`forget_after_s` old. A radio that falls silent for good (retired, swapped, or a
    bad id that passed validation once) then holds nothing."""
    if track.recent:
        return False
    last_fix = track.settled.last_fix
    return (
        last_fix is not None
        and max(last_fix.ts, track.watermark) < now - forget_after_s(policy, max_age_s)
        and not needs_expiry(track, now, policy)
    )


def clock_settles(track: Track, now: float, policy: Policy) -> bool:
    """Whether the clock at ``now`` should :func:`expire` the track: it :func:`needs_expiry` and
    its radio has sent no fix within ``allowed_lateness_s`` of ``now``.

    A radio that sent a fix more recently is left to settle with its own next fix (every
    :func:`advance` settles what has passed the lateness, and a radio that falls silent becomes
    due here once its last fix has). Expiring it on every clock tick would settle one more fix
    and rewrite its whole track about once per fix interval, and publishes nothing: visits close
    on the clock only after ``max_gap_s`` of silence. Its watermark lags by at most its fix
    interval meanwhile.
    """
    active = bool(track.recent) and track.recent[-1].fix.ts >= now - policy.allowed_lateness_s
    return not active and needs_expiry(track, now, policy)


def expire(track: Track, now: float, policy: Policy) -> tuple[Track, list[Fact]]:
    """What the clock at ``now`` settles: fixes past the lateness, and visits of a silent radio.

    Fixes older than ``now - allowed_lateness_s`` are settled (later fixes that old are then
    ``too_late``). When the radio's last fix is more than ``max_gap_s`` before ``now`` and settled,
    its open visits are published as closed at that fix and presence is withdrawn; the visits are
    marked *lapsed*, so if a late fix still continues one within ``max_gap_s`` it is republished
    as open (in order, the next fix after such a gap closes it at the same time and nothing is
    published again). With ``max_gap_s`` shorter than ``allowed_lateness_s`` the closing waits
    until the last fix is settled. ``now`` is the service's event-time clock.
    """
    watermark = max(track.watermark, now)
    settled, recent, revisions = settle_recent(
        track.settled, track.recent, track.revisions, watermark, policy
    )
    last_fix = settled.last_fix
    if (
        recent
        or last_fix is None
        or now - last_fix.ts <= policy.max_gap_s
        or not any(m.entered and not m.lapsed for m in settled.memberships)
    ):
        return Track(track.issi, settled, recent, watermark, revisions), []
    facts: list[Fact] = []
    memberships: list[Membership] = []
    for membership in settled.memberships:
        if membership.entered and not membership.lapsed:
            end = last_fix.ts if membership.outside_since is None else membership.outside_since
            closed = close_visit(membership, end, settled, policy, track.issi, facts)
            membership = replace(closed, lapsed=True)
        memberships.append(membership)
    settled = replace(settled, memberships=tuple(memberships))
    revisions, published = stamp_revisions(revisions, facts, watermark)
    return Track(track.issi, settled, recent, watermark, revisions), published


def settle_recent(
    settled: TrackState,
    recent: tuple[RecentFix, ...],
    revisions: Mapping[str, tuple[int, float]],
    watermark: float,
    policy: Policy,
) -> tuple[TrackState, tuple[RecentFix, ...], Mapping[str, tuple[int, float]]]:
    """Move recent fixes older than ``watermark - allowed_lateness_s`` into the settled state.

    Also forgets the revision of every visit that no fix within reach can change any more: not
    open, and last published more than ``allowed_lateness_s + max_gap_s`` before the watermark
    (a late fix can confirm an entry that started at most ``max_gap_s`` before it).
    """
    horizon = watermark - policy.allowed_lateness_s
    cut = bisect_left(recent, horizon, key=entry_ts)
    if cut:
        settled = recent[cut - 1].state
        recent = recent[cut:]
    if revisions:
        forget_before = horizon - policy.max_gap_s
        if all(touched >= forget_before for _, touched in revisions.values()):
            return settled, recent, revisions
        latest = recent[-1].state if recent else settled
        held = {m.published.visit_id for m in latest.memberships if m.published is not None}
        if any(touched < forget_before and v not in held for v, (_, touched) in revisions.items()):
            revisions = {
                visit_id: entry
                for visit_id, entry in revisions.items()
                if entry[1] >= forget_before or visit_id in held
            }
    return settled, recent, revisions


def stamp_revisions(
    revisions: Mapping[str, tuple[int, float]], facts: Sequence[Fact], watermark: float
) -> tuple[Mapping[str, tuple[int, float]], list[Fact]]:
    """Give each published visit the next revision of its id; record it in ``revisions``."""
    stamped_revisions = dict(revisions)
    published: list[Fact] = []
    for fact in facts:
        if isinstance(fact, VisitRecorded):
            visit_id = fact.visit.visit_id
            last = stamped_revisions.get(visit_id)
            revision = 0 if last is None else last[0] + 1
            stamped_revisions[visit_id] = (revision, watermark)
            fact = VisitRecorded(replace(fact.visit, revision=revision))
        published.append(fact)
    return stamped_revisions, published
