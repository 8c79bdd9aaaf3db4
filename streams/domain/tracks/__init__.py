"""One radio's track: area membership with hysteresis, visits, dose, in event time.

The package, by concern (each module's docstring has the rules it implements):

- :mod:`~streams.domain.tracks.model`: the values (policy, fix context, visits, facts, the
  track state and the track);
- :mod:`~streams.domain.tracks.machine`: :func:`step`, the pure state machine that applies one
  fix in timestamp order (entry, exit debounce, gaps, dose, outliers);
- :mod:`~streams.domain.tracks.crossings`: inferred visits, made from the straight line
  between fixes when a short pass left fewer than ``enter_fixes`` fixes inside an area;
- :mod:`~streams.domain.tracks.replay`: event time: :func:`advance` applies a fix in order or,
  when late, replays the suffix after it and publishes the difference; :func:`recontext` does
  the same when a join learns something late;
- :mod:`~streams.domain.tracks.expiry`: what the clock settles (:func:`expire`) and when a
  silent radio can be forgotten (:func:`forgettable`);
- :mod:`~streams.domain.tracks.health`: whether a radio is live, stale, stuck or off duty at
  an instant (:func:`radio_health`);
- :mod:`~streams.domain.tracks.stored` and :mod:`~streams.domain.tracks.codec`: the compact
  JSON form a track is kept in (:func:`track_to_json`, :func:`track_from_json`).

Callers import from the package: ``from streams.domain.tracks import advance, Track``.
"""

from streams.domain.tracks.codec import track_from_json, track_to_json
from streams.domain.tracks.crossings import SegmentCrossings, inferred_visit_id
from streams.domain.tracks.expiry import (
    clock_settles,
    expire,
    forget_after_s,
    forgettable,
    needs_expiry,
)
from streams.domain.tracks.health import (
    HEALTH_STATES,
    Health,
    count_by_health,
    radio_health,
    shown_health,
    track_health,
)
from streams.domain.tracks.machine import LONGEST_DISTANCE_M, step, visit_id_for
from streams.domain.tracks.model import (
    EMPTY_STATE,
    UNKNOWN_UNIT,
    Activity,
    Device,
    DoseAccrued,
    Fact,
    FixContext,
    FixRejected,
    Membership,
    MembershipChanged,
    Mode,
    Policy,
    RecentFix,
    RejectReason,
    Track,
    TrackState,
    Visit,
    VisitRecorded,
    VisitStatus,
    new_track,
)
from streams.domain.tracks.replay import advance, advance_at, recontext
from streams.domain.tracks.stored import JsonValue, StoredEntry

__all__ = [
    "EMPTY_STATE",
    "HEALTH_STATES",
    "LONGEST_DISTANCE_M",
    "UNKNOWN_UNIT",
    "Activity",
    "Device",
    "DoseAccrued",
    "Fact",
    "FixContext",
    "FixRejected",
    "Health",
    "JsonValue",
    "Membership",
    "MembershipChanged",
    "Mode",
    "Policy",
    "RecentFix",
    "RejectReason",
    "SegmentCrossings",
    "StoredEntry",
    "Track",
    "TrackState",
    "Visit",
    "VisitRecorded",
    "VisitStatus",
    "advance",
    "advance_at",
    "clock_settles",
    "count_by_health",
    "expire",
    "forget_after_s",
    "forgettable",
    "inferred_visit_id",
    "needs_expiry",
    "new_track",
    "radio_health",
    "recontext",
    "shown_health",
    "step",
    "track_from_json",
    "track_health",
    "track_to_json",
    "visit_id_for",
]
