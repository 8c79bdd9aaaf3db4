"""A track in event time: in-order steps, late fixes replayed in place, and late joins.

A track (:class:`~streams.domain.tracks.model.Track`) keeps a *settled* state and the recent
fixes (``ts >= watermark - allowed_lateness_s``) with the state and facts after each. An
in-order fix is one :func:`~streams.domain.tracks.machine.step`. A late fix within the lateness
is inserted in place, the suffix after it is recomputed, and the *difference* between the old
and new suffix is emitted (negative :class:`DoseAccrued` for dose that no longer happened, new
revisions of changed visits, ``retracted`` for visits that no longer exist,
:class:`MembershipChanged` where presence now differs), so the cumulative effect equals
in-order processing. Older fixes are rejected ``too_late``; a fix whose (issi, ts) was seen
already is rejected ``duplicate`` and changes nothing. Facts stored per recent fix always have
revision 0; revision numbers are stamped on the way out from :attr:`Track.revisions`
(:func:`~streams.domain.tracks.expiry.stamp_revisions`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.tracks.crossings import SegmentCrossings
from streams.domain.tracks.expiry import expire, needs_expiry, settle_recent, stamp_revisions
from streams.domain.tracks.machine import step
from streams.domain.tracks.model import (
    DoseAccrued,
    Fact,
    FixContext,
    FixRejected,
    MembershipChanged,
    Mode,
    Policy,
    RecentFix,
    RejectReason,
    Track,
    TrackState,
    VisitRecorded,
    entry_ts,
)
from streams.domain.tracks.stored import stored_entry, stored_place


def advance(
    track: Track,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    crossings: SegmentCrossings | None = None,
) -> tuple[Track, list[Fact]]:
    """Apply one fix in event time; return the new track and the facts to publish.

    In order: one :func:`step`. Late but within ``allowed_lateness_s`` of the watermark: the
    suffix after the fix is recomputed and only the difference is returned. Older, or already
    seen: the track is unchanged and the fix is rejected (``too_late`` / ``duplicate``).

    The watermark is the latest fix time seen (or clock time given to :func:`expire`); fixes
    dated in the future must be rejected before they get here, or they hold it up.

    ``crossings`` (the fence index) is what every step is given to make inferred visits
    (:mod:`~streams.domain.tracks.crossings`); give the same one to every call on a track.
    """
    if fix.issi != track.issi:
        raise ValueError("a fix was given to the track of another radio")
    recent = track.recent
    settled_fix = track.settled.last_fix
    if settled_fix is not None and fix.ts == settled_fix.ts:
        return track, [FixRejected(fix, "duplicate")]
    if fix.ts < track.watermark - policy.allowed_lateness_s:
        return track, [FixRejected(fix, "too_late")]
    if not recent or fix.ts > recent[-1].fix.ts:
        return _advance_in_order(track, fix, location, context, policy, crossings)
    position = bisect_left(recent, fix.ts, key=entry_ts)
    if recent[position].fix.ts == fix.ts:
        return track, [FixRejected(fix, "duplicate")]
    return _insert_late(track, position, fix, location, context, policy, crossings)


def advance_at(
    track: Track,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    progress: float | None,
    crossings: SegmentCrossings | None = None,
) -> tuple[Track, list[Fact]]:
    """:func:`advance` in a partition whose event time had reached ``progress`` before ``fix``
    (None: no data yet).

    The same as :func:`expire` at ``progress`` and then :func:`advance`: what a clock tick at
    that point of the partition would have done is done first. So a fix is ``too_late`` when it
    is older than the partition's progress less the lateness, and a silent radio's visits close
    before its next fix, whether or not a tick came in between and wherever batches began (an
    expiry at an earlier progress changes nothing that this one would not).
    """
    if progress is None or progress <= track.watermark:
        return advance(track, fix, location, context, policy, crossings)
    rejected = _refused_at(track, fix, progress - policy.allowed_lateness_s)
    if rejected is not None:
        return track, [FixRejected(fix, rejected)]
    if needs_expiry(track, progress, policy):
        track, expired = expire(track, progress, policy)
    else:
        track, expired = (
            Track(track.issi, track.settled, track.recent, progress, track.revisions),
            [],
        )
    track, facts = advance(track, fix, location, context, policy, crossings)
    return track, [*expired, *facts] if expired else facts


def recontext(
    track: Track,
    context_at: Callable[[float], FixContext],
    policy: Policy,
    crossings: SegmentCrossings | None = None,
) -> tuple[Track, list[Fact]]:
    """Classify the track's recent fixes again with the context valid at each one's time (a join
    learnt something late: a CAD assignment or roster record read after the fixes it concerns),
    and publish the difference, as for a late fix: dose moved between splits, visit revisions.

    Only fixes still within the lateness can change; settled ones keep their context. A track
    whose recent fixes all have their context already is returned as it is.
    """
    recent = track.recent
    position = next(
        (i for i, entry in enumerate(recent) if context_at(entry.fix.ts) != entry.context), None
    )
    if position is None:
        return track, []
    before = recent[position - 1] if position else None
    base = before.state if before is not None else track.settled
    old_suffix = recent[position:]
    new_suffix = replay_fixes(
        base,
        before.context if before is not None else base.context,
        [(e.fix, e.location, context_at(e.fix.ts)) for e in old_suffix],
        policy,
        crossings,
    )
    facts = _difference(track.issi, base, old_suffix, new_suffix)
    revisions, published = stamp_revisions(track.revisions, facts, track.watermark)
    updated = Track(
        track.issi, track.settled, (*recent[:position], *new_suffix), track.watermark, revisions
    )
    return updated, published


def _refused_at(track: Track, fix: Fix, horizon: float) -> RejectReason | None:
    """What :func:`advance` would refuse ``fix`` as once the track was settled to ``horizon``
    (None: nothing), worked out without settling it, so a refused fix (a replay's, say) leaves
    the track as it was: ``duplicate`` when it was seen already, ``too_late`` when older than
    ``horizon`` otherwise."""
    recent = track.recent
    position = bisect_left(recent, fix.ts, key=entry_ts)
    if position < len(recent) and recent[position].fix.ts == fix.ts:
        return "duplicate"
    if fix.ts >= horizon:
        return None
    cut = bisect_left(recent, horizon, key=entry_ts)
    last = recent[cut - 1].fix if cut else track.settled.last_fix
    return "duplicate" if last is not None and last.ts == fix.ts else "too_late"


def _advance_in_order(
    track: Track,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    crossings: SegmentCrossings | None,
) -> tuple[Track, list[Fact]]:
    """One step from the latest state; settle what falls behind the new watermark."""
    recent = track.recent
    previous_context: FixContext | None
    if recent:
        last = recent[-1]
        state, previous_context = last.state, last.context
    else:
        state = track.settled
        previous_context = state.context
    state, facts = step(state, fix, location, context, policy, crossings)
    stored = stored_entry(stored_place(fix, location), context, previous_context)
    recent = (*recent, RecentFix(fix, location, context, state, facts, stored))
    watermark = fix.ts if fix.ts > track.watermark else track.watermark
    revisions = track.revisions
    for fact in facts:
        if isinstance(fact, VisitRecorded):
            revisions, published = stamp_revisions(revisions, facts, watermark)
            break
    else:
        published = list(facts)
    settled = track.settled
    if recent[0].fix.ts < watermark - policy.allowed_lateness_s:
        settled, recent, revisions = settle_recent(settled, recent, revisions, watermark, policy)
    return Track(track.issi, settled, recent, watermark, revisions), published


def _insert_late(
    track: Track,
    position: int,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    crossings: SegmentCrossings | None,
) -> tuple[Track, list[Fact]]:
    """Insert a late fix before ``recent[position]``, recompute after it, publish the change."""
    recent = track.recent
    before = recent[position - 1] if position else None
    base = before.state if before is not None else track.settled
    old_suffix = recent[position:]
    new_suffix = replay_fixes(
        base,
        before.context if before is not None else base.context,
        [
            (fix, location, context),
            *((e.fix, e.location, e.context) for e in old_suffix),
        ],
        policy,
        crossings,
    )
    facts: list[Fact] = [f for f in new_suffix[0].facts if isinstance(f, FixRejected)]
    facts.extend(_difference(track.issi, base, old_suffix, new_suffix))
    revisions, published = stamp_revisions(track.revisions, facts, track.watermark)
    updated = Track(
        track.issi, track.settled, (*recent[:position], *new_suffix), track.watermark, revisions
    )
    return updated, published


def replay_fixes(
    state: TrackState,
    previous_context: FixContext | None,
    fixes: Iterable[tuple[Fix, Location, FixContext]],
    policy: Policy,
    crossings: SegmentCrossings | None = None,
) -> tuple[RecentFix, ...]:
    """Step ``fixes`` (in timestamp order) from ``state``, keeping the state and facts of each.

    ``previous_context`` is the context of the entry before the first fix (that of ``state``
    when there is none).
    """
    entries: list[RecentFix] = []
    for fix, location, context in fixes:
        state, facts = step(state, fix, location, context, policy, crossings)
        stored = stored_entry(stored_place(fix, location), context, previous_context)
        entries.append(RecentFix(fix, location, context, state, facts, stored))
        previous_context = context
    return tuple(entries)


def _difference(
    issi: str,
    base: TrackState,
    old_suffix: Sequence[RecentFix],
    new_suffix: Sequence[RecentFix],
) -> list[Fact]:
    """The facts that turn what ``old_suffix`` published into what ``new_suffix`` would have."""
    facts: list[Fact] = []
    old_facts = [fact for entry in old_suffix for fact in entry.facts]
    new_facts = [fact for entry in new_suffix for fact in entry.facts]

    old_dose = Counter(fact for fact in old_facts if isinstance(fact, DoseAccrued))
    new_dose = Counter(fact for fact in new_facts if isinstance(fact, DoseAccrued))
    for dose, count in (old_dose - new_dose).items():
        facts.extend([replace(dose, seconds=-dose.seconds)] * count)
    for dose, count in (new_dose - old_dose).items():
        facts.extend([dose] * count)

    before_suffix = {
        m.published.visit_id: m.published for m in base.memberships if m.published is not None
    }
    old_visits = {f.visit.visit_id: f.visit for f in old_facts if isinstance(f, VisitRecorded)}
    new_visits = {f.visit.visit_id: f.visit for f in new_facts if isinstance(f, VisitRecorded)}
    for visit_id in sorted(old_visits.keys() | new_visits.keys()):
        was = old_visits.get(visit_id) or before_suffix.get(visit_id)
        now = new_visits.get(visit_id) or before_suffix.get(visit_id)
        if now == was:
            continue
        if now is not None:
            facts.append(VisitRecorded(now))
        elif was is not None:
            facts.append(VisitRecorded(replace(was, status="retracted")))

    old_present = _presence(old_suffix[-1].state if old_suffix else base)
    new_present = _presence(new_suffix[-1].state)
    for area_id in sorted(old_present.keys() | new_present.keys()):
        was_present = old_present.get(area_id)
        now_present = new_present.get(area_id)
        if was_present == now_present:
            continue
        if now_present is not None:
            facts.append(MembershipChanged(issi, area_id, True, *now_present))
        elif was_present is not None:
            facts.append(MembershipChanged(issi, area_id, False, *was_present))
    return facts


def _presence(state: TrackState) -> dict[str, tuple[str, Mode, str]]:
    """Role, mode and unit reported for each area the radio is present in after ``state``."""
    if state.context is None:
        return {}
    shown = (state.context.role, state.mode, state.context.unit)
    return {m.area_id: shown for m in state.memberships if m.entered and not m.lapsed}
