"""The stored (JSON) form of one recent fix, made once when the fix is applied.

:func:`~streams.domain.tracks.codec.track_to_json` splices these entries into a stored track
as they are, so a track is written without encoding its recent fixes again.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from streams.domain.encoding import kept_json
from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.tracks.model import UNKNOWN_UNIT, FixContext

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


def fix_to_list(fix: Fix) -> StoredEntry:
    """``[ts, lat, lon, accuracy_m, speed_mps, heading_deg]`` without trailing nulls."""
    if fix.heading_deg is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m, fix.speed_mps, fix.heading_deg)
    if fix.speed_mps is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m, fix.speed_mps)
    if fix.accuracy_m is not None:
        return (fix.ts, fix.lat, fix.lon, fix.accuracy_m)
    return (fix.ts, fix.lat, fix.lon)


def stored_place(fix: Fix, location: Location) -> StoredEntry:
    """The first three items of a stored recent fix: the fix, ``inside``, ``near``-only."""
    inside = location.inside
    near = location.near
    return (
        fix_to_list(fix),
        tuple(sorted(inside)) if inside else (),
        tuple(sorted(near - inside)) if near else (),
    )


def stored_entry(
    place: StoredEntry, context: FixContext, previous_context: FixContext | None
) -> bytes:
    """A stored recent fix as JSON: its place and its context, ``null`` when equal to the
    previous."""
    stored_context = None if context == previous_context else context_to_list(context)
    return kept_json((*place, stored_context))


def context_elided(stored: bytes) -> bool:
    """Whether a stored recent fix leaves its context out (its last item is ``null``; a stored
    context is a list)."""
    return stored.endswith(b",null]")


def context_to_list(context: FixContext) -> StoredEntry:
    """``[role, device, callsign, assigned, unit, incident_categories, stop_searches]`` without
    trailing defaults (:func:`trimmed`), so a context stored before units or incident categories
    were kept reads with the unknown unit and none."""
    return trimmed(
        (
            context.role,
            context.device,
            context.callsign,
            tuple(sorted(context.assigned_areas)),
            context.unit,
            tuple(context.incident_categories),
            tuple(sorted(context.stop_searches)),
        ),
        _CONTEXT_DEFAULTS,
    )


_CONTEXT_DEFAULTS: Final[StoredEntry] = (None, (), UNKNOWN_UNIT, (), ())
"""The defaults of a stored context's items after its role and device."""


def trimmed(stored: StoredEntry, defaults: StoredEntry) -> StoredEntry:
    """``stored`` without its trailing items equal to their defaults; ``defaults`` are those of
    its last ``len(defaults)`` items, read back as the defaults when absent."""
    head = len(stored) - len(defaults)
    end = len(stored)
    while end > head and stored[end - 1] == defaults[end - 1 - head]:
        end -= 1
    return stored[:end]
