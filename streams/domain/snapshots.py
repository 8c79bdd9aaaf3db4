"""The rolling state of one area, shaped for ``area.snapshots``, the API and the metrics.

Inputs are the raw numbers Redis holds (merged over partitions by ``streams.state``); this
module decides what they mean: officers present now, dose per rolling window, visits today,
demand and coverage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, cast

from streams.domain.areas import AreaDefinition
from streams.domain.coverage import CoverageStatus
from streams.domain.dayvisits import DayVisits
from streams.domain.demand import DAY_S, HOUR_S, response_time_stats
from streams.domain.dose import RollingWindows, parse_split, parse_visit_split
from streams.domain.ledger import DailyLedger, DoseKey, ledger_value
from streams.domain.timefmt import format_ts
from streams.domain.tracks import UNKNOWN_UNIT

WINDOW_NAMES: Final[dict[int, str]] = {
    RollingWindows.MINUTES_15: "15m",
    RollingWindows.HOURS_1: "1h",
    RollingWindows.HOURS_8: "8h",
    RollingWindows.HOURS_24: "24h",
}
DEMAND_WINDOW_NAMES: Final[dict[int, str]] = {HOUR_S: "1h", DAY_S: "24h"}
GRADE_LABELS: Final = ("immediate", "priority", "scheduled", "resolution", "ungraded")


@dataclass(frozen=True, slots=True)
class AreaFacts:
    """Everything the service holds about one area at one moment (raw, merged over partitions).

    ``present``: issi -> (role, mode); ``dose_windows``: window seconds -> split
    ("role|mode|activity|unit", "...|inferred" for inferred dose,
    :func:`~streams.domain.dose.dose_split`) -> officer-seconds; ``dose_total``: split ->
    officer-seconds ever (a split stored before units were kept has no unit: the unknown unit);
    ``visits_today``: today's visits, summarised;
    ``demand_windows``: window seconds -> "measure|label" -> total; ``open_incidents``: grade ->
    count; ``response_samples``: (arrival ts, seconds from opened to first arrival);
    ``units``: issi -> unit of the officers in ``present`` (one missing: the unknown unit);
    ``patrol_windows``: window seconds -> patrol seconds (time with at least one officer
    present, :mod:`streams.domain.patrol`); ``patrol_today``: patrol seconds of the local day.
    """

    area: AreaDefinition
    present: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    dose_windows: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    dose_total: Mapping[str, float] = field(default_factory=dict)
    last_qualifying_end: float | None = None
    visits_today: DayVisits = field(default_factory=DayVisits)
    demand_windows: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    open_incidents: Mapping[str, int] = field(default_factory=dict)
    response_samples: Sequence[tuple[float, float]] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    patrol_windows: Mapping[int, float] = field(default_factory=dict)
    patrol_today: float = 0.0


def officers_present(facts: AreaFacts) -> dict[str, Any]:
    """Officers in the area now: total, by role, by mode and by unit."""
    by_role: dict[str, int] = {}
    by_mode: dict[str, int] = {"foot": 0, "vehicle": 0}
    by_unit: dict[str, int] = {}
    units = facts.units
    for issi, (role, mode) in facts.present.items():
        by_role[role] = by_role.get(role, 0) + 1
        by_mode[mode] = by_mode.get(mode, 0) + 1
        unit = units.get(issi, UNKNOWN_UNIT)
        by_unit[unit] = by_unit.get(unit, 0) + 1
    return {
        "officers_present": len(facts.present),
        "by_role": by_role,
        "by_mode": by_mode,
        "by_unit": by_unit,
    }


def dose_windows(facts: AreaFacts) -> dict[str, Any]:
    """Officer-minutes in each rolling window, in total and by role, mode, activity, unit and
    evidence (``observed``: fixes inside; ``inferred``: inferred visits), each running sum
    rounded to 3 decimals as it grows, and patrol-minutes beside them. The total and every
    other split include inferred dose."""
    group: dict[str, Any] = {}
    for window, name in WINDOW_NAMES.items():
        by_role: dict[str, float] = {}
        by_mode: dict[str, float] = {}
        by_activity: dict[str, float] = {}
        by_unit: dict[str, float] = {}
        by_evidence: dict[str, float] = {}
        total = 0.0
        for split, seconds in facts.dose_windows.get(window, {}).items():
            role, mode, activity, unit, inferred = _split(split)
            evidence = "inferred" if inferred else "observed"
            minutes = seconds / 60.0
            total += minutes
            by_role[role] = round(by_role.get(role, 0.0) + minutes, 3)
            by_mode[mode] = round(by_mode.get(mode, 0.0) + minutes, 3)
            by_activity[activity] = round(by_activity.get(activity, 0.0) + minutes, 3)
            by_unit[unit] = round(by_unit.get(unit, 0.0) + minutes, 3)
            by_evidence[evidence] = round(by_evidence.get(evidence, 0.0) + minutes, 3)
        group[name] = {
            "minutes": round(max(total, 0.0), 3),
            "by_role": by_role,
            "by_mode": by_mode,
            "by_activity": by_activity,
            "by_unit": by_unit,
            "by_evidence": by_evidence,
            "patrol_minutes": round(facts.patrol_windows.get(window, 0.0) / 60.0, 3),
        }
    return group


@lru_cache(maxsize=4096)
def _split(split: str) -> tuple[str, str, str, str, bool]:
    """A window split ``"role|mode|activity|unit[|inferred]"`` taken apart (a handful of
    distinct splits, each seen often; :func:`~streams.domain.dose.parse_split`)."""
    return parse_split(split)


@lru_cache(maxsize=1024)
def _visit_split(split: str) -> tuple[str, str, str, bool]:
    """A day-visit split ``"role|mode|activity[|inferred]"`` taken apart
    (:func:`~streams.domain.dose.parse_visit_split`)."""
    return parse_visit_split(split)


def dose_by_key(splits: Mapping[str, float]) -> dict[DoseKey, float]:
    """Seconds by window split merged by (role, mode, activity): over units, inferred dose
    included."""
    merged: dict[DoseKey, float] = {}
    for split, seconds in splits.items():
        key = cast(DoseKey, _split(split)[:3])
        merged[key] = merged.get(key, 0.0) + seconds
    return merged


def visit_dose_by_key(splits: Mapping[str, float]) -> dict[DoseKey, float]:
    """Seconds by day-visit split merged by (role, mode, activity), inferred visits included."""
    merged: dict[DoseKey, float] = {}
    for split, seconds in splits.items():
        key = cast(DoseKey, _visit_split(split)[:3])
        merged[key] = merged.get(key, 0.0) + seconds
    return merged


@lru_cache(maxsize=4096)
def present_value(value: str) -> tuple[str, str, str]:
    """Who is present, as stored per officer: ``"role|mode|unit"`` taken apart; one stored
    before units were kept (``"role|mode"``) has the unknown unit."""
    role, mode, *unit = value.split("|", 2)
    return role, mode, unit[0] if unit else UNKNOWN_UNIT


def visit_times(value: Mapping[str, Any]) -> tuple[float, float | None]:
    """A published visit's start and end as epoch seconds."""
    end = value.get("end")
    return (
        datetime.fromisoformat(value["start"]).timestamp(),
        None if end is None else datetime.fromisoformat(end).timestamp(),
    )


def qualifying_visits(facts: AreaFacts, now: float) -> list[tuple[float, float]]:
    """(start, end) of today's qualifying visits (not retracted); one in progress ends
    ``now``."""
    return facts.visits_today.qualifying_spans(now)


def dose_today(facts: AreaFacts) -> dict[DoseKey, float]:
    """Seconds of today's visits (not retracted) by (role, mode, activity), inferred visits
    included: the ledger's dose."""
    return visit_dose_by_key(facts.visits_today.dose())


def inferred_today(facts: AreaFacts) -> float:
    """Seconds of today's inferred visits (not retracted): the ledger's inferred dose."""
    dose = facts.visits_today.dose()
    return sum(seconds for split, seconds in dose.items() if _visit_split(split)[3])


def drive_throughs_today(facts: AreaFacts) -> int:
    """Closed visits today (not retracted) shorter than the drive-through limit."""
    return facts.visits_today.drive_throughs


def visits_group(facts: AreaFacts, now: float) -> dict[str, Any]:
    """Qualifying visits and drive-throughs today, and the last qualifying visit."""
    last = facts.last_qualifying_end
    return {
        "qualifying_today": len(qualifying_visits(facts, now)),
        "drive_throughs_today": drive_throughs_today(facts),
        "last_qualifying_visit_end": None if last is None else format_ts(last),
        "minutes_since_last_qualifying_visit": None
        if last is None
        else round(max(now - last, 0.0) / 60.0, 2),
    }


def demand_group(facts: AreaFacts, now: float) -> dict[str, Any]:
    """Open incidents by grade; incidents, crimes, stop-searches and harm per window; response
    times over 24 h; calls for service per recorded crime over 24 h."""
    group: dict[str, Any] = {
        "open_incidents": {grade: facts.open_incidents.get(grade, 0) for grade in GRADE_LABELS}
    }
    for window, name in DEMAND_WINDOW_NAMES.items():
        totals = facts.demand_windows.get(window, {})
        incidents = {grade: totals.get(f"incidents_opened|{grade}", 0.0) for grade in GRADE_LABELS}
        crimes = _labelled(totals, "crimes")
        searches = _labelled(totals, "stop_searches")
        group[f"incidents_{name}"] = {"total": sum(incidents.values()), **incidents}
        group[f"crimes_{name}"] = {"total": sum(crimes.values()), "by_category": crimes}
        group[f"stop_searches_{name}"] = {"total": sum(searches.values()), "by_object": searches}
        group[f"harm_{name}"] = round(sum(_labelled(totals, "harm").values()), 3)
    stats = response_time_stats(facts.response_samples, now)
    calls = group["incidents_24h"]["total"]
    crimes_24h = group["crimes_24h"]["total"]
    group["response_24h"] = {
        "median_s": stats.median_seconds,
        "p90_s": stats.p90_seconds,
        "arrivals": stats.count,
    }
    group["calls_per_crime_24h"] = None if crimes_24h == 0 else round(calls / crimes_24h, 3)
    return group


def _labelled(totals: Mapping[str, float], measure: str) -> dict[str, float]:
    prefix = measure + "|"
    return {
        key[len(prefix) :]: value
        for key, value in sorted(totals.items())
        if key.startswith(prefix) and value != 0
    }


def coverage_group(status: CoverageStatus | None, ledger: DailyLedger | None) -> dict[str, Any]:
    """The coverage state, its alert and today's dosage ledger."""
    group: dict[str, Any] = {"state": "unknown", "severity": None}
    if status is not None:
        alert = status.active_alert
        group = {
            "state": status.state,
            "severity": status.severity,
            "since": format_ts(status.state_since),
            "elapsed_minutes": round(status.elapsed_s / 60.0, 2),
            "limit_minutes": round(status.limit_s / 60.0, 2),
            "alert_id": None if alert is None else alert.alert_id,
            "reason": status.reason,
        }
    if ledger is not None:
        group["ledger"] = ledger_value(ledger)
    return group


def snapshot_value(
    facts: AreaFacts, status: CoverageStatus | None, ledger: DailyLedger | None, now: float
) -> dict[str, Any]:
    """The ``area.snapshots/1`` value of one area at ``now``."""
    area = facts.area
    dose = any(facts.dose_windows.get(window) for window in WINDOW_NAMES) or any(
        facts.patrol_windows.values()
    )
    visits = facts.visits_today.visits > 0 or facts.last_qualifying_end is not None
    demand = bool(
        any(facts.demand_windows.values()) or facts.open_incidents or facts.response_samples
    )
    return {
        "schema": "area.snapshots/1",
        "area_id": area.area_id,
        "name": area.name,
        "kind": area.kind,
        "ts": format_ts(now),
        "presence": officers_present(facts) if facts.present else _empty(officers_present, facts),
        "dose": dose_windows(facts) if dose else _empty(dose_windows, facts),
        "visits": visits_group(facts, now) if visits else _empty(visits_group, facts, now),
        "demand": demand_group(facts, now) if demand else _empty(demand_group, facts, now),
        "coverage": coverage_group(status, ledger),
    }


_EMPTY_GROUPS: dict[str, dict[str, Any]] = {}


def _empty(build: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """The group ``build`` makes for an area with nothing in it, made once and shared (most
    areas of a large pack have no presence, dose, visits or demand; snapshots are read and
    encoded, never changed): ``args`` must hold nothing that the empty group depends on."""
    group = _EMPTY_GROUPS.get(build.__name__)
    if group is None:
        group = _EMPTY_GROUPS[build.__name__] = build(*args)
    return group
