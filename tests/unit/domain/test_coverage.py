"""Coverage: policy bands, states, severity and the alert lifecycle under an injected clock."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

import schemas
from streams.domain.areas import AreaDefinition, AreaKind
from streams.domain.coverage import (
    DEFAULT_BANDS,
    DEFAULT_MAX_GAP_S,
    SEVERITIES,
    AlertEvent,
    CoverageInputs,
    CoveragePolicy,
    CoveragePolicyError,
    CoverageState,
    CoverageStatus,
    FeedPolicy,
    Grade,
    PolicyBand,
    alert_value,
    evaluate,
    limit_at,
    policy_for,
    status_from_dict,
    status_to_dict,
)

LONDON = ZoneInfo("Europe/London")
HOUR = 3600.0
MINUTE = 60.0
EVALUATION_INTERVAL_S = 2.0
PING_INTERVAL_S = 30.0
SQUARE = Polygon([(-1.90, 52.48), (-1.89, 52.48), (-1.89, 52.49), (-1.90, 52.49)])
IMPACT = CoveragePolicy(DEFAULT_BANDS, DEFAULT_MAX_GAP_S, alert=True)
STATE_ORDER: tuple[CoverageState, ...] = ("covered", "at_risk", "uncovered")


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> float:
    """A London wall-clock moment in 2026 as seconds since the epoch."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=LONDON).timestamp()


MORNING_VISIT = at(21, 8)
"""A qualifying visit ended at 08:00 on a Saturday in November: the 4 h limit applies to 12:00."""


def area(kind: AreaKind = "impact", policy: Mapping[str, object] | None = None) -> AreaDefinition:
    """An area of ``kind`` with an optional policy override."""
    return AreaDefinition("WM-IA-017", "Digbeth High Street", kind, SQUARE, policy)


def inputs(
    now: float,
    *,
    last_visit: float | None = MORNING_VISIT,
    officers_present: int = 0,
    open_incidents: Mapping[Grade, int] | None = None,
    feed_last_fix_ts: float | None = None,
    officers_on_duty: int = 12,
    since: float = at(21, 0),
    radios_reporting: int | None = None,
    visit_start: float | None = None,
    visit_ongoing: bool = False,
    present_since: float | None = None,
) -> CoverageInputs:
    """What the evaluator knows at ``now``; by default radios elsewhere ping every 30 s."""
    steady_feed = now - now % PING_INTERVAL_S
    return CoverageInputs(
        last_qualifying_visit_end=last_visit,
        officers_present=officers_present,
        open_incidents={} if open_incidents is None else open_incidents,
        feed_last_fix_ts=steady_feed if feed_last_fix_ts is None else feed_last_fix_ts,
        officers_on_duty=officers_on_duty,
        since=since,
        radios_reporting=radios_reporting,
        last_qualifying_visit_start=visit_start,
        last_qualifying_visit_ongoing=visit_ongoing,
        present_since=present_since,
    )


@dataclass
class Evaluator:
    """The clock-driven caller: keeps the last status and every event emitted."""

    policy: CoveragePolicy = IMPACT
    status: CoverageStatus | None = None
    events: list[AlertEvent] = field(default_factory=list)

    def tick(self, now: float, facts: CoverageInputs) -> list[AlertEvent]:
        """Evaluate at ``now``, keeping the status and the events."""
        self.status, emitted = evaluate("WM-IA-017", self.policy, facts, self.status, now)
        self.events.extend(emitted)
        for event in emitted:
            schemas.assert_valid("coverage.alerts", alert_value(event))
        return emitted

    def run(self, start: float, end: float, **facts: Any) -> dict[CoverageState, float]:
        """Evaluate every 2 s over ``[start, end]``; when each state was first seen."""
        first_seen: dict[CoverageState, float] = {}
        now = start
        while now <= end:
            self.tick(now, inputs(now, **facts))
            assert self.status is not None
            first_seen.setdefault(self.status.state, now)
            now += EVALUATION_INTERVAL_S
        return first_seen

    @property
    def kinds(self) -> list[str]:
        """The event kinds emitted so far, in order."""
        return [event.event for event in self.events]


def test_no_visit_goes_at_risk_at_80_percent_then_uncovered_at_the_limit() -> None:
    evaluator = Evaluator()
    first_seen = evaluator.run(MORNING_VISIT, at(21, 12, 10))
    assert first_seen["covered"] == MORNING_VISIT
    at_risk_from = MORNING_VISIT + 0.8 * 4 * HOUR
    assert at_risk_from <= first_seen["at_risk"] < at_risk_from + EVALUATION_INTERVAL_S
    assert at(21, 12) <= first_seen["uncovered"] < at(21, 12) + EVALUATION_INTERVAL_S
    raised, escalated = evaluator.events
    assert (raised.event, raised.state, raised.severity) == ("raised", "at_risk", "low")
    assert (escalated.event, escalated.state, escalated.severity) == (
        "escalated",
        "uncovered",
        "medium",
    )
    assert raised.alert_id == escalated.alert_id == f"WM-IA-017:{round(MORNING_VISIT * 1000)}"
    assert escalated.since == first_seen["uncovered"]
    assert escalated.reason == "no qualifying visit for 4h00m (limit 4h00m outside bands)"


def test_alert_value_matches_the_contract() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 11, 59, 58), at(21, 12))
    value = alert_value(evaluator.events[-1])
    assert value == {
        "schema": "coverage.alerts/1",
        "alert_id": f"WM-IA-017:{round(MORNING_VISIT * 1000)}",
        "area_id": "WM-IA-017",
        "event": "escalated",
        "state": "uncovered",
        "severity": "medium",
        "reason": "no qualifying visit for 4h00m (limit 4h00m outside bands)",
        "since": "2026-11-21T12:00:00.000Z",
        "ts": "2026-11-21T12:00:00.000Z",
        "evidence": {
            "last_qualifying_visit_end": "2026-11-21T08:00:00.000Z",
            "officers_present": 0,
            "open_incidents": {},
            "state_reason": None,
        },
    }


def test_drive_through_and_passing_pings_do_not_clear() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12))
    first_seen = evaluator.run(at(21, 12, 30), at(21, 12, 31, 30), officers_present=1)
    evaluator.run(at(21, 12, 32), at(21, 12, 40))
    assert evaluator.kinds == ["raised"]
    assert first_seen == {"uncovered": at(21, 12, 30)}
    assert evaluator.status is not None
    assert evaluator.status.active_alert is not None


def test_qualifying_visit_clears_the_alert() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12, 20))
    visit_end = at(21, 12, 30)
    evaluator.run(visit_end, visit_end + 4, last_visit=visit_end, officers_present=1)
    assert evaluator.kinds == ["raised", "cleared"]
    raised, cleared = evaluator.events
    assert cleared.alert_id == raised.alert_id
    assert (cleared.state, cleared.severity) == ("covered", "medium")
    assert cleared.reason == "qualifying visit completed 0h00m ago"
    assert evaluator.status is not None
    assert evaluator.status.active_alert is None


def test_a_clear_while_the_visit_goes_on_says_how_long_the_officers_have_been_there() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12, 20))
    now = at(21, 12, 30)
    evaluator.tick(
        now,
        inputs(
            now,
            last_visit=now,
            visit_start=at(21, 12, 18),
            visit_ongoing=True,
            officers_present=2,
            present_since=at(21, 12, 18),
        ),
    )
    assert evaluator.events[-1].reason == (
        "qualifying visit in progress: officers in the area for 0h12m"
    )


def test_a_clear_after_the_visit_ended_says_how_long_it_lasted_and_when_it_ended() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12, 20))
    now = at(21, 12, 30)
    evaluator.tick(now, inputs(now, last_visit=at(21, 12, 25), visit_start=at(21, 12, 10)))
    assert evaluator.events[-1].reason == "qualifying visit of 0h15m ended 0h05m ago"


def test_an_officer_whose_visit_will_qualify_before_the_limit_raises_no_at_risk_alert() -> None:
    evaluator = Evaluator()
    arrived = at(21, 11, 10)
    first_seen = evaluator.run(
        at(21, 11), at(21, 11, 19, 58), officers_present=1, present_since=arrived
    )
    assert "at_risk" in first_seen
    assert evaluator.events == []
    now = at(21, 11, 20)
    evaluator.tick(
        now,
        inputs(now, last_visit=now, visit_start=arrived, visit_ongoing=True, present_since=arrived),
    )
    assert evaluator.events == []
    assert evaluator.status is not None
    assert evaluator.status.state == "covered"


def test_an_officer_who_leaves_before_qualifying_lets_the_at_risk_alert_be_raised() -> None:
    evaluator = Evaluator()
    arrived = at(21, 11, 13)
    first_seen = evaluator.run(arrived, at(21, 11, 15), officers_present=1, present_since=arrived)
    assert (first_seen, evaluator.events) == ({"at_risk": arrived}, [])
    evaluator.run(at(21, 11, 16), at(21, 11, 16))
    assert [(e.event, e.state) for e in evaluator.events] == [("raised", "at_risk")]


def test_an_at_risk_alert_is_raised_when_the_visit_would_qualify_only_after_the_limit() -> None:
    evaluator = Evaluator()
    arrived = at(21, 11, 55)
    evaluator.run(at(21, 11, 56), at(21, 11, 56), officers_present=1, present_since=arrived)
    (raised,) = evaluator.events
    assert (raised.event, raised.state) == ("raised", "at_risk")
    assert raised.reason == (
        "no qualifying visit for 3h56m (limit 4h00m outside bands); officers present for"
        " 0h01m, a visit counts once it has lasted 0h10m"
    )


@pytest.mark.parametrize(
    "dead_feed",
    [
        pytest.param({"feed_last_fix_ts": at(21, 9)}, id="no fixes from any radio"),
        pytest.param({"officers_on_duty": 0}, id="nobody on duty"),
    ],
)
def test_dead_feed_is_unknown_not_uncovered(dead_feed: dict[str, object]) -> None:
    evaluator = Evaluator()
    first_seen = evaluator.run(at(21, 9), at(21, 14), **dead_feed)
    assert set(first_seen) <= {"covered", "unknown"}
    assert evaluator.status is not None
    assert evaluator.status.state == "unknown"
    assert evaluator.events == []


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        pytest.param({"feed_last_fix_ts": at(21, 9)}, "feed_silent", id="no fix from any radio"),
        pytest.param({"radios_reporting": 0}, "feed_silent", id="no radio on duty reported"),
        pytest.param({"officers_on_duty": 0}, "nobody_on_duty", id="nobody on duty"),
        pytest.param(
            {"officers_on_duty": 0, "feed_last_fix_ts": at(21, 9)},
            "nobody_on_duty",
            id="nobody on duty and silent",
        ),
        pytest.param({"radios_reporting": 5}, "feed_degraded", id="5 of 12 radios reported"),
    ],
)
def test_unknown_says_why(facts: dict[str, Any], reason: str) -> None:
    now = at(21, 14)
    status, events = evaluate("A", IMPACT, inputs(now, **facts), None, now)
    assert (status.state, status.reason, status.severity, events) == (
        "unknown",
        reason,
        None,
        [],
    )


@pytest.mark.parametrize(
    ("now", "state"),
    [(at(21, 9), "covered"), (at(21, 11, 30), "at_risk"), (at(21, 12, 30), "uncovered")],
)
def test_the_states_the_feed_can_tell_have_no_reason(now: float, state: str) -> None:
    status, _ = evaluate("A", IMPACT, inputs(now, radios_reporting=12), None, now)
    assert (status.state, status.reason) == (state, None)


def test_half_the_radios_silent_makes_their_areas_unknown_feed_degraded() -> None:
    """12 radios on duty, half of them silent: an area overdue for 4 h is unknown
    (feed_degraded), not uncovered, and raises nothing; with 7 of them reporting (more than the
    50 % default) it is uncovered and raises its alert."""
    evaluator = Evaluator()
    first_seen = evaluator.run(at(21, 11), at(21, 13), radios_reporting=6)
    assert first_seen == {"covered": at(21, 11), "unknown": at(21, 11, 12)}
    assert evaluator.status is not None
    assert (evaluator.status.state, evaluator.status.reason) == ("unknown", "feed_degraded")
    assert evaluator.events == []
    healthy = Evaluator()
    healthy.run(at(21, 11), at(21, 13), radios_reporting=7)
    assert healthy.status is not None
    assert (healthy.status.state, healthy.status.reason) == ("uncovered", None)
    assert healthy.kinds == ["raised", "escalated"]


def test_a_degraded_feed_keeps_an_area_with_a_recent_qualifying_visit_covered() -> None:
    now = at(21, 9)  # an hour after the 08:00 qualifying visit: presence is evidence
    status, _ = evaluate("A", IMPACT, inputs(now, radios_reporting=1), None, now)
    assert (status.state, status.reason) == ("covered", None)


def test_the_degraded_threshold_is_a_setting() -> None:
    now = at(21, 12, 30)
    strict = FeedPolicy(degraded_share=0.9)
    lenient = FeedPolicy(degraded_share=0.25)
    facts = inputs(now, radios_reporting=10)  # 10 of 12: 83 %
    assert evaluate("A", IMPACT, facts, None, now, strict)[0].reason == "feed_degraded"
    assert evaluate("A", IMPACT, facts, None, now, lenient)[0].state == "uncovered"
    off = FeedPolicy(degraded_share=0.0)
    assert evaluate("A", IMPACT, inputs(now, radios_reporting=1), None, now, off)[0].state == (
        "uncovered"
    )
    for unusable in (1.0, 1.5, -0.1):
        with pytest.raises(CoveragePolicyError):
            FeedPolicy(degraded_share=unusable)


def test_a_degraded_feed_neither_clears_nor_escalates_an_active_alert() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12), radios_reporting=12)
    assert evaluator.kinds == ["raised"]
    demand = {"open_incidents": {"immediate": 1}}
    first_seen = evaluator.run(at(21, 12, 10), at(21, 13), radios_reporting=3, **demand)
    assert first_seen == {"unknown": at(21, 12, 10)}
    assert evaluator.kinds == ["raised"]
    assert evaluator.status is not None
    assert evaluator.status.active_alert is not None
    assert evaluator.status.state_since == at(21, 12, 10)  # the first evaluation to see it
    evaluator.run(at(21, 13, 0, 2), at(21, 13, 0, 2), radios_reporting=12, **demand)
    assert evaluator.kinds == ["raised", "escalated"]


def test_a_qualifying_visit_clears_an_alert_while_the_feed_is_degraded() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12), radios_reporting=12)
    visit_end = at(21, 12, 20)
    evaluator.run(at(21, 12, 30), at(21, 12, 30), last_visit=visit_end, radios_reporting=2)
    assert evaluator.kinds == ["raised", "cleared"]
    cleared = alert_value(evaluator.events[-1])
    assert (cleared["state"], cleared["evidence"]["state_reason"]) == ("covered", None)


def test_feed_never_seen_is_unknown() -> None:
    facts = replace(inputs(at(21, 14)), feed_last_fix_ts=None)
    status, events = evaluate("WM-IA-017", IMPACT, facts, None, at(21, 14))
    assert (status.state, status.severity, events) == ("unknown", None, [])


def test_feed_goes_unknown_exactly_after_stale_after_s() -> None:
    feed = FeedPolicy(stale_after_s=120)
    now = at(21, 13)
    fresh, _ = evaluate("A", IMPACT, inputs(now, feed_last_fix_ts=now - 120), None, now, feed)
    stale, _ = evaluate("A", IMPACT, inputs(now, feed_last_fix_ts=now - 121), None, now, feed)
    assert (fresh.state, stale.state) == ("uncovered", "unknown")


def test_unknown_neither_clears_nor_escalates_an_active_alert() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 11, 30), at(21, 11, 30))
    stopped = {"feed_last_fix_ts": at(21, 11, 31), "open_incidents": {"immediate": 1}}
    first_seen = evaluator.run(at(21, 11, 40), at(21, 13), **stopped)
    assert first_seen == {"unknown": at(21, 11, 40)}
    assert evaluator.kinds == ["raised"]
    assert evaluator.status is not None
    active = evaluator.status.active_alert
    assert active is not None
    assert (active.severity, active.state) == ("low", "at_risk")
    evaluator.run(at(21, 13, 0, 2), at(21, 13, 0, 2), open_incidents={"immediate": 1})
    assert evaluator.kinds == ["raised", "escalated"]
    assert evaluator.events[-1].severity == "critical"
    assert evaluator.events[-1].alert_id == evaluator.events[0].alert_id


def test_qualifying_visit_clears_even_after_the_feed_went_stale() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12))
    visit_end = at(21, 12, 20)
    evaluator.run(at(21, 12, 40), at(21, 12, 40), last_visit=visit_end, feed_last_fix_ts=visit_end)
    assert evaluator.kinds == ["raised", "cleared"]
    assert evaluator.events[-1].state == "unknown"
    assert alert_value(evaluator.events[-1])["evidence"]["state_reason"] == "feed_silent"


@pytest.mark.parametrize(
    ("officers_present", "open_incidents", "severity"),
    [
        (0, {}, "medium"),
        (0, {"scheduled": 3, "resolution": 1}, "medium"),
        (0, {"priority": 1}, "high"),
        (0, {"immediate": 1}, "critical"),
        (0, {"immediate": 1, "priority": 2}, "critical"),
        (1, {"immediate": 1}, "medium"),
        (2, {"priority": 1}, "medium"),
        (0, {"immediate": 0}, "medium"),
    ],
)
def test_uncovered_severity_rises_with_open_demand_and_nobody_present(
    officers_present: int, open_incidents: dict[Grade, int], severity: str
) -> None:
    now = at(21, 12, 30)
    facts = inputs(now, officers_present=officers_present, open_incidents=open_incidents)
    status, _ = evaluate("WM-IA-017", IMPACT, facts, None, now)
    assert (status.state, status.severity) == ("uncovered", severity)


def test_demand_does_not_raise_at_risk_severity() -> None:
    now = at(21, 11, 30)
    status, _ = evaluate("A", IMPACT, inputs(now, open_incidents={"immediate": 1}), None, now)
    assert (status.state, status.severity) == ("at_risk", "low")


def test_open_immediate_incident_with_nobody_present_escalates_to_critical() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12, 10))
    evaluator.run(at(21, 12, 10, 2), at(21, 12, 10, 2), open_incidents={"immediate": 1})
    assert evaluator.kinds == ["raised", "escalated"]
    escalated = evaluator.events[-1]
    assert (escalated.state, escalated.severity) == ("uncovered", "critical")
    assert escalated.reason == (
        "no qualifying visit for 4h10m (limit 4h00m outside bands); "
        "1 open immediate incident(s) and no officer present"
    )
    assert alert_value(escalated)["evidence"] == {
        "last_qualifying_visit_end": "2026-11-21T08:00:00.000Z",
        "officers_present": 0,
        "open_incidents": {"immediate": 1},
        "state_reason": None,
    }


def test_officer_passing_through_does_not_escalate_again() -> None:
    evaluator = Evaluator()
    demand = {"open_incidents": {"immediate": 1}}
    evaluator.run(at(21, 12), at(21, 12, 0, 4), **demand)
    evaluator.run(at(21, 12, 1), at(21, 12, 2), officers_present=1, **demand)
    evaluator.run(at(21, 12, 3), at(21, 12, 4), **demand)
    assert evaluator.kinds == ["raised"]
    assert evaluator.events[0].severity == "critical"


def test_band_switch_at_1800_shortens_the_limit() -> None:
    evaluator = Evaluator()
    afternoon_visit = at(21, 15)
    first_seen = evaluator.run(at(21, 17, 59, 56), at(21, 18, 0, 2), last_visit=afternoon_visit)
    assert first_seen == {"covered": at(21, 17, 59, 56), "uncovered": at(21, 18)}
    (raised,) = evaluator.events
    assert (raised.event, raised.state, raised.severity) == ("raised", "uncovered", "medium")
    assert raised.reason == "no qualifying visit for 3h00m (limit 2h00m in band 18:00-02:00)"


@pytest.mark.parametrize(
    ("moment", "limit_hours"),
    [
        pytest.param(at(21, 17, 59, 59), 4, id="17:59:59"),
        pytest.param(at(21, 18), 2, id="18:00"),
        pytest.param(at(21, 23, 59), 2, id="23:59"),
        pytest.param(at(22, 0), 2, id="00:00"),
        pytest.param(at(22, 1, 59, 59), 2, id="01:59:59"),
        pytest.param(at(22, 2), 4, id="02:00"),
        pytest.param(at(25, 0, 59, month=10), 2, id="autumn change 00:59 BST"),
        pytest.param(at(25, 1, 30, month=10), 2, id="autumn change first 01:30"),
        pytest.param(at(25, 1, 30, month=10) + HOUR, 2, id="autumn change second 01:30"),
        pytest.param(at(25, 2, month=10), 4, id="autumn change 02:00 GMT"),
        pytest.param(at(29, 0, 59, month=3), 2, id="spring change 00:59 GMT"),
        pytest.param(at(29, 0, 59, month=3) + MINUTE, 4, id="spring change next minute 02:00"),
    ],
)
def test_limit_follows_the_local_band_across_dst(moment: float, limit_hours: int) -> None:
    assert limit_at(IMPACT, moment) == limit_hours * HOUR


def test_band_ending_at_its_start_covers_the_whole_day() -> None:
    all_day = CoveragePolicy((PolicyBand(0, 0, 30 * MINUTE),), DEFAULT_MAX_GAP_S, alert=True)
    assert {limit_at(all_day, at(21, hour)) for hour in range(24)} == {30 * MINUTE}


def test_timezone_is_configurable() -> None:
    policy = policy_for(area(), timezone="America/New_York")
    london_1900 = at(21, 19)  # 14:00 in New York
    assert (limit_at(IMPACT, london_1900), limit_at(policy, london_1900)) == (2 * HOUR, 4 * HOUR)


def test_comparison_areas_are_measured_but_never_alert() -> None:
    policy = policy_for(area("comparison"))
    assert policy == replace(IMPACT, alert=False)
    evaluator = Evaluator(policy)
    first_seen = evaluator.run(at(21, 11), at(21, 13), open_incidents={"immediate": 1})
    assert set(first_seen) == {"covered", "at_risk", "uncovered"}
    assert evaluator.events == []


@pytest.mark.parametrize(
    ("kind", "override", "expected"),
    [
        ("impact", None, IMPACT),
        ("other", None, replace(IMPACT, alert=False)),
        ("comparison", {"alert": True}, IMPACT),
        ("impact", {"alert": False}, replace(IMPACT, alert=False)),
        ("impact", {"default_max_gap_minutes": 1440}, replace(IMPACT, default_max_gap_s=86400.0)),
        ("impact", {"bands": []}, replace(IMPACT, bands=())),
        (
            "impact",
            {
                "bands": [
                    {"start": "22:00", "end": "03:00", "max_gap_minutes": 60},
                    {"start": "12:00", "end": "14:00", "max_gap_minutes": 90},
                ],
                "default_max_gap_minutes": 180,
                "alert": True,
            },
            CoveragePolicy(
                (PolicyBand(22 * 60, 3 * 60, 3600.0), PolicyBand(12 * 60, 14 * 60, 5400.0)),
                10800.0,
                alert=True,
            ),
        ),
    ],
)
def test_policy_is_the_area_override_over_the_defaults_of_its_kind(
    kind: AreaKind, override: dict[str, object] | None, expected: CoveragePolicy
) -> None:
    assert policy_for(area(kind, override)) == expected


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"bands": {"start": "18:00"}}, "'bands' must be a list"),
        ({"bands": [{"start": "18:00", "end": "02:00"}]}, "each band needs exactly"),
        ({"bands": [{"start": "24:00", "end": "02:00", "max_gap_minutes": 1}]}, "'24:00'"),
        ({"bands": [{"start": "6:00", "end": "08:00", "max_gap_minutes": 1}]}, "'6:00'"),
        ({"default_max_gap_minutes": 0}, "max gap 0"),
        ({"default_max_gap_minutes": True}, "max gap True"),
        ({"default_max_gap_minutes": 1.5}, "max gap 1.5"),
        ({"alert": "yes"}, "'alert' must be true or false"),
        ({"max_gap": 10}, "unknown policy keys ['max_gap']"),
    ],
)
def test_unusable_policy_names_the_area_and_the_problem(
    override: dict[str, object], problem: str
) -> None:
    with pytest.raises(CoveragePolicyError, match="area 'WM-IA-017': coverage policy") as raised:
        policy_for(area(policy=override))
    assert problem in str(raised.value)


def test_restarted_evaluator_without_state_raises_the_same_alert_id() -> None:
    now = at(21, 12, 30)
    first, _ = evaluate("WM-IA-017", IMPACT, inputs(now), None, now)
    (again,) = evaluate("WM-IA-017", IMPACT, inputs(now + 60), None, now + 60)[1]
    assert first.active_alert is not None
    assert again.alert_id == first.active_alert.alert_id


def test_never_visited_area_counts_from_when_monitoring_began() -> None:
    evaluator = Evaluator()
    first_seen = evaluator.run(at(21, 11, 59, 58), at(21, 12), last_visit=None, since=at(21, 8))
    assert first_seen == {"at_risk": at(21, 11, 59, 58), "uncovered": at(21, 12)}
    assert evaluator.events[0].reason == (
        "no qualifying visit since monitoring began 3h59m ago (limit 4h00m outside bands)"
    )
    assert evaluator.events[0].alert_id == f"WM-IA-017:{round(at(21, 8) * 1000)}"


def test_long_area_ids_get_a_hashed_alert_id_that_fits_the_contract() -> None:
    long_id = "A" * 64
    now = at(21, 12, 30)
    _, (raised,) = evaluate(long_id, IMPACT, inputs(now), None, now)
    assert raised.alert_id.startswith("al-")
    schemas.assert_valid("coverage.alerts", alert_value(raised))


def test_late_evaluation_clears_the_old_gap_and_raises_the_new_one() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12))
    visit_end = at(21, 12, 15)
    evaluator.run(at(21, 16, 30), at(21, 16, 30), last_visit=visit_end)
    assert evaluator.kinds == ["raised", "cleared", "raised"]
    old, cleared, new = evaluator.events
    assert cleared.alert_id == old.alert_id != new.alert_id
    assert new.alert_id == f"WM-IA-017:{round(visit_end * 1000)}"


def test_turning_alerts_off_clears_the_active_alert() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12))
    evaluator.policy = replace(IMPACT, alert=False)
    evaluator.run(at(21, 12, 0, 2), at(21, 12, 0, 4))
    assert evaluator.kinds == ["raised", "cleared"]
    assert evaluator.events[-1].reason == "alerts disabled by the area's coverage policy"


def test_longer_band_keeps_the_alert_active_until_a_visit() -> None:
    evaluator = Evaluator()
    evening_visit = at(21, 23)
    evaluator.run(at(22, 1), at(22, 1), last_visit=evening_visit)
    first_seen = evaluator.run(at(22, 2), at(22, 2), last_visit=evening_visit)
    assert first_seen == {"covered": at(22, 2)}
    assert evaluator.kinds == ["raised"]
    assert evaluator.status is not None
    assert evaluator.status.active_alert is not None


def test_status_survives_storage() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12))
    assert evaluator.status is not None
    stored = status_to_dict(evaluator.status)
    assert status_from_dict(stored) == evaluator.status
    degraded, _ = evaluate("A", IMPACT, inputs(at(21, 13), radios_reporting=1), None, at(21, 13))
    assert status_from_dict(status_to_dict(degraded)) == degraded
    assert degraded.reason == "feed_degraded"
    older = {k: v for k, v in status_to_dict(evaluator.status).items() if k != "reason"}
    assert status_from_dict(older) == evaluator.status  # stored before reasons were kept
    covered, _ = evaluate("A", IMPACT, inputs(at(21, 9)), None, at(21, 9))
    assert status_from_dict(status_to_dict(covered)) == covered


@pytest.mark.parametrize(
    "damage",
    [
        {"state": "flooded"},
        {"elapsed_s": "long"},
        {"area_id": None},
        {"active_alert": "yes"},
        {"active_alert": {"alert_id": "x"}},
    ],
)
def test_damaged_stored_status_is_refused(damage: dict[str, object]) -> None:
    status, _ = evaluate("A", IMPACT, inputs(at(21, 12)), None, at(21, 12))
    with pytest.raises(ValueError, match="stored coverage status"):
        status_from_dict({**status_to_dict(status), **damage})


# Properties ---------------------------------------------------------------------------------

moments = st.floats(at(1, 0, month=3), at(1, 0, month=12))
grades = st.dictionaries(st.sampled_from(["immediate", "priority", "scheduled"]), st.integers(0, 2))


@given(now=moments, earlier=st.floats(0, 10 * HOUR), later=st.floats(0, 10 * HOUR))
def test_state_is_monotone_in_elapsed_time(now: float, earlier: float, later: float) -> None:
    shorter, longer = sorted((earlier, later))
    short_gap, _ = evaluate("A", IMPACT, inputs(now, last_visit=now - shorter), None, now)
    long_gap, _ = evaluate("A", IMPACT, inputs(now, last_visit=now - longer), None, now)
    assert STATE_ORDER.index(short_gap.state) <= STATE_ORDER.index(long_gap.state)


@dataclass(frozen=True)
class Step:
    """One clock tick of a random scenario, and what changed before it."""

    advance_s: float
    qualifying_visit: bool
    feed_alive: bool
    officers_on_duty: int
    officers_present: int
    open_incidents: dict[Grade, int]


steps = st.builds(
    Step,
    advance_s=st.floats(0, 2 * HOUR),
    qualifying_visit=st.sampled_from([False, False, False, True]),
    feed_alive=st.booleans(),
    officers_on_duty=st.integers(0, 3),
    officers_present=st.integers(0, 2),
    open_incidents=grades,
)


@settings(max_examples=150, deadline=None)
@given(start=moments, scenario=st.lists(steps, max_size=25), alert=st.booleans())
def test_any_sequence_of_evaluations_keeps_one_consistent_alert_lifecycle(
    start: float, scenario: list[Step], alert: bool
) -> None:
    policy = replace(IMPACT, alert=alert)
    now, last_visit, last_fix = start, None, start
    status: CoverageStatus | None = None
    open_alert: AlertEvent | None = None
    for step in scenario:
        now += step.advance_s
        last_visit = now if step.qualifying_visit else last_visit
        last_fix = now if step.feed_alive else last_fix
        facts = CoverageInputs(
            last_visit,
            step.officers_present,
            step.open_incidents,
            last_fix,
            step.officers_on_duty,
            since=start,
        )
        status, events = evaluate("WM-IA-017", policy, facts, status, now)
        for event in events:
            schemas.assert_valid("coverage.alerts", alert_value(event))
            if event.event == "raised":
                assert open_alert is None
                assert event.state != "unknown"
                assert policy.alert
                open_alert = event
            else:
                assert open_alert is not None
                assert event.alert_id == open_alert.alert_id
                if event.event == "escalated":
                    severity_rank = SEVERITIES.index(event.severity)
                    assert severity_rank > SEVERITIES.index(open_alert.severity)
                    open_alert = event
                else:
                    open_alert = None
        active = status.active_alert
        assert (active is None) == (open_alert is None)
        assert active is None or open_alert is None or active.alert_id == open_alert.alert_id
        again, repeated = evaluate("WM-IA-017", policy, facts, status, now)
        assert (again, repeated) == (status, [])


@given(
    now=moments,
    gap=st.floats(0, 12 * HOUR),
    on_duty=st.integers(1, 400),
    share=st.floats(0, 1),
    demand=grades,
)
def test_a_degraded_feed_never_claims_absence_and_a_healthy_one_is_as_unmeasured(
    now: float, gap: float, on_duty: int, share: float, demand: dict[Grade, int]
) -> None:
    reporting = math.floor(share * on_duty)
    facts = inputs(
        now,
        last_visit=now - gap,
        open_incidents=demand,
        officers_on_duty=on_duty,
        radios_reporting=reporting,
    )
    status, events = evaluate("A", IMPACT, facts, None, now)
    unmeasured, _ = evaluate("A", IMPACT, replace(facts, radios_reporting=None), None, now)
    if reporting == 0:
        assert (status.state, status.reason, events) == ("unknown", "feed_silent", [])
    elif reporting <= 0.5 * on_duty:
        assert status.state in ("covered", "unknown")
        assert events == []
        expected = "covered" if unmeasured.state == "covered" else "unknown"
        assert status.state == expected
        assert status.reason == (None if expected == "covered" else "feed_degraded")
    else:
        assert (status.state, status.reason) == (unmeasured.state, None)


@given(now=moments, gap=st.floats(0, 12 * HOUR), present=st.integers(0, 2), demand=grades)
def test_dead_feed_never_raises(
    now: float, gap: float, present: int, demand: dict[Grade, int]
) -> None:
    facts = inputs(
        now,
        last_visit=now - gap,
        officers_present=present,
        open_incidents=demand,
        feed_last_fix_ts=now - 301,
    )
    status, events = evaluate("A", IMPACT, facts, None, now)
    assert (status.state, events) == ("unknown", [])


@settings(max_examples=60, deadline=None)
@given(first_look_s=st.floats(0, 3 * HOUR), second_look_s=st.floats(0, 3 * HOUR))
def test_when_a_state_began_does_not_depend_on_when_it_was_first_seen(
    first_look_s: float, second_look_s: float
) -> None:
    """From a qualifying visit at 08:00 with the 4 h daytime limit: at risk from 11:12, uncovered
    from 12:00, whenever the evaluations ran."""
    seen: list[tuple[CoverageState, float]] = []
    for look in (first_look_s, second_look_s):
        now = at(21, 12) + look
        status, _ = evaluate("ia", IMPACT, inputs(now), None, now)
        seen.append((status.state, status.state_since))
    assert seen == [("uncovered", at(21, 12))] * 2
    risky = at(21, 11, 30)
    status, _ = evaluate("ia", IMPACT, inputs(risky), None, risky)
    assert (status.state, status.state_since) == ("at_risk", at(21, 11, 12))


def test_an_area_uncovered_by_a_stricter_band_beginning_is_uncovered_since_the_band_began() -> None:
    visit = at(21, 15)  # 4 h limit until 18:00, then 2 h: uncovered the moment the band begins
    now = at(21, 18, 40)
    status, _ = evaluate("ia", IMPACT, inputs(now, last_visit=visit), None, now)
    assert (status.state, status.state_since) == ("uncovered", at(21, 18))


def test_a_state_seen_after_another_began_when_its_inputs_say() -> None:
    now = at(21, 12, 30)
    previous, _ = evaluate("ia", IMPACT, inputs(at(21, 11, 30)), None, at(21, 11, 30))
    status, _ = evaluate("ia", IMPACT, inputs(now), previous, now)
    assert (previous.state_since, status.state_since) == (at(21, 11, 12), at(21, 12))


def test_covered_after_a_dead_feed_is_dated_from_the_gap_start_not_from_the_outage() -> None:
    outage = at(21, 9)
    dead, _ = evaluate("ia", IMPACT, inputs(outage, officers_on_duty=0), None, outage)
    now = at(21, 9, 20)
    status, _ = evaluate("ia", IMPACT, inputs(now), dead, now)
    assert (dead.state, status.state, status.state_since) == ("unknown", "covered", MORNING_VISIT)


def test_an_area_uncovered_for_twice_its_limit_with_nobody_present_rises_to_high() -> None:
    evaluator = Evaluator()
    evaluator.run(at(21, 12), at(21, 12, 0, 10))  # 08:00 visit, 4 h limit: uncovered at noon
    evaluator.run(at(21, 15, 59, 50), at(21, 16, 0, 10))  # twice the limit at 16:00
    assert evaluator.kinds == ["raised", "escalated"]
    raised, escalated = evaluator.events
    assert raised.severity == "medium"
    assert (escalated.severity, escalated.ts) == ("high", at(21, 16))
    assert escalated.reason == (
        "no qualifying visit for 8h00m (limit 4h00m outside bands); "
        "over 2 times the limit and no officer present"
    )


def test_a_long_gap_with_an_officer_present_stays_medium() -> None:
    now = at(21, 17)
    status, _ = evaluate("A", IMPACT, inputs(now, officers_present=1), None, now)
    assert (status.state, status.severity) == ("uncovered", "medium")
