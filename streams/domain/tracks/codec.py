"""Storage of a track: compact, JSON-safe.

Only the settled state, the recent raw fixes with their locations and contexts, and the
revisions are stored; recent states and facts are recomputed on load
(:func:`~streams.domain.tracks.replay.replay_fixes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

import orjson

from streams.domain.fences import Location, shared_location
from streams.domain.fixes import Fix
from streams.domain.tracks.crossings import SegmentCrossings
from streams.domain.tracks.machine import visit_id_for, visit_of
from streams.domain.tracks.model import (
    UNKNOWN_UNIT,
    DoseAccrued,
    FixContext,
    Membership,
    Mode,
    Policy,
    Track,
    TrackState,
)
from streams.domain.tracks.replay import replay_fixes
from streams.domain.tracks.stored import (
    JsonValue,
    StoredEntry,
    context_elided,
    context_to_list,
    fix_to_list,
    stored_entry,
    stored_place,
    trimmed,
)

_SERIAL_VERSION: Final = 1


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
    if context_elided(first.stored) != same:
        recent[0] = stored_entry(
            stored_place(first.fix, first.location), first.context, track.settled.context
        )
    return b"".join((head[:-1], b',"r":[', b",".join(recent), b"]}"))


def track_from_json(
    stored: bytes, policy: Policy, crossings: SegmentCrossings | None = None
) -> Track:
    """The track :func:`track_to_json` stored, with its recent states recomputed under ``policy``.

    ``policy`` and ``crossings`` (the fence index) must be those the track was built with for
    the result to equal the original.
    """
    return _track_from_dict(orjson.loads(stored), policy, crossings)


def _track_from_dict(
    stored: Mapping[str, object], policy: Policy, crossings: SegmentCrossings | None
) -> Track:
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
        location = shared_location(inside, near)
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
        recent=replay_fixes(settled, settled.context, fixes, policy, crossings),
        watermark=-math.inf if watermark is None else _as_number(watermark),
        revisions=revisions,
    )


def _state_to_dict(state: TrackState) -> dict[str, JsonValue]:
    stored: dict[str, JsonValue] = {}
    if state.last_fix is not None:
        stored["f"] = fix_to_list(state.last_fix)
    if state.context is not None:
        stored["c"] = context_to_list(state.context)
    if state.last_segment_fast:
        stored["fast"] = 1
    if state.mode != "foot":
        stored["mode"] = state.mode
    if state.memberships:
        stored["m"] = tuple(map(_membership_to_list, state.memberships))
    if state.outliers:
        stored["o"] = [fix_to_list(fix) for fix in state.outliers]
    frozen_from = state.frozen_from
    if state.frozen_fixes != (0 if state.last_fix is None else 1) or frozen_from != state.last_fix:
        # a frozen run of more than the last fix (absent: the run is the last fix alone)
        stored["ff"] = None if frozen_from is None else fix_to_list(frozen_from)
        stored["fn"] = state.frozen_fixes
    if state.stuck:
        stored["stuck"] = 1
    if state.run_dose:
        stored["rd"] = [(d.area_id, *_dose_to_list(d)) for d in state.run_dose]
    if state.entry_parts:
        stored["x"] = [(d.area_id, *_dose_to_list(d)) for d in state.entry_parts]
    return stored


def _state_from_dict(issi: str, stored: Mapping[str, object], policy: Policy) -> TrackState:
    last_fix_list = stored.get("f")
    context = stored.get("c")
    last_fix = None if last_fix_list is None else _fix_from_list(issi, _as_list(last_fix_list))
    frozen_from = last_fix
    frozen_fixes = 0 if last_fix is None else 1
    if "fn" in stored:
        frozen_list = stored.get("ff")
        frozen_from = None if frozen_list is None else _fix_from_list(issi, _as_list(frozen_list))
        frozen_fixes = int(_as_number(stored["fn"]))
    return TrackState(
        last_fix=last_fix,
        context=None if context is None else _context_from_list(_as_list(context)),
        last_segment_fast=bool(stored.get("fast", 0)),
        mode=_as_mode(stored.get("mode", "foot")),
        memberships=tuple(
            _membership_from_list(issi, _as_list(m), policy) for m in _as_list(stored.get("m", []))
        ),
        outliers=tuple(_fix_from_list(issi, _as_list(f)) for f in _as_list(stored.get("o", []))),
        frozen_from=frozen_from,
        frozen_fixes=frozen_fixes,
        stuck=bool(stored.get("stuck", 0)),
        run_dose=tuple(
            _dose_from_list(_as_str(d[0]), d[1:])
            for d in map(_as_list, _as_list(stored.get("rd", [])))
        ),
        entry_parts=tuple(
            _dose_from_list(_as_str(d[0]), d[1:])
            for d in map(_as_list, _as_list(stored.get("x", [])))
        ),
    )


def _fix_from_list(issi: str, values: Sequence[object]) -> Fix:
    numbers = [None if value is None else _as_number(value) for value in values]
    numbers.extend([None] * (6 - len(numbers)))
    ts, lat, lon, accuracy_m, speed_mps, heading_deg = numbers
    if ts is None or lat is None or lon is None:
        raise ValueError("a stored fix lacks ts, lat or lon")
    return Fix(issi, ts, lat, lon, accuracy_m, speed_mps, heading_deg)


def _context_from_list(values: Sequence[object]) -> FixContext:
    device = values[1]
    if device not in ("handheld", "vehicle"):
        raise ValueError(f"unknown stored device {device!r}")
    callsign = values[2] if len(values) > 2 else None
    assigned = _as_list(values[3]) if len(values) > 3 else []
    unit = values[4] if len(values) > 4 else UNKNOWN_UNIT
    categories = _as_list(values[5]) if len(values) > 5 else []
    searched = _as_list(values[6]) if len(values) > 6 else []
    return FixContext(
        role=_as_str(values[0]),
        device="vehicle" if device == "vehicle" else "handheld",
        callsign=None if callsign is None else _as_str(callsign),
        assigned_areas=frozenset(_as_str(area_id) for area_id in assigned),
        incident_categories=tuple(
            (_as_str(pair[0]), _as_str(pair[1])) for pair in map(_as_list, categories)
        ),
        stop_searches=frozenset(
            (_as_number(pair[0]), _as_str(pair[1])) for pair in map(_as_list, searched)
        ),
        unit=_as_str(unit),
    )


def _membership_to_list(membership: Membership) -> StoredEntry:
    """The membership as a list: 12 items, then its unit, reactive seconds by incident category
    and stop-search mark, without trailing defaults (:func:`trimmed`), so a membership stored
    before those were kept reads with the unknown unit and none."""
    published = membership.published
    deferred = membership.deferred
    stored_deferred: list[JsonValue] = [_dose_to_list(d) for d in deferred]
    stored: StoredEntry = (
        membership.area_id,
        membership.start,
        membership.role,
        1 if membership.entered else 0,
        membership.inside_fixes,
        membership.outside_since,
        membership.seconds,
        membership.vehicle_seconds,
        membership.reactive_seconds,
        stored_deferred if deferred else (),
        1 if membership.lapsed else 0,
        None
        if published is None
        else (
            published.mode,
            published.activity,
            published.end,
            published.seconds,
            published.status,
            *(
                (published.incident_category, 1 if published.stop_search else 0)
                if published.incident_category is not None or published.stop_search
                else ()
            ),
        ),
        membership.unit,
        tuple(membership.reactive_categories),
        1 if membership.stop_search else 0,
    )
    return trimmed(stored, _MEMBERSHIP_DEFAULTS)


_MEMBERSHIP_DEFAULTS: Final[StoredEntry] = (UNKNOWN_UNIT, (), 0)
"""The defaults of a stored membership's items after its first 12."""


def _dose_to_list(dose: DoseAccrued) -> StoredEntry:
    """A dose segment: ``[start, end, role, mode, activity, seconds, unit, incident_category,
    stop_search, inferred]`` without trailing defaults (:func:`trimmed`), so a segment stored
    before any of the last four were kept reads with their defaults."""
    return trimmed(
        (
            dose.start,
            dose.end,
            dose.role,
            dose.mode,
            dose.activity,
            dose.seconds,
            dose.unit,
            dose.incident_category,
            1 if dose.stop_search else 0,
            1 if dose.inferred else 0,
        ),
        _DOSE_DEFAULTS,
    )


_DOSE_DEFAULTS: Final[StoredEntry] = (UNKNOWN_UNIT, None, 0, 0)
"""The defaults of a stored dose segment's items after its first 6."""


def _dose_from_list(area_id: str, d: Sequence[object]) -> DoseAccrued:
    unit = d[6] if len(d) > 6 else UNKNOWN_UNIT
    category = d[7] if len(d) > 7 else None
    return DoseAccrued(
        area_id,
        _as_number(d[0]),
        _as_number(d[1]),
        _as_str(d[2]),
        _as_mode(d[3]),
        "reactive" if d[4] == "reactive" else "proactive",
        _as_number(d[5]),
        incident_category=None if category is None else _as_str(category),
        stop_search=bool(d[8]) if len(d) > 8 else False,
        inferred=bool(d[9]) if len(d) > 9 else False,
        unit=_as_str(unit),
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
    ) = values[:12]
    unit = values[12] if len(values) > 12 else UNKNOWN_UNIT
    categories = _as_list(values[13]) if len(values) > 13 else []
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
            _dose_from_list(_as_str(area_id), d) for d in map(_as_list, _as_list(deferred))
        ),
        lapsed=bool(lapsed),
        published=None,
        reactive_categories=tuple(
            (_as_str(pair[0]), _as_number(pair[1])) for pair in map(_as_list, categories)
        ),
        stop_search=bool(values[14]) if len(values) > 14 else False,
        unit=_as_str(unit),
    )
    if published is None:
        return membership
    published_list = _as_list(published)
    mode, activity, end, published_seconds, status = published_list[:5]
    published_category = published_list[5] if len(published_list) > 5 else None
    if status not in ("open", "closed", "retracted"):
        raise ValueError(f"unknown stored visit status {status!r}")
    content = replace(membership, seconds=_as_number(published_seconds))
    visit = visit_of(
        content,
        visit_id_for(issi, membership.area_id, membership.start),
        issi,
        "open" if status == "open" else "closed" if status == "closed" else "retracted",
        None if end is None else _as_number(end),
        policy,
    )
    visit = replace(
        visit,
        mode=_as_mode(mode),
        activity="reactive" if activity == "reactive" else "proactive",
        incident_category=None if published_category is None else _as_str(published_category),
        stop_search=bool(published_list[6]) if len(published_list) > 6 else False,
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
