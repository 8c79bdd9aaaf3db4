"""Coverage of areas: the policy, the state, its severity and the alert lifecycle, on the clock.

Everything here is pure: time is the ``now`` argument (seconds since the Unix epoch), and the
caller (a timer that fires every two seconds or less, also when no data arrives) passes what it
knows about an area as :class:`CoverageInputs` and the area's last :class:`CoverageStatus`.

Policy (:func:`policy_for`)
    An area's ``properties.policy`` overrides, key by key, the defaults of its kind. Every kind
    defaults to a qualifying visit at least every 2 h in the local band 18:00-02:00 and every
    4 h otherwise; ``impact`` areas alert, ``comparison`` and ``other`` areas are measured only
    (``alert`` false). Bands are ``[start, end)`` in local wall-clock time (the policy's time
    zone, Europe/London unless configured); a band whose end is before its start runs past
    midnight, one whose end equals its start covers the whole day; where bands overlap the first
    listed wins. :func:`limit_at` is the max gap of the band in force at ``now``'s local time
    (zoneinfo, so DST-correct), so the limit shortens the moment a stricter band begins.

State (:func:`evaluate`)
    - ``elapsed = now - (last_qualifying_visit_end or since)``, never below zero; ``since`` is
      when monitoring of the area began (it must be stored by the caller, not restarted).
    - ``unknown`` when the feed cannot tell, with a **reason** (:data:`COVERAGE_REASONS`):
      ``nobody_on_duty`` (no radio on duty), ``feed_silent`` (no fix from any radio within
      ``FeedPolicy.stale_after_s``, or none ever, or none of the radios on duty reported when
      that is measured). A dead feed is never reported as uncovered.
    - otherwise ``uncovered`` when ``elapsed >= limit``, ``at_risk`` when
      ``elapsed >= (1 - at_risk_share) * limit``, else ``covered``;
    - but ``unknown`` with reason ``feed_degraded`` instead of ``at_risk`` or ``uncovered``
      when the feed is partly lost: at most ``FeedPolicy.degraded_share`` of the radios on
      duty reported (``CoverageInputs.radios_reporting``, when measured; half of them silent is
      degraded by default, a share of 0 turns the rule off). Only the states that claim absence
      are withheld: an area with a qualifying visit recent enough stays ``covered`` (presence is
      evidence, as a qualifying visit clears an alert on a stale feed).
    - ``reason`` is None in every other state. (``ingest_lag``, the fourth reason, is never
      judged: it is shown when the service serves views older than the ingest bound, see
      ``streams.domain.feedhealth``.)
    - ``state_since`` is when the state began by its inputs (``_state_began``): the gap start
      for ``covered``, the gap crossing the at-risk share or the limit (or a stricter band
      beginning) for ``at_risk`` and ``uncovered``, the feed's last fix plus the stale time for
      ``unknown``; not the evaluation that first saw it, so it does not depend on when
      evaluations ran (only ``unknown`` for nobody on duty or a degraded feed takes the
      evaluation's ``now``: on the event clock every instant is judged in turn, so that is the
      first instant judged so).

Severity
    ``at_risk`` is low and ``uncovered`` medium; ``uncovered`` with nobody present is high once
    the gap has lasted :data:`LONG_GAP_LIMITS` times the limit in force (an area uncovered all
    night is not left at medium) or with an open ``priority`` incident, and critical with an
    open ``immediate`` incident. ``covered`` and ``unknown`` have no severity. Demand does not
    raise ``at_risk``: the policy limit has not been reached yet; nor does anything raise an
    area where an officer is present (the gap may be closing).

Alert lifecycle (alerting areas only)
    - ``raised`` when no alert is active and the area is ``at_risk`` or ``uncovered``; never
      while ``unknown``, nor for ``at_risk`` while a visit going on will qualify before the
      limit if the officer stays (``present_since`` plus ``qualifying_s``: the gap is closing).
      The reason says when officers are present, and that presence counts only once a visit
      has lasted the qualifying time.
    - ``escalated`` when the severity rises above the highest severity of the active alert. The
      alert keeps its highest severity: an officer passing through (dropping critical to medium
      and back) does not escalate again, and nothing is emitted when severity falls.
    - ``cleared`` only by a qualifying visit that ended after the gap the alert is about began
      (so a qualifying visit reported late still clears); a passing ping, a drive-through or
      officers present do not clear, nor does a longer band beginning (the alert stays active
      while the state reads covered), nor does ``unknown``. A qualifying visit clears even when
      the feed has since gone stale: it is evidence, not the lack of it. An alert is also
      cleared when the area's policy stops alerting (an area pack update). The reason says
      how long the visit lasted and whether it is still going on: "qualifying visit in
      progress: officers in the area for 0h12m", "qualifying visit of 0h15m ended 0h05m ago".
    - one alert per coverage gap: ``alert_id`` is ``"{area_id}:{gap start in ms}"`` (a SHA-256
      digest when that exceeds the 64 characters of an id), so an evaluator that restarted and
      lost its state raises the same id again rather than a new one.
    - evaluating twice at the same ``now`` with the same inputs, passing the first result as
      ``previous``, emits nothing the second time.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Final, Literal, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from streams.domain.areas import AreaDefinition
from streams.domain.timefmt import format_ts

CoverageState: TypeAlias = Literal["covered", "at_risk", "uncovered", "unknown"]
Severity: TypeAlias = Literal["low", "medium", "high", "critical"]
AlertEventKind: TypeAlias = Literal["raised", "escalated", "cleared"]
Grade: TypeAlias = Literal["immediate", "priority", "scheduled", "resolution"]

COVERAGE_STATES: Final[tuple[CoverageState, ...]] = ("covered", "at_risk", "uncovered", "unknown")
LONG_GAP_LIMITS: Final = 2.0
"""An uncovered area with nobody present is ``high`` once its gap lasts this many limits."""
SEVERITIES: Final[tuple[Severity, ...]] = ("low", "medium", "high", "critical")
"""Severities from least to most severe."""
GRADES: Final[tuple[Grade, ...]] = ("immediate", "priority", "scheduled", "resolution")
CoverageReason: TypeAlias = Literal["feed_silent", "nobody_on_duty", "feed_degraded", "ingest_lag"]
COVERAGE_REASONS: Final[tuple[CoverageReason, ...]] = (
    "feed_silent",
    "nobody_on_duty",
    "feed_degraded",
    "ingest_lag",
)
"""Why an area is ``unknown`` (the first three are judged; ``ingest_lag`` is shown when served)."""
JUDGED_REASONS: Final[tuple[CoverageReason, ...]] = COVERAGE_REASONS[:3]

DEFAULT_TIMEZONE: Final = "Europe/London"
SECONDS_PER_MINUTE: Final = 60
MINUTES_PER_DAY: Final = 1440
_POLICY_KEYS: Final = frozenset({"bands", "default_max_gap_minutes", "alert"})
_BAND_KEYS: Final = frozenset({"start", "end", "max_gap_minutes"})
_MAX_ID_LENGTH: Final = 64
_LOCAL_TIME: Final = re.compile(r"(?P<hours>[01][0-9]|2[0-3]):(?P<minutes>[0-5][0-9])")

Choice = TypeVar("Choice", bound=str)


class CoveragePolicyError(ValueError):
    """An area's coverage policy object cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class PolicyBand:
    """A daily local-time band ``[start, end)`` in minutes after midnight, and its max gap."""

    start_minute: int
    end_minute: int
    max_gap_s: float

    def contains(self, minute_of_day: int) -> bool:
        """Whether the local minute of the day lies in the band (see the module rules)."""
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute_of_day < self.end_minute
        if self.start_minute > self.end_minute:
            return minute_of_day >= self.start_minute or minute_of_day < self.end_minute
        return True

    @property
    def label(self) -> str:
        """The band as written in a policy: ``18:00-02:00``."""
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


@dataclass(frozen=True, slots=True)
class CoveragePolicy:
    """How often an area needs a qualifying visit, whether it alerts, and in which time zone."""

    bands: tuple[PolicyBand, ...]
    default_max_gap_s: float
    alert: bool
    timezone: str = DEFAULT_TIMEZONE
    at_risk_share: float = 0.2

    def __post_init__(self) -> None:
        gaps = [self.default_max_gap_s, *(band.max_gap_s for band in self.bands)]
        if not all(gap > 0 for gap in gaps):
            raise CoveragePolicyError("every max gap must be positive")
        if not 0.0 <= self.at_risk_share < 1.0:
            raise CoveragePolicyError("at_risk_share must be in [0, 1)")


DEFAULT_BANDS: Final[tuple[PolicyBand, ...]] = (
    PolicyBand(18 * 60, 2 * 60, 120.0 * SECONDS_PER_MINUTE),
)
"""A qualifying visit at least every 2 h between 18:00 and 02:00 local time."""
DEFAULT_MAX_GAP_S: Final = 240.0 * SECONDS_PER_MINUTE
"""A qualifying visit at least every 4 h outside the bands."""


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """When the location feed counts as dead: no fix from any radio for ``stale_after_s``; and
    as degraded: at most ``degraded_share`` (a share) of the radios on duty reported."""

    stale_after_s: float = 300.0
    degraded_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.degraded_share < 1.0:
            raise CoveragePolicyError("degraded_share must be in [0, 1)")


DEFAULT_FEED: Final = FeedPolicy()
DEFAULT_QUALIFYING_S: Final = 600.0
"""How long a visit must last to qualify, unless configured (``COVERWATCH_QUALIFYING_S``)."""


@dataclass(frozen=True, slots=True)
class CoverageInputs:
    """What the caller knows about one area at the evaluation.

    ``last_qualifying_visit_end``: the end of the latest qualifying visit (a qualifying visit
    still in progress counts as ending at its latest fix). ``feed_last_fix_ts``: the latest fix
    from any radio. ``since``: when monitoring of this area began, the gap start when there
    never was a qualifying visit.
    """

    last_qualifying_visit_end: float | None
    officers_present: int
    open_incidents: Mapping[Grade, int]
    feed_last_fix_ts: float | None
    officers_on_duty: int
    since: float
    radios_reporting: int | None = None
    """How many of the ``officers_on_duty`` radios reported (a fix within ``max_gap`` before the
    evaluation, :mod:`streams.domain.feedhealth`); None: not measured, the feed is taken as
    whole."""
    last_qualifying_visit_start: float | None = None
    """When the visit that ``last_qualifying_visit_end`` ends began (None: not known), so that
    a clear can say how long the visit lasted."""
    last_qualifying_visit_ongoing: bool = False
    """Whether that visit was still going on at the evaluation."""
    present_since: float | None = None
    """When the longest visit going on at the evaluation began (None: nobody present)."""
    qualifying_s: float = DEFAULT_QUALIFYING_S
    """How long a visit must last to qualify."""

    def visit_qualifies_at(self) -> float | None:
        """When the longest visit going on will qualify if the officer stays (None: nobody
        present)."""
        return None if self.present_since is None else self.present_since + self.qualifying_s


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """The alert open for an area: its id, the gap it is about, and its highest severity yet."""

    alert_id: str
    gap_start: float
    raised_ts: float
    severity: Severity
    state: CoverageState


@dataclass(frozen=True, slots=True)
class CoverageStatus:
    """An area's coverage at one evaluation; stored and passed back as ``previous``."""

    area_id: str
    state: CoverageState
    severity: Severity | None
    elapsed_s: float
    limit_s: float
    state_since: float
    active_alert: ActiveAlert | None
    reason: CoverageReason | None = None
    """Why the state is ``unknown`` (None in the other states)."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One step of an alert's lifecycle: everything a ``coverage.alerts`` value carries."""

    alert_id: str
    area_id: str
    event: AlertEventKind
    state: CoverageState
    severity: Severity
    reason: str
    since: float
    ts: float
    last_qualifying_visit_end: float | None
    officers_present: int
    open_incidents: Mapping[Grade, int]
    state_reason: CoverageReason | None = None
    """Why the area was ``unknown`` when the event was judged (a cleared alert), else None."""


def policy_for(area: AreaDefinition, timezone: str = DEFAULT_TIMEZONE) -> CoveragePolicy:
    """The area's coverage policy: its ``policy`` overrides over the defaults of its kind.

    Raises :class:`CoveragePolicyError` naming the area when the override cannot be used.
    """
    override = area.policy or {}
    try:
        unknown_keys = sorted(set(override) - _POLICY_KEYS)
        if unknown_keys:
            raise CoveragePolicyError(f"unknown policy keys {unknown_keys}")
        bands = DEFAULT_BANDS
        if "bands" in override:
            raw_bands = override["bands"]
            if not isinstance(raw_bands, list):
                raise CoveragePolicyError("'bands' must be a list")
            bands = tuple(_parse_band(band) for band in raw_bands)
        default_max_gap_s = DEFAULT_MAX_GAP_S
        if "default_max_gap_minutes" in override:
            default_max_gap_s = _gap_seconds(override["default_max_gap_minutes"])
        alert = override.get("alert", area.kind == "impact")
        if not isinstance(alert, bool):
            raise CoveragePolicyError("'alert' must be true or false")
        return CoveragePolicy(bands, default_max_gap_s, alert, timezone)
    except CoveragePolicyError as problem:
        raise CoveragePolicyError(f"area {area.area_id!r}: coverage policy: {problem}") from None


def band_at(policy: CoveragePolicy, now: float) -> PolicyBand | None:
    """The band in force at ``now``'s local time, or None outside every band."""
    minute_of_day = local_minute_of_day(now, policy.timezone)
    for band in policy.bands:
        if band.contains(minute_of_day):
            return band
    return None


def limit_at(policy: CoveragePolicy, now: float) -> float:
    """The longest allowed gap between qualifying visits at ``now``, in seconds."""
    band = band_at(policy, now)
    return policy.default_max_gap_s if band is None else band.max_gap_s


@lru_cache(maxsize=256)
def local_minute_of_day(ts: float, timezone: str) -> int:
    """The local wall-clock minute after midnight (0..1439) at ``ts`` in ``timezone``
    (memoised: one evaluation asks it of the same ``now`` for every area)."""
    local = datetime.fromtimestamp(ts, ZoneInfo(timezone))
    return local.hour * 60 + local.minute


def evaluate(
    area_id: str,
    policy: CoveragePolicy,
    inputs: CoverageInputs,
    previous: CoverageStatus | None,
    now: float,
    feed: FeedPolicy = DEFAULT_FEED,
) -> tuple[CoverageStatus, list[AlertEvent]]:
    """The area's coverage at ``now`` and the alert events it causes (rules: module docstring)."""
    band = band_at(policy, now)
    limit_s = policy.default_max_gap_s if band is None else band.max_gap_s
    gap_start = _gap_start(inputs)
    elapsed_s = max(0.0, now - gap_start)
    state, why = _coverage_state(elapsed_s, limit_s, policy.at_risk_share, inputs, now, feed)
    severity = _severity(state, inputs, elapsed_s, limit_s)
    kept_state = previous is not None and previous.state == state
    if previous is not None and kept_state:
        state_since = previous.state_since
    else:
        state_since = _state_began(state, policy, gap_start, limit_s, inputs, now, feed, why)
    status = CoverageStatus(
        area_id, state, severity, elapsed_s, limit_s, state_since, None, reason=why
    )
    alert = None if previous is None else previous.active_alert
    events: list[AlertEvent] = []
    if alert is not None:
        clear_reason = _clear_reason(alert, policy, inputs, now)
        if clear_reason is not None:
            events.append(_alert_event("cleared", alert, status, clear_reason, inputs, now))
            alert = None
    if policy.alert and severity is not None:
        reason = _gap_reason(status, band, inputs, now)
        if alert is None:
            if not _visit_will_qualify_in_time(state, gap_start, limit_s, inputs):
                alert = ActiveAlert(_alert_id(area_id, gap_start), gap_start, now, severity, state)
                events.append(_alert_event("raised", alert, status, reason, inputs, now))
        elif SEVERITIES.index(severity) > SEVERITIES.index(alert.severity):
            alert = replace(alert, severity=severity, state=state)
            events.append(_alert_event("escalated", alert, status, reason, inputs, now))
    return replace(status, active_alert=alert), events


def alert_value(event: AlertEvent) -> dict[str, object]:
    """The ``coverage.alerts`` value of an alert event."""
    last_visit = event.last_qualifying_visit_end
    return {
        "schema": "coverage.alerts/1",
        "alert_id": event.alert_id,
        "area_id": event.area_id,
        "event": event.event,
        "state": event.state,
        "severity": event.severity,
        "reason": event.reason,
        "since": format_ts(event.since),
        "ts": format_ts(event.ts),
        "evidence": {
            "last_qualifying_visit_end": None if last_visit is None else format_ts(last_visit),
            "officers_present": event.officers_present,
            "open_incidents": {
                grade: event.open_incidents[grade] for grade in sorted(event.open_incidents)
            },
            "state_reason": event.state_reason,
        },
    }


def status_to_dict(status: CoverageStatus) -> dict[str, object]:
    """The status as a JSON-safe dict, for storage; :func:`status_from_dict` reverses it."""
    alert = status.active_alert
    return {
        "area_id": status.area_id,
        "state": status.state,
        "severity": status.severity,
        "elapsed_s": status.elapsed_s,
        "limit_s": status.limit_s,
        "state_since": status.state_since,
        "active_alert": None
        if alert is None
        else {
            "alert_id": alert.alert_id,
            "gap_start": alert.gap_start,
            "raised_ts": alert.raised_ts,
            "severity": alert.severity,
            "state": alert.state,
        },
        "reason": status.reason,
    }


def status_from_dict(stored: Mapping[str, object]) -> CoverageStatus:
    """The status stored by :func:`status_to_dict`; ValueError when it is not one."""
    raw_alert = stored.get("active_alert")
    alert = None
    if raw_alert is not None:
        if not isinstance(raw_alert, Mapping):
            raise ValueError("stored coverage status: 'active_alert' must be an object or null")
        alert = ActiveAlert(
            _stored_text(raw_alert, "alert_id"),
            _stored_number(raw_alert, "gap_start"),
            _stored_number(raw_alert, "raised_ts"),
            _stored_choice(raw_alert, "severity", SEVERITIES),
            _stored_choice(raw_alert, "state", COVERAGE_STATES),
        )
    severity = (
        None if stored.get("severity") is None else _stored_choice(stored, "severity", SEVERITIES)
    )
    return CoverageStatus(
        _stored_text(stored, "area_id"),
        _stored_choice(stored, "state", COVERAGE_STATES),
        severity,
        _stored_number(stored, "elapsed_s"),
        _stored_number(stored, "limit_s"),
        _stored_number(stored, "state_since"),
        alert,
        reason=None
        if stored.get("reason") is None
        else _stored_choice(stored, "reason", COVERAGE_REASONS),
    )


def _gap_start(inputs: CoverageInputs) -> float:
    """When the current gap without a qualifying visit began."""
    if inputs.last_qualifying_visit_end is None:
        return inputs.since
    return inputs.last_qualifying_visit_end


def feed_dead_reason(inputs: CoverageInputs, now: float, feed: FeedPolicy) -> CoverageReason | None:
    """Why the location feed cannot tell where officers are at all (nobody on duty, or no
    fresh fix from any radio), or None when it can."""
    if inputs.officers_on_duty <= 0:
        return "nobody_on_duty"
    last_fix = inputs.feed_last_fix_ts
    if last_fix is None or now - last_fix > feed.stale_after_s or inputs.radios_reporting == 0:
        return "feed_silent"
    return None


def feed_degraded(inputs: CoverageInputs, feed: FeedPolicy) -> bool:
    """Whether at most ``feed.degraded_share`` of the radios on duty reported (never when not
    measured, nor when nobody reported: that is a silent feed)."""
    reporting = inputs.radios_reporting
    return (
        reporting is not None
        and reporting > 0
        and reporting <= feed.degraded_share * inputs.officers_on_duty
    )


def _coverage_state(
    elapsed_s: float,
    limit_s: float,
    at_risk_share: float,
    inputs: CoverageInputs,
    now: float,
    feed: FeedPolicy,
) -> tuple[CoverageState, CoverageReason | None]:
    """The coverage state and, when it is ``unknown``, why, by the module rules."""
    dead = feed_dead_reason(inputs, now, feed)
    if dead is not None:
        return "unknown", dead
    if elapsed_s >= limit_s:
        state: CoverageState = "uncovered"
    elif elapsed_s >= (1.0 - at_risk_share) * limit_s:
        state = "at_risk"
    else:
        return "covered", None
    if feed_degraded(inputs, feed):
        return "unknown", "feed_degraded"
    return state, None


def _state_began(
    state: CoverageState,
    policy: CoveragePolicy,
    gap_start: float,
    limit_s: float,
    inputs: CoverageInputs,
    now: float,
    feed: FeedPolicy,
    reason: CoverageReason | None = None,
) -> float:
    """When ``state`` began, worked out from the inputs rather than taken as ``now``, so that it
    does not depend on when evaluations happened to run: the moment the gap crossed the share of
    the limit that makes the state (or the limit now in force began, if later: a stricter band
    starting), the gap start for ``covered``, the moment the feed went silent for ``unknown``.
    Never after ``now``; ``now`` where the inputs cannot tell (nobody on duty, a degraded
    feed)."""
    if state == "unknown":
        last = inputs.feed_last_fix_ts
        if reason in ("nobody_on_duty", "feed_degraded"):
            return now
        return min(now, inputs.since if last is None else last + feed.stale_after_s)
    if state == "covered":
        threshold = gap_start
    elif state == "at_risk":
        threshold = gap_start + (1.0 - policy.at_risk_share) * limit_s
    else:
        threshold = gap_start + limit_s
    return min(now, max(threshold, _limit_in_force_since(policy, now, limit_s)))


def _limit_in_force_since(policy: CoveragePolicy, now: float, limit_s: float) -> float:
    """The start of the minute from which the limit ``limit_s`` has been in force until ``now``
    without a break (bands begin on whole local minutes), looking back at most a day. Minutes
    are counted back on the local clock face, so on a day the clocks change the answer can be an
    hour out; it only dates a state change that a band boundary caused."""
    minute = math.floor(now / SECONDS_PER_MINUTE) * SECONDS_PER_MINUTE
    local = local_minute_of_day(minute, policy.timezone)
    return float(minute - _minutes_in_force(policy, local, limit_s) * SECONDS_PER_MINUTE)


@lru_cache(maxsize=4096)
def _minutes_in_force(policy: CoveragePolicy, local_minute: int, limit_s: float) -> int:
    """How many whole minutes before ``local_minute`` the limit ``limit_s`` was in force without
    a break (at most a day); memoised, as most areas share a few policies."""
    minutes = 0
    while minutes < MINUTES_PER_DAY:
        earlier = (local_minute - minutes - 1) % MINUTES_PER_DAY
        band = next((b for b in policy.bands if b.contains(earlier)), None)
        if (policy.default_max_gap_s if band is None else band.max_gap_s) != limit_s:
            break
        minutes += 1
    return minutes


def _severity(
    state: CoverageState, inputs: CoverageInputs, elapsed_s: float, limit_s: float
) -> Severity | None:
    """The severity of a state given the open demand, who is present and how long the gap has
    lasted (module rules)."""
    if state == "at_risk":
        return "low"
    if state != "uncovered":
        return None
    if inputs.officers_present == 0:
        if inputs.open_incidents.get("immediate", 0) > 0:
            return "critical"
        if inputs.open_incidents.get("priority", 0) > 0 or _long_gap(elapsed_s, limit_s):
            return "high"
    return "medium"


def _long_gap(elapsed_s: float, limit_s: float) -> bool:
    """Whether a gap has lasted :data:`LONG_GAP_LIMITS` times the limit in force."""
    return elapsed_s >= LONG_GAP_LIMITS * limit_s


def _clear_reason(
    alert: ActiveAlert, policy: CoveragePolicy, inputs: CoverageInputs, now: float
) -> str | None:
    """Why the active alert clears now, or None while it stays active."""
    last_visit = inputs.last_qualifying_visit_end
    if last_visit is not None and last_visit > alert.gap_start:
        start = inputs.last_qualifying_visit_start
        if start is None or not math.isfinite(start) or start > last_visit:
            return f"qualifying visit completed {_duration(max(0.0, now - last_visit))} ago"
        lasted = _duration(last_visit - start)
        if inputs.last_qualifying_visit_ongoing:
            return f"qualifying visit in progress: officers in the area for {lasted}"
        return f"qualifying visit of {lasted} ended {_duration(max(0.0, now - last_visit))} ago"
    if not policy.alert:
        return "alerts disabled by the area's coverage policy"
    return None


def _visit_will_qualify_in_time(
    state: CoverageState, gap_start: float, limit_s: float, inputs: CoverageInputs
) -> bool:
    """Whether an area at risk has a visit going on that will qualify before the limit is
    reached, if the officer stays (no at-risk alert is raised for it)."""
    qualifies_at = inputs.visit_qualifies_at()
    return state == "at_risk" and qualifies_at is not None and qualifies_at <= gap_start + limit_s


def _gap_reason(
    status: CoverageStatus, band: PolicyBand | None, inputs: CoverageInputs, now: float
) -> str:
    """Why an area is at risk or uncovered, in words, with the demand that raised severity and
    any visit going on (presence counts once a visit has lasted the qualifying time)."""
    where = "outside bands" if band is None else f"in band {band.label}"
    if inputs.last_qualifying_visit_end is None:
        gap = f"no qualifying visit since monitoring began {_duration(status.elapsed_s)} ago"
    else:
        gap = f"no qualifying visit for {_duration(status.elapsed_s)}"
    reason = f"{gap} (limit {_duration(status.limit_s)} {where})"
    if status.severity in ("high", "critical"):
        demand = ", ".join(
            f"{inputs.open_incidents[grade]} open {grade}"
            for grade in ("immediate", "priority")
            if inputs.open_incidents.get(grade, 0) > 0
        )
        if demand:
            reason += f"; {demand} incident(s) and no officer present"
        else:
            reason += f"; over {LONG_GAP_LIMITS:g} times the limit and no officer present"
    if inputs.present_since is not None:
        reason += (
            f"; officers present for {_duration(max(0.0, now - inputs.present_since))}, a visit"
            f" counts once it has lasted {_duration(inputs.qualifying_s)}"
        )
    return reason


def _alert_event(
    kind: AlertEventKind,
    alert: ActiveAlert,
    status: CoverageStatus,
    reason: str,
    inputs: CoverageInputs,
    now: float,
) -> AlertEvent:
    """An alert event carrying the evidence it was decided on."""
    return AlertEvent(
        alert_id=alert.alert_id,
        area_id=status.area_id,
        event=kind,
        state=status.state,
        severity=alert.severity,
        reason=reason,
        since=status.state_since,
        ts=now,
        last_qualifying_visit_end=inputs.last_qualifying_visit_end,
        officers_present=inputs.officers_present,
        open_incidents=dict(inputs.open_incidents),
        state_reason=status.reason,
    )


def _alert_id(area_id: str, gap_start: float) -> str:
    """The id of the alert about the gap that began at ``gap_start`` (module rules)."""
    alert_id = f"{area_id}:{round(gap_start * 1000)}"
    if len(alert_id) <= _MAX_ID_LENGTH:
        return alert_id
    return "al-" + hashlib.sha256(alert_id.encode()).hexdigest()[:40]


def _duration(seconds: float) -> str:
    """A duration as hours and minutes: ``2h08m``."""
    minutes = math.floor(seconds / SECONDS_PER_MINUTE)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _hhmm(minute_of_day: int) -> str:
    """A minute of the day as ``HH:MM``."""
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _parse_band(raw: object) -> PolicyBand:
    """One band object of a policy."""
    if not isinstance(raw, Mapping) or set(raw) != _BAND_KEYS:
        raise CoveragePolicyError("each band needs exactly 'start', 'end' and 'max_gap_minutes'")
    return PolicyBand(
        _minute_of_day(raw["start"]),
        _minute_of_day(raw["end"]),
        _gap_seconds(raw["max_gap_minutes"]),
    )


def _minute_of_day(raw: object) -> int:
    """A local time ``HH:MM`` (24-hour) as minutes after midnight."""
    matched = _LOCAL_TIME.fullmatch(raw) if isinstance(raw, str) else None
    if matched is None:
        raise CoveragePolicyError(f"local time {raw!r} is not HH:MM (24-hour)")
    return int(matched["hours"]) * 60 + int(matched["minutes"])


def _gap_seconds(raw: object) -> float:
    """A whole number of minutes of at least 1, in seconds."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise CoveragePolicyError(f"max gap {raw!r} must be a whole number of minutes >= 1")
    return float(raw * SECONDS_PER_MINUTE)


def _stored_text(stored: Mapping[str, object], key: str) -> str:
    """A string field of a stored status."""
    value = stored.get(key)
    if not isinstance(value, str):
        raise ValueError(f"stored coverage status: {key!r} must be a string")
    return value


def _stored_number(stored: Mapping[str, object], key: str) -> float:
    """A numeric field of a stored status."""
    value = stored.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"stored coverage status: {key!r} must be a number")
    return float(value)


def _stored_choice(stored: Mapping[str, object], key: str, choices: tuple[Choice, ...]) -> Choice:
    """A field of a stored status that must be one of ``choices``."""
    value = stored.get(key)
    for choice in choices:
        if value == choice:
            return choice
    raise ValueError(f"stored coverage status: {key!r} must be one of {', '.join(choices)}")
