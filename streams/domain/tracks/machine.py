"""The state machine of one radio's track, applied to fixes in timestamp order.

The core is :func:`step` ``(state, fix, location, context, policy) -> (state, facts)``, a pure
state machine over frozen values:

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
  segment (and the stop-searches made during it, known with the fix that closes it), and mode
  ``vehicle`` when that device is a vehicle terminal or the segment and the one before it were
  both at least ``vehicle_speed_mps``. Dose of a pending entry (or exit) is
  held back until it is confirmed (or cancelled), so dose always equals visit time.
- **Outliers**: a fix implying more than ``max_speed_mps`` from the last accepted fix is
  rejected; ``outliers_to_reset`` consecutive rejected fixes that agree with each other are
  accepted as a restart (treated like a gap), so a bad first fix cannot poison a track.
- **Stuck radios**: a *frozen run* is the consecutive accepted fixes (no gap over
  ``max_gap_s`` between them) whose latitude and longitude are within ``frozen_tolerance_deg``
  (1e-6°, about 0.1 m) of the run's first fix. Once a run has ``stuck_fixes`` fixes over at
  least ``stuck_s`` the radio is *stuck*: from the first fix of the run its presence covers
  nothing and credits no dose. At that fix every open visit ends at the run's first fix (one
  that began inside the run is ``retracted``), the dose published since the run began is taken
  back (a negative :class:`DoseAccrued` mirroring each one; the state keeps them while a run
  is pending, at most the run's fixes times its areas) and presence is withdrawn. While stuck,
  fixes at the frozen position (even after a gap) make no membership; the first fix that moves
  ends it, and the segment from the frozen position is not attributed (as after a gap). A real
  receiver standing still wanders by metres, so only a device repeating a cached fix is
  caught. Repeated identical timestamps never reach :func:`step`: they are rejected
  ``duplicate`` upstream, so they credit nothing and a radio that only repeats them goes
  silent (``stale``).

Visits are published as :class:`VisitRecorded` when they open, when they become qualifying,
when they close (or are retracted), and when late data changes any of that; between those
moments an open visit's ``seconds`` grow through :class:`DoseAccrued` only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.records import record
from streams.domain.tracks.crossings import SegmentCrossings, infer_crossings
from streams.domain.tracks.model import (
    DoseAccrued,
    Fact,
    FixContext,
    FixRejected,
    Membership,
    MembershipChanged,
    Mode,
    Policy,
    TrackState,
    Visit,
    VisitRecorded,
    VisitStatus,
)

_EARTH_RADIUS_M: Final = 6_371_008.8


def step(
    state: TrackState,
    fix: Fix,
    location: Location,
    context: FixContext,
    policy: Policy,
    crossings: SegmentCrossings | None = None,
) -> tuple[TrackState, tuple[Fact, ...]]:
    """Advance a state by one fix that is later than every fix before it; with ``crossings``
    (the fence index), also make the inferred visits of the segment before it
    (:mod:`~streams.domain.tracks.crossings`)."""
    previous = state.last_fix
    if previous is None:
        return _accept(state, fix, location, context, policy, 0.0, 0.0, continuous=False)
    elapsed_s = fix.ts - previous.ts
    distance_m = _distance_m(previous, fix)
    if distance_m <= policy.max_speed_mps * elapsed_s:
        continuous = elapsed_s <= policy.max_gap_s
        anchor = state.frozen_from
        at_anchor = anchor is not None and _same_place(anchor, fix, policy)
        if state.stuck:
            if at_anchor:
                return _still_stuck(state, fix, context), ()
            continuous = False  # moving again: the segment from the frozen position is unknown
        elif anchor is not None and at_anchor and continuous:
            count = state.frozen_fixes + 1
            if count >= policy.stuck_fixes and fix.ts - anchor.ts >= policy.stuck_s:
                return _judge_stuck(state, anchor, count, fix, context, policy)
            accepted = _accept(
                state,
                fix,
                location,
                context,
                policy,
                elapsed_s,
                distance_m,
                continuous=True,
                run=(anchor, count),
            )
            return _keep_run_dose(state, anchor, accepted)
        after, facts = _accept(
            state,
            fix,
            location,
            context,
            policy,
            elapsed_s,
            distance_m,
            continuous=continuous,
        )
        if crossings is None or not continuous:
            return after, facts
        return infer_crossings(state, after, facts, fix, location, policy, crossings)
    outliers = state.outliers
    agrees = bool(outliers) and _plausible(outliers[-1], fix, policy)
    outliers = (*outliers, fix) if agrees else (fix,)
    if len(outliers) < policy.outliers_to_reset:
        return replace(state, outliers=outliers), (FixRejected(fix, "implausible_speed"),)
    return _accept(state, fix, location, context, policy, elapsed_s, distance_m, continuous=False)


def _same_place(anchor: Fix, fix: Fix, policy: Policy) -> bool:
    """Whether ``fix`` is at the frozen position ``anchor`` (within the tolerance)."""
    tolerance = policy.frozen_tolerance_deg
    return abs(fix.lat - anchor.lat) <= tolerance and abs(fix.lon - anchor.lon) <= tolerance


def _keep_run_dose(
    before: TrackState, anchor: Fix, accepted: tuple[TrackState, tuple[Fact, ...]]
) -> tuple[TrackState, tuple[Fact, ...]]:
    """The state after a fix that continues the frozen run that began at ``anchor``, keeping the
    dose published since the run began (to take it back if the run is judged stuck)."""
    state, facts = accepted
    run_dose = before.run_dose
    for fact in facts:
        if isinstance(fact, DoseAccrued) and fact.start >= anchor.ts:
            run_dose = (*run_dose, fact)
    if not run_dose:
        return accepted
    return replace(state, run_dose=run_dose), facts


def _judge_stuck(
    before: TrackState,
    anchor: Fix,
    count: int,
    fix: Fix,
    context: FixContext,
    policy: Policy,
) -> tuple[TrackState, tuple[Fact, ...]]:
    """The radio is stuck at ``fix``: from ``anchor`` (the run's first fix) on, its presence
    covered nothing. Take back the dose published since then, end every visit at ``anchor``
    (retract those that began at or after it) and withdraw presence."""
    facts: list[Fact] = [replace(dose, seconds=-dose.seconds) for dose in before.run_dose]
    issi = fix.issi
    for membership in before.memberships:
        if not membership.entered:
            continue
        taken = [dose for dose in before.run_dose if dose.area_id == membership.area_id]
        membership = _take_back(membership, taken)
        published = membership.published
        if membership.start >= anchor.ts and published is not None:
            facts.append(VisitRecorded(replace(published, status="retracted")))
            if not membership.lapsed:
                shown = before.context
                role = shown.role if shown is not None else membership.role
                unit = shown.unit if shown is not None else membership.unit
                facts.append(
                    MembershipChanged(issi, membership.area_id, False, role, before.mode, unit=unit)
                )
            continue
        outside_since = membership.outside_since
        end = anchor.ts if outside_since is None else min(outside_since, anchor.ts)
        close_visit(membership, end, before, policy, issi, facts)
    state = _still_stuck(replace(before, frozen_from=anchor, frozen_fixes=count - 1), fix, context)
    return state, tuple(facts)


def _take_back(membership: Membership, doses: Sequence[DoseAccrued]) -> Membership:
    """``membership`` without the committed presence of ``doses``."""
    if not doses:
        return membership
    seconds = membership.seconds
    vehicle_seconds = membership.vehicle_seconds
    reactive_seconds = membership.reactive_seconds
    for dose in doses:
        seconds -= dose.seconds
        if dose.mode == "vehicle":
            vehicle_seconds -= dose.seconds
        if dose.activity == "reactive":
            reactive_seconds -= dose.seconds
    return replace(
        membership,
        seconds=max(seconds, 0.0),
        vehicle_seconds=max(vehicle_seconds, 0.0),
        reactive_seconds=max(reactive_seconds, 0.0),
        deferred=(),
    )


def _still_stuck(state: TrackState, fix: Fix, context: FixContext) -> TrackState:
    """The state of a stuck radio after another fix at its frozen position: no membership."""
    return TrackState(
        last_fix=fix,
        context=context,
        last_segment_fast=False,
        mode="vehicle" if context.device == "vehicle" else "foot",
        memberships=(),
        outliers=(),
        frozen_from=state.frozen_from,
        frozen_fixes=state.frozen_fixes + 1,
        stuck=True,
        run_dose=(),
    )


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
    run: tuple[Fix, int] | None = None,
) -> tuple[TrackState, tuple[Fact, ...]]:
    """Take ``fix`` as the radio's position; ``continuous`` when the segment before it counts;
    ``run`` is the first fix and length of the frozen run ``fix`` continues (None: it begins
    one)."""
    frozen_from, frozen_fixes = (fix, 1) if run is None else run
    fast = continuous and distance_m >= policy.vehicle_speed_mps * elapsed_s
    sustained_fast = fast and state.last_segment_fast
    mode: Mode = "vehicle" if context.device == "vehicle" or sustained_fast else "foot"
    previous_context = state.context
    if not state.memberships and not location.inside:
        return TrackState(
            fix, context, fast, mode, frozen_from=frozen_from, frozen_fixes=frozen_fixes
        ), ()

    facts: list[Fact] = []
    issi = fix.issi
    kept: list[Membership] = []
    segment: _Segment | None = None
    if continuous and previous_context is not None and state.last_fix is not None:
        segment_vehicle = previous_context.device == "vehicle" or sustained_fast
        segment = _Segment(
            state.last_fix.ts, fix.ts, elapsed_s, previous_context, segment_vehicle, context
        )
    presence_changed = previous_context is not None and (
        previous_context.role != context.role
        or state.mode != mode
        or previous_context.unit != context.unit
    )
    for membership in state.memberships:
        if membership.entered:
            updated = _advance_visit(membership, state, segment, fix, location, policy, facts)
            if updated is None:
                continue
            if not updated.lapsed and (membership.lapsed or presence_changed):
                facts.append(
                    MembershipChanged(
                        issi, updated.area_id, True, context.role, mode, unit=context.unit
                    )
                )
        else:
            updated = _advance_entry(membership, segment, location, policy, issi, facts)
            if updated is None:
                continue
            if updated.entered:
                facts.append(
                    MembershipChanged(
                        issi, updated.area_id, True, context.role, mode, unit=context.unit
                    )
                )
        kept.append(updated)
    if location.inside:
        unknown = location.inside.difference([membership.area_id for membership in kept])
        for area_id in sorted(unknown):
            entering = Membership(
                area_id,
                fix.ts,
                context.role,
                False,
                1,
                None,
                0.0,
                0.0,
                0.0,
                (),
                False,
                None,
                unit=context.unit,
            )
            if policy.enter_fixes <= 1:
                entering = _confirm_entry(entering, policy, issi, facts)
                facts.append(
                    MembershipChanged(issi, area_id, True, context.role, mode, unit=context.unit)
                )
            kept.append(entering)
    state_after = TrackState(
        fix, context, fast, mode, tuple(kept), frozen_from=frozen_from, frozen_fixes=frozen_fixes
    )
    return state_after, tuple(facts)


@record
class _Segment:
    """The time between the previous accepted fix and this one, attributed to presence."""

    start: float
    end: float
    seconds: float
    context: FixContext
    vehicle: bool
    closing: FixContext
    """The context of the fix that ends the segment: the stop-searches made during it."""

    def dose(self, area_id: str) -> DoseAccrued:
        """This segment as dose in ``area_id``."""
        context = self.context
        reactive = area_id in context.assigned_areas
        return DoseAccrued(
            area_id,
            self.start,
            self.end,
            context.role,
            "vehicle" if self.vehicle else "foot",
            "reactive" if reactive else "proactive",
            self.seconds,
            incident_category=context.incident_category(area_id) if reactive else None,
            stop_search=bool(self.closing.stop_searches)
            and self.closing.stop_searched(area_id, self.start, self.end),
            unit=context.unit,
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
            close_visit(membership, end, state, policy, fix.issi, facts)
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
    close_visit(membership, outside_since, state, policy, fix.issi, facts)
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
    categories = membership.reactive_categories
    stop_search = membership.stop_search
    for dose in doses:
        seconds += dose.seconds
        if dose.mode == "vehicle":
            vehicle_seconds += dose.seconds
        if dose.activity == "reactive":
            reactive_seconds += dose.seconds
            if dose.incident_category is not None:
                categories = _add_category(categories, dose.incident_category, dose.seconds)
        stop_search = stop_search or dose.stop_search
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
        reactive_categories=categories,
        stop_search=stop_search,
        unit=membership.unit,
    )


def _add_category(
    categories: tuple[tuple[str, float], ...], category: str, seconds: float
) -> tuple[tuple[str, float], ...]:
    """``categories`` (reactive seconds by incident category, sorted) with ``seconds`` added to
    ``category``."""
    found = dict(categories)
    found[category] = found.get(category, 0.0) + seconds
    return tuple(sorted(found.items()))


def _defer(membership: Membership, dose: DoseAccrued) -> Membership:
    """``membership`` holding ``dose`` back until its pending entry or exit is decided."""
    return replace(membership, deferred=(*membership.deferred, dose))


def close_visit(
    membership: Membership,
    end: float,
    state: TrackState,
    policy: Policy,
    issi: str,
    facts: list[Fact],
) -> Membership:
    """Publish the end of a visit at ``end``; held-back dose after ``end`` is dropped.

    Presence is withdrawn with the role, mode and unit last reported for it (those of
    ``state``) unless :func:`expire` withdrew it already.
    """
    closed = _publish(membership, "closed", end, policy, issi, facts)
    if not membership.lapsed:
        context = state.context
        role = context.role if context is not None else membership.role
        unit = context.unit if context is not None else membership.unit
        facts.append(
            MembershipChanged(issi, membership.area_id, False, role, state.mode, unit=unit)
        )
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
        and published.stop_search == membership.stop_search
    ):
        return membership
    visit_id = (
        published.visit_id
        if published is not None
        else visit_id_for(issi, membership.area_id, membership.start)
    )
    visit = visit_of(membership, visit_id, issi, status, end, policy)
    facts.append(VisitRecorded(visit))
    return replace(membership, published=visit)


def visit_of(
    membership: Membership,
    visit_id: str,
    issi: str,
    status: VisitStatus,
    end: float | None,
    policy: Policy,
) -> Visit:
    """The visit ``membership`` describes, with revision 0."""
    seconds = membership.seconds
    reactive = 2 * membership.reactive_seconds > seconds
    return Visit(
        visit_id=visit_id,
        issi=issi,
        area_id=membership.area_id,
        role=membership.role,
        mode="vehicle" if 2 * membership.vehicle_seconds > seconds else "foot",
        activity="reactive" if reactive else "proactive",
        start=membership.start,
        end=end,
        seconds=seconds,
        qualifying=seconds >= policy.qualifying_s,
        drive_through=status == "closed" and seconds < policy.drive_through_s,
        credited_seconds=min(seconds, policy.credit_cap_s),
        revision=0,
        status=status,
        incident_category=_attended(membership.reactive_categories),
        stop_search=membership.stop_search,
        unit=membership.unit,
    )


def _attended(categories: tuple[tuple[str, float], ...]) -> str | None:
    """The category with the most reactive seconds (ties: the first by name); None if none."""
    best: tuple[str, float] | None = None
    for category, seconds in categories:
        if best is None or seconds > best[1]:
            best = (category, seconds)
    return None if best is None else best[0]


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


LONGEST_DISTANCE_M: Final = _EARTH_RADIUS_M * math.pi * math.sqrt(5.0)
"""The most :func:`_distance_m` can measure between two fixes (half a turn of latitude and a
whole turn of longitude)."""
