"""One radio's track: area membership with hysteresis, visits, dose, in event time.

The core is :func:`step` ``(state, fix, location, context, policy) -> (state, facts)``, a pure
state machine over frozen values, applied to fixes in timestamp order:

- **Entry**: ``enter_fixes`` consecutive accepted fixes inside an area's polygon confirm entry;
  the visit starts at the first of them.
- **Exit**: only a fix outside the area's exit-buffered polygon (``Location.near``) starts an
  exit, and the exit is confirmed once fixes have stayed outside the buffer for
  ``exit_debounce_s`` (with 30 s pings: three fixes). The visit ends at the *first* outside fix,
  so the debounce delays the news, never the end time. Without it, a stationary officer on a
  border with 15 m GPS noise would leave the 25 m buffer on about one fix in twenty and the visit
  would flap; a fix back inside the buffer cancels the exit.
- **Gaps**: the time between consecutive fixes is attributed to the membership across it when
  the gap is at most ``max_gap_s``; a longer gap is unknown time and ends every open visit at
  the last fix before it.
- **Dose**: each attributed segment ``[previous fix, fix]`` of a visit is one
  :class:`DoseAccrued`, carrying the role, device and assignments of the fix that opened the
  segment, and mode ``vehicle`` when that device is a vehicle terminal or the segment and the
  one before it were both at least ``vehicle_speed_mps``. Dose of a pending entry (or exit) is
  held back until it is confirmed (or cancelled), so dose always equals visit time.
- **Outliers**: a fix implying more than ``max_speed_mps`` from the last accepted fix is
  rejected; ``outliers_to_reset`` consecutive rejected fixes that agree with each other are
  accepted as a restart (treated like a gap), so a bad first fix cannot poison a track.

Visits are published as :class:`VisitRecorded` when they open, when they become qualifying,
when they close (or are retracted), and when late data changes any of that; between those
moments an open visit's ``seconds`` grow through :class:`DoseAccrued` only.

Event time (:class:`Track`, :func:`advance`, :func:`expire`): a track keeps a *settled* state and
the recent fixes (``ts >= watermark - allowed_lateness_s``) with the state and facts after each.
An in-order fix is one :func:`step`. A late fix within the lateness is inserted in place, the
suffix after it is recomputed, and the *difference* between the old and new suffix is emitted
(negative :class:`DoseAccrued` for dose that no longer happened, new revisions of changed visits,
``retracted`` for visits that no longer exist, :class:`MembershipChanged` where presence now
differs), so the cumulative effect equals in-order processing. Older fixes are rejected
``too_late``; a fix whose (issi, ts) was seen already is rejected ``duplicate`` and changes
nothing. Facts stored per recent fix always have revision 0; revision numbers are stamped on
the way out from :attr:`Track.revisions`.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, replace
from typing import Final, Literal, TypeAlias

import orjson

from streams.domain.encoding import kept_json
from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.records import record

JsonValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | list["JsonValue"]
    | tuple["JsonValue", ...]
    | dict[str, "JsonValue"]
    | None
)
StoredEntry: TypeAlias = tuple[JsonValue, ...]
"""One recent fix as stored: ``(fix, inside, near_only, context or None)``."""

Mode: TypeAlias = Literal["foot", "vehicle"]
Activity: TypeAlias = Literal["proactive", "reactive"]
Device: TypeAlias = Literal["handheld", "vehicle"]
VisitStatus: TypeAlias = Literal["open", "closed", "retracted"]
RejectReason: TypeAlias = Literal["too_late", "implausible_speed", "duplicate"]

_EARTH_RADIUS_M: Final = 6_371_008.8
_SERIAL_VERSION: Final = 1


@record
class Policy:
    """How fixes become memberships, visits and dose; defaults are the product's.

    ``exit_buffer_m`` documents the buffer the :class:`~streams.domain.fences.FenceIndex` that
    computes each fix's :class:`Location` must be built with; the track itself only reads
    ``Location.near``. Beyond the brief: ``exit_debounce_s`` (how long fixes must stay outside
    the buffer before an exit is confirmed; see the module docstring) and ``outliers_to_reset``
    (agreeing implausible fixes that restart the track).
    """

    enter_fixes: int = 2
    exit_buffer_m: float = 25.0
    exit_debounce_s: float = 60.0
    max_gap_s: float = 300.0
    allowed_lateness_s: float = 120.0
    qualifying_s: float = 600.0
    drive_through_s: float = 120.0
    credit_cap_s: float = 1200.0
    max_speed_mps: float = 70.0
    outliers_to_reset: int = 3
    vehicle_speed_mps: float = 4.0


@record
class FixContext:
    """Who carries the radio at a fix, and the areas of the open incidents they are assigned to."""

    role: str
    device: Device
    callsign: str | None = None
    assigned_areas: frozenset[str] = frozenset()


@record
class Visit:
    """One officer's continuous presence in one area, as published (``presence.visits``).

    ``visit_id`` and ``issi`` are internal: the published value carries a keyed id and the
    officer's pseudonym instead (:func:`streams.domain.publication.visit_value`).
    """

    visit_id: str
    issi: str
    area_id: str
    role: str
    mode: Mode
    activity: Activity
    start: float
    end: float | None
    seconds: float
    qualifying: bool
    drive_through: bool
    credited_seconds: float
    revision: int
    status: VisitStatus


@record
class VisitRecorded:
    """A visit opened, changed, closed or was retracted; the highest revision is the truth."""

    visit: Visit


@record
class DoseAccrued:
    """Officer-seconds in an area over ``[start, end]``; negative when correcting earlier dose."""

    area_id: str
    start: float
    end: float
    role: str
    mode: Mode
    activity: Activity
    seconds: float


@record
class FixRejected:
    """A fix was not used (``implausible_speed`` may later be accepted if late data changes it)."""

    fix: Fix
    reason: RejectReason


@record
class MembershipChanged:
    """The radio is now present (with this role and mode) in an area, or no longer present."""

    issi: str
    area_id: str
    present: bool
    role: str
    mode: Mode


Fact: TypeAlias = VisitRecorded | DoseAccrued | FixRejected | MembershipChanged


@record
class Membership:
    """The radio's relation to one area: entering, present (a visit), or leaving.

    ``seconds``, ``vehicle_seconds`` and ``reactive_seconds`` are committed presence;
    ``deferred`` holds dose segments awaiting a pending entry or exit. ``lapsed`` marks a visit
    that :func:`expire` already published as closed after silence; ``published`` is the last
    published content of the visit (revision 0), ``None`` until entry is confirmed.
    """

    area_id: str
    start: float
    role: str
    entered: bool
    inside_fixes: int
    outside_since: float | None
    seconds: float
    vehicle_seconds: float
    reactive_seconds: float
    deferred: tuple[DoseAccrued, ...]
    lapsed: bool
    published: Visit | None


@record
class TrackState:
    """Everything :func:`step` needs to know about a radio after some fixes."""

    last_fix: Fix | None = None
    context: FixContext | None = None
    last_segment_fast: bool = False
    mode: Mode = "foot"
    memberships: tuple[Membership, ...] = ()
    outliers: tuple[Fix, ...] = ()


EMPTY_STATE: Final = TrackState()


@record
class RecentFix:
    """A fix still inside the lateness horizon, with the state and facts it led to.

    ``stored`` is the entry's stored form as JSON (see :func:`track_to_json`), encoded once when
    the entry is made: the fix, its sorted ``inside`` and ``near``-only areas, and its context,
    or ``null`` when that equals the context of the entry before it (or, for an entry made first
    after a state, that state's context). It is derived data, left out of equality.
    """

    fix: Fix
    location: Location
    context: FixContext
    state: TrackState
    facts: tuple[Fact, ...]
    stored: bytes = field(compare=False, repr=False)


@record
class Track:
    """One radio in event time: settled state, recent fixes, and published visit revisions.

    ``revisions`` maps a visit id to (last published revision, watermark when published) for
    every visit that is open or could still be changed by a fix within the lateness.
    """

    issi: str
    settled: TrackState = EMPTY_STATE
    recent: tuple[RecentFix, ...] = ()
    watermark: float = -math.inf
    revisions: Mapping[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def state(self) -> TrackState:
        """The state after every fix accepted so far."""
        return self.recent[-1].state if self.recent else self.settled


def new_track(issi: str) -> Track:
    """A track for a radio that has sent no fix yet."""
    return Track(issi=issi)


# --------------------------------------------------------------------------------------------
# The state machine, in timestamp order.


def step(
    state: TrackState, fix: Fix, location: Location, context: FixContext, policy: Policy
) -> tuple[TrackState, tuple[Fact, ...]]:
    """Advance a state by one fix that is later than every fix before it."""
    previous = state.last_fix
    if previous is None:
        return _accept(state, fix, location, context, policy, 0.0, 0.0, continuous=False)
    elapsed_s = fix.ts - previous.ts
    distance_m = _distance_m(previous, fix)
    if distance_m <= policy.max_speed_mps * elapsed_s:
        return _accept(
            state,
            fix,
            location,
            context,
            policy,
            elapsed_s,
            distance_m,
            continuous=elapsed_s <= policy.max_gap_s,
        )
    outliers = state.outliers
    agrees = bool(outliers) and _plausible(outliers[-1], fix, policy)
    outliers = (*outliers, fix) if agrees else (fix,)
    if len(outliers) < policy.outliers_to_reset:
        return replace(state, outliers=outliers), (FixRejected(fix, "implausible_speed"),)
    return _accept(state, fix, location, context, policy, elapsed_s, distance_m, continuous=False)


def _accept(
    state: TrackState,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    elapsed_s: float,
    distance_m: float,
    *,
    continuous: bool,
) -> tuple[TrackState, tuple[Fact, ...]]:
    """Take ``fix`` as the radio's position; ``continuous`` when the segment before it counts."""
    fast = continuous and distance_m >= policy.vehicle_speed_mps * elapsed_s
    sustained_fast = fast and state.last_segment_fast
    mode: Mode = "vehicle" if context.device == "vehicle" or sustained_fast else "foot"
    previous_context = state.context
    if not state.memberships and not location.inside:
        return TrackState(fix, context, fast, mode), ()

    facts: list[Fact] = []
    issi = fix.issi
    kept: list[Membership] = []
    segment: _Segment | None = None
    if continuous and previous_context is not None and state.last_fix is not None:
        segment_vehicle = previous_context.device == "vehicle" or sustained_fast
        segment = _Segment(state.last_fix.ts, fix.ts, elapsed_s, previous_context, segment_vehicle)
    presence_changed = previous_context is not None and (
        previous_context.role != context.role or state.mode != mode
    )
    for membership in state.memberships:
        if membership.entered:
            updated = _advance_visit(membership, state, segment, fix, location, policy, facts)
            if updated is None:
                continue
            if not updated.lapsed and (membership.lapsed or presence_changed):
                facts.append(MembershipChanged(issi, updated.area_id, True, context.role, mode))
        else:
            updated = _advance_entry(membership, segment, location, policy, issi, facts)
            if updated is None:
                continue
            if updated.entered:
                facts.append(MembershipChanged(issi, updated.area_id, True, context.role, mode))
        kept.append(updated)
    if location.inside:
        unknown = location.inside.difference([membership.area_id for membership in kept])
        for area_id in sorted(unknown):
            entering = Membership(
                area_id, fix.ts, context.role, False, 1, None, 0.0, 0.0, 0.0, (), False, None
            )
            if policy.enter_fixes <= 1:
                entering = _confirm_entry(entering, policy, issi, facts)
                facts.append(MembershipChanged(issi, area_id, True, context.role, mode))
            kept.append(entering)
    return TrackState(fix, context, fast, mode, tuple(kept)), tuple(facts)


@record
class _Segment:
    """The time between the previous accepted fix and this one, attributed to presence."""

    start: float
    end: float
    seconds: float
    context: FixContext
    vehicle: bool

    def dose(self, area_id: str) -> DoseAccrued:
        """This segment as dose in ``area_id``."""
        return DoseAccrued(
            area_id,
            self.start,
            self.end,
            self.context.role,
            "vehicle" if self.vehicle else "foot",
            "reactive" if area_id in self.context.assigned_areas else "proactive",
            self.seconds,
        )


def _advance_visit(
    membership: Membership,
    state: TrackState,
    segment: _Segment | None,
    fix: Fix,
    location: Location,
    policy: Policy,
    facts: list[Fact],
) -> Membership | None:
    """A confirmed visit after ``fix``; ``None`` once it has ended (facts appended)."""
    area_id = membership.area_id
    outside_since = membership.outside_since
    if segment is None:
        if state.last_fix is not None:
            end = state.last_fix.ts if outside_since is None else outside_since
            _close(membership, end, state, policy, fix.issi, facts)
        return None
    dose = segment.dose(area_id)
    if area_id in location.near:
        if outside_since is None:
            facts.append(dose)
            committed = _commit(membership, (dose,), None, lapsed=False)
        else:
            facts.extend(membership.deferred)
            facts.append(dose)
            committed = _commit(membership, (*membership.deferred, dose), None, lapsed=False)
        return _publish(committed, "open", None, policy, fix.issi, facts)
    if outside_since is None:
        facts.append(dose)
        leaving = _commit(membership, (dose,), fix.ts, lapsed=membership.lapsed)
        if policy.exit_debounce_s > 0:
            return leaving
        outside_since = fix.ts
        membership = leaving
    elif fix.ts - outside_since < policy.exit_debounce_s:
        return _defer(membership, dose)
    _close(membership, outside_since, state, policy, fix.issi, facts)
    return None


def _advance_entry(
    membership: Membership,
    segment: _Segment | None,
    location: Location,
    policy: Policy,
    issi: str,
    facts: list[Fact],
) -> Membership | None:
    """A pending entry after a fix: counted on, confirmed, or ``None`` when it is abandoned."""
    if segment is None or membership.area_id not in location.inside:
        return None
    entering = _defer(membership, segment.dose(membership.area_id))
    entering = replace(entering, inside_fixes=entering.inside_fixes + 1)
    if entering.inside_fixes < policy.enter_fixes:
        return entering
    return _confirm_entry(entering, policy, issi, facts)


def _confirm_entry(
    membership: Membership, policy: Policy, issi: str, facts: list[Fact]
) -> Membership:
    """A pending entry becomes a visit: its held-back dose counts and the visit is published."""
    facts.extend(membership.deferred)
    committed = _commit(membership, membership.deferred, None, lapsed=False)
    return _publish(replace(committed, entered=True), "open", None, policy, issi, facts)


def _commit(
    membership: Membership,
    doses: Sequence[DoseAccrued],
    outside_since: float | None,
    *,
    lapsed: bool,
) -> Membership:
    """``membership`` with ``doses`` added to its committed presence and nothing deferred."""
    seconds = membership.seconds
    vehicle_seconds = membership.vehicle_seconds
    reactive_seconds = membership.reactive_seconds
    for dose in doses:
        seconds += dose.seconds
        if dose.mode == "vehicle":
            vehicle_seconds += dose.seconds
        if dose.activity == "reactive":
            reactive_seconds += dose.seconds
    return Membership(
        membership.area_id,
        membership.start,
        membership.role,
        membership.entered,
        membership.inside_fixes,
        outside_since,
        seconds,
        vehicle_seconds,
        reactive_seconds,
        (),
        lapsed,
        membership.published,
    )


def _defer(membership: Membership, dose: DoseAccrued) -> Membership:
    """``membership`` holding ``dose`` back until its pending entry or exit is decided."""
    return replace(membership, deferred=(*membership.deferred, dose))


def _close(
    membership: Membership,
    end: float,
    state: TrackState,
    policy: Policy,
    issi: str,
    facts: list[Fact],
) -> Membership:
    """Publish the end of a visit at ``end``; held-back dose after ``end`` is dropped.

    Presence is withdrawn with the role and mode last reported for it (those of ``state``)
    unless :func:`expire` withdrew it already.
    """
    closed = _publish(membership, "closed", end, policy, issi, facts)
    if not membership.lapsed:
        role = state.context.role if state.context is not None else membership.role
        facts.append(MembershipChanged(issi, membership.area_id, False, role, state.mode))
    return closed


def _publish(
    membership: Membership,
    status: VisitStatus,
    end: float | None,
    policy: Policy,
    issi: str,
    facts: list[Fact],
) -> Membership:
    """Publish the visit if its status, end or qualifying flag differ from what was published."""
    published = membership.published
    qualifying = membership.seconds >= policy.qualifying_s
    if (
        published is not None
        and published.status == status
        and published.end == end
        and published.qualifying == qualifying
    ):
        return membership
    visit_id = (
        published.visit_id
        if published is not None
        else visit_id_for(issi, membership.area_id, membership.start)
    )
    visit = _visit(membership, visit_id, issi, status, end, policy)
    facts.append(VisitRecorded(visit))
    return replace(membership, published=visit)


def _visit(
    membership: Membership,
    visit_id: str,
    issi: str,
    status: VisitStatus,
    end: float | None,
    policy: Policy,
) -> Visit:
    """The visit ``membership`` describes, with revision 0."""
    seconds = membership.seconds
    return Visit(
        visit_id=visit_id,
        issi=issi,
        area_id=membership.area_id,
        role=membership.role,
        mode="vehicle" if 2 * membership.vehicle_seconds > seconds else "foot",
        activity="reactive" if 2 * membership.reactive_seconds > seconds else "proactive",
        start=membership.start,
        end=end,
        seconds=seconds,
        qualifying=seconds >= policy.qualifying_s,
        drive_through=status == "closed" and seconds < policy.drive_through_s,
        credited_seconds=min(seconds, policy.credit_cap_s),
        revision=0,
        status=status,
    )


def visit_id_for(issi: str, area_id: str, start: float) -> str:
    """The deterministic internal id of the visit of radio ``issi`` to ``area_id`` from ``start``.

    Internal only (tracks and Redis): anyone with a visit's area and start could recompute it for
    every ISSI, so it is never published; :func:`streams.domain.publication.published_visit_id`
    is what leaves the service.
    """
    key = f"{issi}|{area_id}|{start!r}".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def _distance_m(a: Fix, b: Fix) -> float:
    """Equirectangular distance between two fixes, metres (exact enough below 100 km)."""
    mean_lat = math.radians((a.lat + b.lat) * 0.5)
    dx = math.radians(b.lon - a.lon) * math.cos(mean_lat)
    dy = math.radians(b.lat - a.lat)
    return _EARTH_RADIUS_M * math.hypot(dx, dy)


def _plausible(a: Fix, b: Fix, policy: Policy) -> bool:
    """Whether moving from fix ``a`` to the later fix ``b`` is within ``max_speed_mps``."""
    return _distance_m(a, b) <= policy.max_speed_mps * (b.ts - a.ts)


# --------------------------------------------------------------------------------------------
# Event time: in-order steps, late fixes, the clock.


def advance(
    track: Track, fix: Fix, location: Location, context: FixContext, policy: Policy
) -> tuple[Track, list[Fact]]:
    """Apply one fix in event time; return the new track and the facts to publish.

    In order: one :func:`step`. Late but within ``allowed_lateness_s`` of the watermark: the
    suffix after the fix is recomputed and only the difference is returned. Older, or already
    seen: the track is unchanged and the fix is rejected (``too_late`` / ``duplicate``).

    The watermark is the latest fix time seen (or clock time given to :func:`expire`); fixes
    dated in the future must be rejected before they get here, or they hold it up.
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
        return _advance_in_order(track, fix, location, context, policy)
    position = bisect_left(recent, fix.ts, key=_entry_ts)
    if recent[position].fix.ts == fix.ts:
        return track, [FixRejected(fix, "duplicate")]
    return _insert_late(track, position, fix, location, context, policy)


def advance_at(
    track: Track,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    progress: float | None,
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
        return advance(track, fix, location, context, policy)
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
    track, facts = advance(track, fix, location, context, policy)
    return track, [*expired, *facts] if expired else facts


def recontext(
    track: Track, context_at: Callable[[float], FixContext], policy: Policy
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
    new_suffix = _replay(
        base,
        before.context if before is not None else base.context,
        [(e.fix, e.location, context_at(e.fix.ts)) for e in old_suffix],
        policy,
    )
    facts = _difference(track.issi, base, old_suffix, new_suffix)
    revisions, published = _stamp(track.revisions, facts, track.watermark)
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
    position = bisect_left(recent, fix.ts, key=_entry_ts)
    if position < len(recent) and recent[position].fix.ts == fix.ts:
        return "duplicate"
    if fix.ts >= horizon:
        return None
    cut = bisect_left(recent, horizon, key=_entry_ts)
    last = recent[cut - 1].fix if cut else track.settled.last_fix
    return "duplicate" if last is not None and last.ts == fix.ts else "too_late"


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


LONGEST_DISTANCE_M: Final = _EARTH_RADIUS_M * math.pi * math.sqrt(5.0)
"""The most :func:`_distance_m` can measure between two fixes (half a turn of latitude and a
whole turn of longitude)."""


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
    settled, recent, revisions = _settle(
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
            closed = _close(membership, end, settled, policy, track.issi, facts)
            membership = replace(closed, lapsed=True)
        memberships.append(membership)
    settled = replace(settled, memberships=tuple(memberships))
    revisions, published = _stamp(revisions, facts, watermark)
    return Track(track.issi, settled, recent, watermark, revisions), published


def _entry_ts(entry: RecentFix) -> float:
    return entry.fix.ts


def _advance_in_order(
    track: Track, fix: Fix, location: Location, context: FixContext, policy: Policy
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
    state, facts = step(state, fix, location, context, policy)
    stored = _stored_entry(_stored_place(fix, location), context, previous_context)
    recent = (*recent, RecentFix(fix, location, context, state, facts, stored))
    watermark = fix.ts if fix.ts > track.watermark else track.watermark
    revisions = track.revisions
    for fact in facts:
        if isinstance(fact, VisitRecorded):
            revisions, published = _stamp(revisions, facts, watermark)
            break
    else:
        published = list(facts)
    settled = track.settled
    if recent[0].fix.ts < watermark - policy.allowed_lateness_s:
        settled, recent, revisions = _settle(settled, recent, revisions, watermark, policy)
    return Track(track.issi, settled, recent, watermark, revisions), published


def _insert_late(
    track: Track,
    position: int,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
) -> tuple[Track, list[Fact]]:
    """Insert a late fix before ``recent[position]``, recompute after it, publish the change."""
    recent = track.recent
    before = recent[position - 1] if position else None
    base = before.state if before is not None else track.settled
    old_suffix = recent[position:]
    new_suffix = _replay(
        base,
        before.context if before is not None else base.context,
        [
            (fix, location, context),
            *((e.fix, e.location, e.context) for e in old_suffix),
        ],
        policy,
    )
    facts: list[Fact] = [f for f in new_suffix[0].facts if isinstance(f, FixRejected)]
    facts.extend(_difference(track.issi, base, old_suffix, new_suffix))
    revisions, published = _stamp(track.revisions, facts, track.watermark)
    updated = Track(
        track.issi, track.settled, (*recent[:position], *new_suffix), track.watermark, revisions
    )
    return updated, published


def _replay(
    state: TrackState,
    previous_context: FixContext | None,
    fixes: Iterable[tuple[Fix, Location, FixContext]],
    policy: Policy,
) -> tuple[RecentFix, ...]:
    """Step ``fixes`` (in timestamp order) from ``state``, keeping the state and facts of each.

    ``previous_context`` is the context of the entry before the first fix (that of ``state``
    when there is none).
    """
    entries: list[RecentFix] = []
    for fix, location, context in fixes:
        state, facts = step(state, fix, location, context, policy)
        stored = _stored_entry(_stored_place(fix, location), context, previous_context)
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


def _presence(state: TrackState) -> dict[str, tuple[str, Mode]]:
    """Role and mode reported for each area the radio is present in after ``state``."""
    if state.context is None:
        return {}
    role_mode = (state.context.role, state.mode)
    return {m.area_id: role_mode for m in state.memberships if m.entered and not m.lapsed}


def _settle(
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
    cut = bisect_left(recent, horizon, key=_entry_ts)
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


def _stamp(
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


# --------------------------------------------------------------------------------------------
# Storage: compact, JSON-safe. Only the settled state, the recent raw fixes with their locations
# and contexts, and the revisions are stored; recent states and facts are recomputed on load.


def track_to_json(track: Track) -> bytes:
    """A compact JSON form of ``track`` (read back with :func:`track_from_json`).

    Each recent fix is stored as ``[fix, inside, near_only, context]`` with ``context`` ``null``
    when it equals the one before (the settled state's for the first); those entries are encoded
    once, when the fix is applied (:attr:`RecentFix.stored`), and spliced in here, so only the
    first one's context is checked, against the settled state.
    """
    stored: dict[str, JsonValue] = {
        "v": _SERIAL_VERSION,
        "issi": track.issi,
        "w": track.watermark if math.isfinite(track.watermark) else None,
        "s": _state_to_dict(track.settled),
    }
    if track.revisions:
        stored["rev"] = dict(track.revisions)  # visit id -> (revision, touched)
    head = orjson.dumps(stored)
    if not track.recent:
        return head
    recent = [entry.stored for entry in track.recent]
    first = track.recent[0]
    same = first.context == track.settled.context
    if _context_elided(first.stored) != same:
        recent[0] = _stored_entry(
            _stored_place(first.fix, first.location), first.context, track.settled.context
        )
    return b"".join((head[:-1], b',"r":[', b",".join(recent), b"]}"))


def track_from_json(stored: bytes, policy: Policy) -> Track:
    """The track :func:`track_to_json` stored, with its recent states recomputed under ``policy``.

    ``policy`` must be the one the track was built with for the result to equal the original.
    """
    return _track_from_dict(orjson.loads(stored), policy)


def _track_from_dict(stored: Mapping[str, object], policy: Policy) -> Track:
    if stored.get("v") != _SERIAL_VERSION:
        raise ValueError(f"unknown stored track version {stored.get('v')!r}")
    issi = _as_str(stored["issi"])
    settled = _state_from_dict(issi, _as_mapping(stored["s"]), policy)
    fixes: list[tuple[Fix, Location, FixContext]] = []
    context = settled.context
    for item in _as_list(stored.get("r", [])):
        fix_list, inside_list, near_list, context_list = _as_list(item)
        inside = frozenset(_as_str(area_id) for area_id in _as_list(inside_list))
        near = inside | frozenset(_as_str(area_id) for area_id in _as_list(near_list))
        if context_list is not None:
            context = _context_from_list(_as_list(context_list))
        if context is None:
            raise ValueError("a stored recent fix has no context")
        location = Location(inside, near)
        fixes.append((_fix_from_list(issi, _as_list(fix_list)), location, context))
    watermark = stored.get("w")
    revisions = {
        _as_str(visit_id): (int(_as_number(entry[0])), _as_number(entry[1]))
        for visit_id, entry in _as_mapping(stored.get("rev", {})).items()
        for entry in (_as_list(entry),)
    }
    return Track(
        issi=issi,
        settled=settled,
        recent=_replay(settled, settled.context, fixes, policy),
        watermark=-math.inf if watermark is None else _as_number(watermark),
        revisions=revisions,
    )


def _state_to_dict(state: TrackState) -> dict[str, JsonValue]:
    stored: dict[str, JsonValue] = {}
    if state.last_fix is not None:
        stored["f"] = _fix_to_list(state.last_fix)
    if state.context is not None:
        stored["c"] = _context_to_list(state.context)
    if state.last_segment_fast:
        stored["fast"] = 1
    if state.mode != "foot":
        stored["mode"] = state.mode
    if state.memberships:
        stored["m"] = tuple(map(_membership_to_list, state.memberships))
    if state.outliers:
        stored["o"] = [_fix_to_list(fix) for fix in state.outliers]
    return stored


def _state_from_dict(issi: str, stored: Mapping[str, object], policy: Policy) -> TrackState:
    last_fix = stored.get("f")
    context = stored.get("c")
    return TrackState(
        last_fix=None if last_fix is None else _fix_from_list(issi, _as_list(last_fix)),
        context=None if context is None else _context_from_list(_as_list(context)),
        last_segment_fast=bool(stored.get("fast", 0)),
        mode=_as_mode(stored.get("mode", "foot")),
        memberships=tuple(
            _membership_from_list(issi, _as_list(m), policy) for m in _as_list(stored.get("m", []))
        ),
        outliers=tuple(_fix_from_list(issi, _as_list(f)) for f in _as_list(stored.get("o", []))),
    )


def _fix_to_list(fix: Fix) -> StoredEntry:
    """``[ts, lat, lon, accuracy_m, speed_mps, heading_deg]`` without trailing nulls."""
    if fix.heading_deg is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m, fix.speed_mps, fix.heading_deg)
    if fix.speed_mps is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m, fix.speed_mps)
    if fix.accuracy_m is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m)
    return (fix.ts, fix.lat, fix.lon)


def _stored_place(fix: Fix, location: Location) -> StoredEntry:
    """The first three items of a stored recent fix: the fix, ``inside``, ``near``-only."""
    inside = location.inside
    near = location.near
    return (
        _fix_to_list(fix),
        tuple(sorted(inside)) if inside else (),
        tuple(sorted(near - inside)) if near else (),
    )


def _stored_entry(
    place: StoredEntry, context: FixContext, previous_context: FixContext | None
) -> bytes:
    """A stored recent fix as JSON: its place and its context, ``null`` when equal to the
    previous."""
    stored_context = None if context == previous_context else _context_to_list(context)
    return kept_json((*place, stored_context))


def _context_elided(stored: bytes) -> bool:
    """Whether a stored recent fix leaves its context out (its last item is ``null``; a stored
    context is a list)."""
    return stored.endswith(b",null]")


def _fix_from_list(issi: str, values: Sequence[object]) -> Fix:
    numbers = [None if value is None else _as_number(value) for value in values]
    numbers.extend([None] * (6 - len(numbers)))
    ts, lat, lon, accuracy_m, speed_mps, heading_deg = numbers
    if ts is None or lat is None or lon is None:
        raise ValueError("a stored fix lacks ts, lat or lon")
    return Fix(issi, ts, lat, lon, accuracy_m, speed_mps, heading_deg)


def _context_to_list(context: FixContext) -> StoredEntry:
    if context.assigned_areas:
        assigned: JsonValue = tuple(sorted(context.assigned_areas))
        return (context.role, context.device, context.callsign, assigned)
    if context.callsign is not None:
        return (context.role, context.device, context.callsign)
    return (context.role, context.device)


def _context_from_list(values: Sequence[object]) -> FixContext:
    device = values[1]
    if device not in ("handheld", "vehicle"):
        raise ValueError(f"unknown stored device {device!r}")
    callsign = values[2] if len(values) > 2 else None
    assigned = _as_list(values[3]) if len(values) > 3 else []
    return FixContext(
        role=_as_str(values[0]),
        device="vehicle" if device == "vehicle" else "handheld",
        callsign=None if callsign is None else _as_str(callsign),
        assigned_areas=frozenset(_as_str(area_id) for area_id in assigned),
    )


def _membership_to_list(membership: Membership) -> StoredEntry:
    published = membership.published
    deferred = membership.deferred
    return (
        membership.area_id,
        membership.start,
        membership.role,
        1 if membership.entered else 0,
        membership.inside_fixes,
        membership.outside_since,
        membership.seconds,
        membership.vehicle_seconds,
        membership.reactive_seconds,
        [(d.start, d.end, d.role, d.mode, d.activity, d.seconds) for d in deferred]
        if deferred
        else (),
        1 if membership.lapsed else 0,
        None
        if published is None
        else (
            published.mode,
            published.activity,
            published.end,
            published.seconds,
            published.status,
        ),
    )


def _membership_from_list(issi: str, values: Sequence[object], policy: Policy) -> Membership:
    (
        area_id,
        start,
        role,
        entered,
        inside_fixes,
        outside_since,
        seconds,
        vehicle_seconds,
        reactive_seconds,
        deferred,
        lapsed,
        published,
    ) = values
    membership = Membership(
        area_id=_as_str(area_id),
        start=_as_number(start),
        role=_as_str(role),
        entered=bool(entered),
        inside_fixes=int(_as_number(inside_fixes)),
        outside_since=None if outside_since is None else _as_number(outside_since),
        seconds=_as_number(seconds),
        vehicle_seconds=_as_number(vehicle_seconds),
        reactive_seconds=_as_number(reactive_seconds),
        deferred=tuple(
            DoseAccrued(
                _as_str(area_id),
                _as_number(d[0]),
                _as_number(d[1]),
                _as_str(d[2]),
                _as_mode(d[3]),
                "reactive" if d[4] == "reactive" else "proactive",
                _as_number(d[5]),
            )
            for d in map(_as_list, _as_list(deferred))
        ),
        lapsed=bool(lapsed),
        published=None,
    )
    if published is None:
        return membership
    mode, activity, end, published_seconds, status = _as_list(published)
    if status not in ("open", "closed", "retracted"):
        raise ValueError(f"unknown stored visit status {status!r}")
    content = replace(membership, seconds=_as_number(published_seconds))
    visit = _visit(
        content,
        visit_id_for(issi, membership.area_id, membership.start),
        issi,
        "open" if status == "open" else "closed" if status == "closed" else "retracted",
        None if end is None else _as_number(end),
        policy,
    )
    visit = replace(
        visit, mode=_as_mode(mode), activity="reactive" if activity == "reactive" else "proactive"
    )
    return replace(membership, published=visit)


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string in a stored track, got {value!r}")
    return value


def _as_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number in a stored track, got {value!r}")
    return float(value)


def _as_list(value: object) -> Sequence[object]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list in a stored track, got {value!r}")
    return value


def _as_mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object in a stored track, got {value!r}")
    return value


def _as_mode(value: object) -> Mode:
    if value not in ("foot", "vehicle"):
        raise ValueError(f"unknown stored mode {value!r}")
    return "vehicle" if value == "vehicle" else "foot"
