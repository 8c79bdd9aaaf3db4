"""Inferred visits: presence in an area between fixes, read from the straight line joining them.

Airwave fixes come every 30 s to a few minutes, so a car crossing a small area is often seen
inside it once or never, and the entry rule (``enter_fixes`` fixes inside,
:mod:`~streams.domain.tracks.machine`) makes no visit of it. After each fix whose segment from
the previous accepted fix counts (at most ``max_gap_s`` long, at a plausible speed: the
machine's *continuous* segments), :func:`infer_crossings` makes an **inferred** visit when:

- **(a) the segment crosses an area**: both fixes are outside the area's polygon (and the radio
  had no visit or pending entry there), but the straight segment between them runs through it;
- **(b) one fix inside**: a pending entry is abandoned (the fix after it is outside) with fewer
  than ``enter_fixes`` fixes inside, and the segment into it was continuous too. The visit covers
  the inside part of the segment into the area, the segments between its fixes inside (none
  when ``enter_fixes`` is 2) and the inside part of the segment out of it.

Rules:

- **Duration**: the length of a segment inside the polygon divided by the segment's speed,
  i.e. the inside share of the segment times its duration (positions are interpolated linearly
  in time along the straight line); ``start`` and ``end`` are where the line first enters and
  last leaves the polygon.
- An inferred visit is published once, ``closed``, with ``inferred`` set: a drive-through,
  never qualifying (its credited seconds are capped as any visit's). It changes no presence
  (no :class:`~streams.domain.tracks.model.MembershipChanged`: the radio is not in the area at
  any fix) and is not used to judge coverage.
- Its dose is :class:`~streams.domain.tracks.model.DoseAccrued` with ``inferred`` set, split
  by role, mode and activity as the machine splits dose (the context of the fix that opened
  the segment); windows, ledgers and snapshots keep it apart.
- A track with one fix inside gives one visit (b), never also a crossing (a) of the segments
  around it: (a) only looks at areas where neither fix is inside.

Geometry is the fence index's (:meth:`~streams.domain.fences.FenceIndex.crossings`): straight
lines in its plane, a bounding-box query first. The inside part of the segment into a pending
entry is kept on the state (:attr:`~streams.domain.tracks.model.TrackState.entry_parts`)
until the entry is confirmed or abandoned, so the state alone decides, and a replay (late fix,
late join, reload) recomputes the same visits from the same fixes.

Cross-checked (read, not copied) with two open-source trackers:

- Tile38's geofences report ``cross`` when an object's previous and new positions are both
  outside a fence but the straight line between their centres intersects it (for a ``within``
  fence the line is tested with ``intersects``), followed by ``outside``
  (``internal/server/fence.go``). Rule (a) is that test, with what Tile38 leaves out: a bound
  on the segment (``max_gap_s``, a plausible speed) and the time inside.
- Traccar's geofence events are per position: ``geofenceEnter``/``geofenceExit`` when the set
  of geofences containing consecutive positions changes (``GeofenceEventHandler``), so a pass
  with no position inside is missed; a ``geofenceCrossed`` event for a path crossing a geofence
  without a position inside was proposed (traccar/traccar pull request 4316) and not merged.
  A single position inside gives Traccar an enter and an exit; here the entry rule wants two
  fixes, so rule (b) makes that one visit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from dataclasses import replace
from typing import Protocol

from streams.domain.fences import Crossing, Location
from streams.domain.fixes import Fix
from streams.domain.tracks.model import (
    DoseAccrued,
    Fact,
    FixContext,
    Mode,
    Policy,
    TrackState,
    Visit,
    VisitRecorded,
)


class SegmentCrossings(Protocol):
    """What finds the areas a straight segment runs through (a
    :class:`~streams.domain.fences.FenceIndex`)."""

    def crossings(
        self,
        from_lon: float,
        from_lat: float,
        to_lon: float,
        to_lat: float,
        skip: Container[str] = ...,
    ) -> tuple[Crossing, ...]: ...


def infer_crossings(
    before: TrackState,
    after: TrackState,
    facts: tuple[Fact, ...],
    fix: Fix,
    location: Location,
    policy: Policy,
    crossings: SegmentCrossings,
) -> tuple[TrackState, tuple[Fact, ...]]:
    """``after`` and ``facts`` (what the machine made of ``fix``, whose segment from
    ``before``'s last fix is continuous) with the inferred visits of that segment, and the
    entry parts kept for the pending entries it leaves (module rules)."""
    previous = before.last_fix
    context = before.context
    elapsed_s = fix.ts - previous.ts if previous is not None else 0.0
    if previous is None or context is None or elapsed_s <= 0.0:
        return after, facts
    closing: FixContext = after.context or context  # closes the segment: its stop-searches
    if before.memberships:
        members = {m.area_id: m for m in before.memberships}
        entry_parts = {d.area_id: d for d in before.entry_parts}
        # Areas with a visit or a pending entry need no geometry, but an entry abandoned now.
        skip = members.keys() - entry_parts.keys() if entry_parts else members.keys()
        crossed = crossings.crossings(previous.lon, previous.lat, fix.lon, fix.lat, skip)
        if not crossed and not entry_parts and not location.inside.difference(members):
            return after, facts
    else:
        crossed = crossings.crossings(previous.lon, previous.lat, fix.lon, fix.lat)
        if not crossed and not location.inside:
            return after, facts
        members, entry_parts = {}, {}
    vehicle = context.device == "vehicle" or (after.last_segment_fast and before.last_segment_fast)
    mode: Mode = "vehicle" if vehicle else "foot"

    def part(area_id: str, enter: float, leave: float, inside: float) -> DoseAccrued:
        start = previous.ts + enter * elapsed_s
        end = previous.ts + leave * elapsed_s
        reactive = area_id in context.assigned_areas
        return DoseAccrued(
            area_id,
            start,
            end,
            context.role,
            mode,
            "reactive" if reactive else "proactive",
            inside * elapsed_s,
            incident_category=context.incident_category(area_id) if reactive else None,
            stop_search=bool(closing.stop_searches) and closing.stop_searched(area_id, start, end),
            inferred=True,
            unit=context.unit,
        )

    by_area = {crossing.area_id: crossing for crossing in crossed}
    inferred: list[Fact] = []
    for area_id in sorted(entry_parts):
        membership = members.get(area_id)
        if membership is None or membership.entered or area_id in location.inside:
            continue
        leaving = by_area.get(area_id)
        parts = [
            entry_parts[area_id],
            *(replace(d, inferred=True) for d in membership.deferred),
        ]
        if leaving is not None:
            parts.append(part(area_id, 0.0, leaving.leave, leaving.inside))
        _infer_visit(fix.issi, area_id, parts, policy, inferred)
    kept = [
        entry_parts[m.area_id]
        for m in after.memberships
        if not m.entered and m.area_id in entry_parts and m.area_id in location.inside
    ]
    for area_id in sorted(location.inside.difference(members)):
        if policy.enter_fixes > 1:
            entering = by_area.get(area_id)
            kept.append(
                part(area_id, 1.0, 1.0, 0.0)
                if entering is None
                else part(area_id, entering.enter, 1.0, entering.inside)
            )
    for crossing in crossed:
        area_id = crossing.area_id
        if area_id not in members and area_id not in location.inside:
            parts = [part(area_id, crossing.enter, crossing.leave, crossing.inside)]
            _infer_visit(fix.issi, area_id, parts, policy, inferred)
    state = after if not kept and not after.entry_parts else _with_entry_parts(after, kept)
    return state, (*facts, *inferred) if inferred else facts


def _infer_visit(
    issi: str, area_id: str, parts: list[DoseAccrued], policy: Policy, facts: list[Fact]
) -> None:
    """Append the inferred visit made of ``parts`` (in time order) and their dose to ``facts``."""
    seconds = sum(d.seconds for d in parts)
    vehicle_s = sum(d.seconds for d in parts if d.mode == "vehicle")
    reactive_s = sum(d.seconds for d in parts if d.activity == "reactive")
    first = parts[0]
    start = first.start
    end = parts[-1].end
    if seconds > 0:
        vehicle = 2 * vehicle_s > seconds
        reactive = 2 * reactive_s > seconds
    else:
        vehicle, reactive = first.mode == "vehicle", first.activity == "reactive"
    facts.extend(d for d in parts if d.seconds)
    facts.append(
        VisitRecorded(
            Visit(
                visit_id=inferred_visit_id(issi, area_id, start),
                issi=issi,
                area_id=area_id,
                role=first.role,
                mode="vehicle" if vehicle else "foot",
                activity="reactive" if reactive else "proactive",
                start=start,
                end=end,
                seconds=seconds,
                qualifying=False,
                drive_through=True,
                credited_seconds=min(seconds, policy.credit_cap_s),
                revision=0,
                status="closed",
                incident_category=next(
                    (d.incident_category for d in parts if d.incident_category is not None), None
                ),
                stop_search=any(d.stop_search for d in parts),
                inferred=True,
                unit=first.unit,
            )
        )
    )


def inferred_visit_id(issi: str, area_id: str, start: float) -> str:
    """The internal id of radio ``issi``'s inferred visit to ``area_id`` from ``start`` (apart
    from the ids of visits made by the entry rule, :func:`~streams.domain.tracks.visit_id_for`)."""
    key = f"{issi}|{area_id}|{start!r}|inferred".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def _with_entry_parts(state: TrackState, parts: list[DoseAccrued]) -> TrackState:
    return replace(state, entry_parts=tuple(sorted(parts, key=lambda d: d.area_id)))
