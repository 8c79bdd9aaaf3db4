"""The values of a radio's track: policy, context, visits, facts and the track state itself.

Everything here is a frozen value; :mod:`~streams.domain.tracks.machine` and
:mod:`~streams.domain.tracks.replay` turn fixes into new ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import field
from typing import Final, Literal, TypeAlias

from streams.domain.fences import Location
from streams.domain.fixes import Fix
from streams.domain.records import record

Mode: TypeAlias = Literal["foot", "vehicle"]
Activity: TypeAlias = Literal["proactive", "reactive"]
Device: TypeAlias = Literal["handheld", "vehicle"]
VisitStatus: TypeAlias = Literal["open", "closed", "retracted"]
RejectReason: TypeAlias = Literal["too_late", "implausible_speed", "duplicate"]

UNKNOWN_UNIT: Final = "unknown"
"""The unit of a radio not on the roster (and of contexts stored before units were kept)."""


@record
class Policy:
    """How fixes become memberships, visits and dose; defaults are the product's.

    ``exit_buffer_m`` documents the buffer the :class:`~streams.domain.fences.FenceIndex` that
    computes each fix's :class:`Location` must be built with; the track itself only reads
    ``Location.near``. Beyond the brief: ``exit_debounce_s`` (how long fixes must stay outside
    the buffer before an exit is confirmed; see :mod:`~streams.domain.tracks.machine`) and
    ``outliers_to_reset`` (agreeing implausible fixes that restart the track).

    ``stuck_fixes``, ``stuck_s`` and ``frozen_tolerance_deg`` say when a radio is *stuck*: at
    least ``stuck_fixes`` consecutive accepted fixes over at least ``stuck_s`` seconds, each
    within ``frozen_tolerance_deg`` (latitude and longitude) of the first of them (see
    :mod:`~streams.domain.tracks.machine`; the defaults are justified in docs/time-model.md).
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
    stuck_fixes: int = 10
    stuck_s: float = 600.0
    frozen_tolerance_deg: float = 1e-6


@record
class FixContext:
    """Who carries the radio at a fix, and the areas of the open incidents they are assigned to.

    ``incident_categories``: ``(area_id, category)`` of the incident attended in each assigned
    area that has a known category (sorted; one per area, see
    :func:`~streams.domain.joins.incident_categories_at`). ``stop_searches``: ``(ts, area_id)``
    of the stop-searches by the callsign made in the ``max_gap_s`` up to the fix
    (:func:`~streams.domain.joins.stop_searches_near`): the dose segment this fix closes is
    ``stop_search`` in an area where one of them was made during it. A fix is classified once
    the stop-searches up to its time have been read, never later ones, so which segment is
    marked does not depend on how far ahead the stop-searches were read. ``unit`` is
    the roster's department / NPU of the officer (:data:`UNKNOWN_UNIT` when not on the roster).
    """

    role: str
    device: Device
    callsign: str | None = None
    assigned_areas: frozenset[str] = frozenset()
    incident_categories: tuple[tuple[str, str], ...] = ()
    stop_searches: frozenset[tuple[float, str]] = frozenset()
    unit: str = UNKNOWN_UNIT

    def incident_category(self, area_id: str) -> str | None:
        """The category of the incident attended in ``area_id`` (None: not known, or none)."""
        for area, category in self.incident_categories:
            if area == area_id:
                return category
        return None

    def stop_searched(self, area_id: str, start: float, end: float) -> bool:
        """Whether a stop-search by the callsign in ``area_id`` was made during the segment
        ``[start, end)``."""
        return any(area == area_id and start <= ts < end for ts, area in self.stop_searches)


@record
class Visit:
    """One officer's continuous presence in one area, as published (``presence.visits``).

    ``visit_id`` and ``issi`` are internal: the published value carries a keyed id and the
    officer's pseudonym instead (:func:`streams.domain.publication.visit_value`). ``role`` and
    ``unit`` are those of the officer carrying the radio when the visit started.
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
    incident_category: str | None = None
    """The category of the incident attended during the visit (of the incident with the most
    reactive seconds, even when most of the visit was proactive); None when none of the visit
    was reactive or the category is not known."""
    stop_search: bool = False
    """A stop-search by the officer's callsign in the area fell in the visit's dose."""
    inferred: bool = False
    """Made from the straight line between fixes, not from ``enter_fixes`` fixes inside
    (:mod:`~streams.domain.tracks.crossings`): closed at once, a drive-through, never
    qualifying."""
    unit: str = UNKNOWN_UNIT


@record
class VisitRecorded:
    """A visit opened, changed, closed or was retracted; the highest revision is the truth."""

    visit: Visit


@record
class DoseAccrued:
    """Officer-seconds in an area over ``[start, end]``; negative when correcting earlier dose.

    ``role``, ``activity`` and ``unit`` are those of the fix that opened the segment.
    ``inferred`` dose is that of an inferred visit (:mod:`~streams.domain.tracks.crossings`),
    kept in a split of its own."""

    area_id: str
    start: float
    end: float
    role: str
    mode: Mode
    activity: Activity
    seconds: float
    incident_category: str | None = None
    """Reactive dose: the category of the incident attended (None: proactive, or not known)."""
    stop_search: bool = False
    """A stop-search by the officer's callsign in the area was made during the segment (the
    dose of its minute: the segment between the fixes around it)."""
    inferred: bool = False
    unit: str = UNKNOWN_UNIT


@record
class FixRejected:
    """A fix was not used (``implausible_speed`` may later be accepted if late data changes it)."""

    fix: Fix
    reason: RejectReason


@record
class MembershipChanged:
    """The radio is now present (with this role, mode and unit) in an area, or no longer
    present."""

    issi: str
    area_id: str
    present: bool
    role: str
    mode: Mode
    unit: str = UNKNOWN_UNIT


Fact: TypeAlias = VisitRecorded | DoseAccrued | FixRejected | MembershipChanged


@record
class Membership:
    """The radio's relation to one area: entering, present (a visit), or leaving.

    ``role`` and ``unit`` are the officer's when the radio entered (the visit's).
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
    reactive_categories: tuple[tuple[str, float], ...] = ()
    """Committed reactive seconds by incident category (sorted by category)."""
    stop_search: bool = False
    """Committed dose of the visit includes ``stop_search`` dose."""
    unit: str = UNKNOWN_UNIT


@record
class TrackState:
    """Everything :func:`step` needs to know about a radio after some fixes.

    ``frozen_from`` is the first fix of the current *frozen run* (the accepted fixes since then
    are all at its position, within ``Policy.frozen_tolerance_deg``) and ``frozen_fixes`` how
    many fixes the run has; ``stuck`` says the run has been judged stuck (the radio covers
    nothing); ``run_dose`` is the dose published since the run began, taken back if it is judged
    stuck (empty once judged, or when the run is one fix).
    """

    last_fix: Fix | None = None
    context: FixContext | None = None
    last_segment_fast: bool = False
    mode: Mode = "foot"
    memberships: tuple[Membership, ...] = ()
    outliers: tuple[Fix, ...] = ()
    frozen_from: Fix | None = None
    frozen_fixes: int = 0
    stuck: bool = False
    run_dose: tuple[DoseAccrued, ...] = ()
    entry_parts: tuple[DoseAccrued, ...] = ()
    """For each area the last fix began a pending entry into, the inferred dose of the part of
    the segment before it that ran inside the area (:mod:`~streams.domain.tracks.crossings`)."""


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


def entry_ts(entry: RecentFix) -> float:
    """The time of a recent fix (the key its entries are kept sorted by)."""
    return entry.fix.ts
