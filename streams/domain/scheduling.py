"""When the coverage evaluator does work: which areas it judges again, which get a new view, which
snapshots it publishes, and how long it rests between evaluations.

Pure decisions over wall-clock seconds (``wall_now``, monotonic) and event-clock seconds
(``now``); the evaluator (``streams.engines.coverage``) reads the clocks and does the I/O. With
thousands of areas, most of them quiet, evaluating, building and publishing every area on every
cycle would cost more than everything else the service does: these rules keep the work to what
can have changed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from streams.domain.coverage import LONG_GAP_LIMITS, CoveragePolicy, CoverageStatus, limit_at
from streams.domain.encoding import kept_json
from streams.domain.snapshots import AreaFacts

EVALUATION_SHARE = 0.5
"""At most this share of a worker's wall time goes to evaluating: after an evaluation that took
``d`` seconds, the next waits until ``d * (1 / share - 1)`` seconds have passed (under heavy load
the coverage picture refreshes less often instead of starving the agents, which would make
everything late)."""
SNAPSHOT_REFRESH_S = 60.0
"""An unchanged snapshot is published again after this many seconds of wall time."""
VIEW_REFRESH_S = 10.0
"""An area whose coverage state, severity and alert did not change gets a new view (snapshot,
metrics) at most this often (wall time); its first change after a quiet spell shows at once."""
REEVALUATE_AFTER_S = 30.0
"""An area whose facts did not change is evaluated again after this many seconds of wall time
(on the wall clock, not the event clock: a replay at 100x must not re-evaluate every area on
every cycle; what the event clock alone changes is caught by :func:`due_again`)."""

SnapshotDue = Literal["changed", "refresh"]


def rest_until(started: float, finished: float) -> float:
    """When the next evaluation may start, after one from ``started`` to ``finished`` (so that
    evaluating takes at most :data:`EVALUATION_SHARE` of the wall time)."""
    return finished + (finished - started) * (1.0 / EVALUATION_SHARE - 1.0)


def due_again(
    policy: CoveragePolicy,
    previous: CoverageStatus,
    evaluated_at: float,
    now: float,
    wall_elapsed_s: float,
) -> bool:
    """Whether an area whose facts did not change must still be evaluated at ``now``: its state
    or severity can change with the event clock alone (a threshold, a band boundary or the long
    gap that makes an uncovered area's severity high is crossed), or its
    last evaluation is ``wall_elapsed_s`` >= :data:`REEVALUATE_AFTER_S` seconds of wall time ago
    (ages and windows in its snapshot)."""
    if wall_elapsed_s >= REEVALUATE_AFTER_S:
        return True
    limit = limit_at(policy, now)
    if limit != previous.limit_s:
        return True
    elapsed = previous.elapsed_s + (now - evaluated_at)
    if previous.state == "covered":
        return elapsed >= (1 - policy.at_risk_share) * limit
    if previous.state == "uncovered":
        long_gap = elapsed >= LONG_GAP_LIMITS * limit
        return long_gap and previous.severity not in ("high", "critical")
    return previous.state == "at_risk" and elapsed >= limit


def due_at(policy: CoveragePolicy, previous: CoverageStatus, evaluated_at: float) -> float:
    """The event time from which :func:`due_again` holds for an area evaluated at
    ``evaluated_at`` with ``previous``, while the limit in force stays ``previous.limit_s`` and
    its wall time does not run out (infinite: never by the event clock alone). Computed apart
    from :func:`due_again`, it can differ from it in the last bit: a caller waiting for it asks
    :func:`due_again` a little before."""
    limit = previous.limit_s
    if previous.state == "covered":
        threshold = (1 - policy.at_risk_share) * limit
    elif previous.state == "uncovered" and previous.severity not in ("high", "critical"):
        threshold = LONG_GAP_LIMITS * limit
    elif previous.state == "at_risk":
        threshold = limit
    else:
        return math.inf
    return evaluated_at + threshold - previous.elapsed_s


def view_due(shown: CoverageStatus | None, status: CoverageStatus, built_s_ago: float) -> bool:
    """Whether an area evaluated again gets a new view: its coverage state, when that state
    began, why (unknown), its severity or its alert differs from the one its view shows (a
    state left and entered again between two views, as in a catch-up over many instants, began
    anew), or that view was built :data:`VIEW_REFRESH_S` or more seconds (wall time) ago."""
    return (
        shown is None
        or (shown.state, shown.state_since, shown.severity, shown.active_alert, shown.reason)
        != (status.state, status.state_since, status.severity, status.active_alert, status.reason)
        or built_s_ago >= VIEW_REFRESH_S
    )


def spread_start(area_id: str, wall_now: float, interval_s: float) -> float:
    """The wall time an area's first view or snapshot counts as made at, for its refresh every
    ``interval_s``: earlier than ``wall_now`` by a fixed share of the interval per area, so that
    the areas of a pack first seen together (a worker's first evaluation of 10,000 areas) come
    due again spread over the interval rather than all in one evaluation."""
    return wall_now - interval_s * (zlib.crc32(area_id.encode()) / 2**32)


def snapshot_due(
    last: tuple[bytes, float] | None, fingerprint: bytes, wall_now: float
) -> SnapshotDue | None:
    """Whether an area's snapshot is published now, given the last one published (its content
    fingerprint and wall time): ``changed`` content, a ``refresh`` of unchanged content once
    :data:`SNAPSHOT_REFRESH_S` has passed, or ``None``."""
    if last is None or last[0] != fingerprint:
        return "changed"
    return "refresh" if wall_now - last[1] >= SNAPSHOT_REFRESH_S else None


def facts_fingerprint(facts: AreaFacts) -> tuple[object, ...]:
    """What changes when an area's coverage or snapshot can change, other than the clock."""
    return (
        tuple(sorted(facts.present.items())),
        tuple(sorted(facts.units.items())),
        facts.last_qualifying_end,
        facts.visits_today.visits,
        tuple(sorted(facts.open_incidents.items())),
        round(sum(facts.dose_windows.get(900, {}).values()), 1),
        round(facts.patrol_windows.get(900, 0.0), 1),
        round(sum(sum(totals.values()) for totals in facts.demand_windows.values()), 3),
    )


UNTOUCHED_FINGERPRINT: tuple[object, ...] = ((), (), None, 0, (), 0.0, 0.0, 0.0)
""":func:`facts_fingerprint` of an area with no presence or demand state at all (most of a
large pack, most of the time): the evaluator skips building such an area's facts unless it is
due again."""


def snapshot_fingerprint(snapshot: Mapping[str, Any]) -> tuple[object, bytes]:
    """A snapshot's ``ts`` and its content fingerprint: the rest of it encoded with sorted keys.
    The fingerprint is kept per area until the area's next snapshot, so in a buffer of its own
    size (:func:`~streams.domain.encoding.kept_json`: with 10,000 areas, orjson's own 4 KB
    buffers held ~40 MB for ~12 MB of fingerprints)."""
    body = dict(snapshot)
    ts = body.pop("ts")
    return ts, kept_json(body, option=orjson.OPT_SORT_KEYS)


def with_ts(ts: object, body: bytes) -> bytes:
    """A snapshot encoded as its ``ts`` followed by the members of ``body`` (a JSON object
    without ``ts``): the snapshot's content fingerprint is encoded once and published as is."""
    stamp = b'{"ts":' + orjson.dumps(ts)
    return stamp + b"}" if body == b"{}" else stamp + b"," + body[1:]
