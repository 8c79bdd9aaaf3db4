"""Same input, same numbers: the recorded day replayed with faults ends as the clean run did.

Every scenario runs on fresh topics, consumer group, key prefix and archive directory, and its
final state (``tests.chaos.compare``: outputs, Redis, the compacted archive and the facts over
it) must equal that of the first clean run. ``make test`` runs the short day with the scenarios
that pass reliably today; ``make chaos`` runs the full day with all of them
(docs/development.md, "The chaos suite").
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from shapely.geometry import box

from streams import topics
from streams.devtools.stack.embedded import Services
from streams.domain.areas import AreaDefinition
from streams.domain.coverage import CoveragePolicy, limit_at, policy_for
from tests.chaos.compare import (
    diff,
    summary_line,
    undeadlettered,
    without_sources,
)
from tests.chaos.day import Day
from tests.chaos.harness import Outcome, Scenario, run_scenario

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_the_clean_run_sees_the_whole_day(baseline: Outcome, chaos_day: Day) -> None:
    state = baseline.state
    assert state is not None
    end = chaos_day.options.start.timestamp() + chaos_day.options.duration_seconds
    assert state.clock is not None
    assert end - 60 <= state.clock <= end, datetime.fromtimestamp(state.clock, UTC)
    assert len(state.visits) > 100
    assert state.dose_seconds > 3600
    assert state.alert_ids, "the day should raise coverage alerts"
    assert len(state.incidents) > 10
    assert any(key.startswith("total|") for key in state.demand)
    assert {s["state"] for s in state.coverage.values()} >= {"covered"}


CLEAR_WORDS = re.compile(
    r"qualifying visit (?:in progress: officers in the area for (?P<going>\d+h\d\dm)"
    r"|of (?P<lasted>\d+h\d\dm) ended (?P<ago>\d+h\d\dm) ago)"
)


def _minutes(words: str) -> int:
    hours, minutes = words.rstrip("m").split("h")
    return int(hours) * 60 + int(minutes)


def _policies(day: Day) -> dict[str, CoveragePolicy]:
    """Each area's coverage policy, from the day's area definitions."""
    policies = {}
    for _, record in day.opening:
        if record.topic == topics.AREAS and record.value is not None:
            feature = orjson.loads(record.value)
            properties = feature["properties"]
            area = AreaDefinition(
                str(feature["id"]),
                "",
                properties["kind"],
                box(0, 0, 1, 1),
                properties.get("policy"),
            )
            policies[area.area_id] = policy_for(area)
    return policies


def test_no_at_risk_alert_waits_on_a_visit_and_clears_name_visits_of_their_length(
    baseline: Outcome, chaos_day: Day
) -> None:
    """In the clean run, no at-risk alert was raised while a visit going on would qualify before
    the limit; and every clear that says how long its visit lasted names a visit of that length
    (the short day has no clear; the full day, ``make chaos``, has)."""
    state = baseline.state
    assert state is not None
    spans: dict[str, list[tuple[float, float]]] = {}
    for visit in state.visits.values():
        if visit.status != "retracted":
            start = datetime.fromisoformat(visit.start).timestamp()
            spans.setdefault(visit.area_id, []).append((start, start + visit.seconds))
    policies = _policies(chaos_day)
    alerts = [orjson.loads(v) for vs in state.outputs[topics.ALERTS].values() for v in vs]
    raised = 0
    for alert in alerts:
        ts = datetime.fromisoformat(alert["ts"]).timestamp()
        area = spans.get(alert["area_id"], [])
        if alert["event"] == "raised" and alert["state"] == "at_risk":
            gap_start = int(alert["alert_id"].rsplit(":", 1)[1]) / 1000
            deadline = gap_start + limit_at(policies[alert["area_id"]], ts)
            waiting = [(s, e) for s, e in area if s <= ts <= e and s + 600 <= deadline]
            assert not waiting, (alert, waiting)
            raised += 1
        words = CLEAR_WORDS.fullmatch(alert["reason"]) if alert["event"] == "cleared" else None
        if words is None:
            continue
        if words["going"] is not None:
            begun = ts - _minutes(words["going"]) * 60
            assert any(begun - 60 <= s <= begun + 60 and e >= ts for s, e in area), alert
        else:
            ended, lasted = ts - _minutes(words["ago"]) * 60, _minutes(words["lasted"]) * 60
            assert any(
                abs((e - s) - lasted) <= 60 and ended - 60 <= e <= ended + 60 for s, e in area
            ), alert
    assert raised, "the day raises at-risk alerts"


def test_scenario_ends_as_the_clean_run(
    scenario: Scenario,
    baseline: Outcome,
    chaos_day: Day,
    chaos_broker: Services,
    work_dir: Path,
    chaos_report: list[str],
) -> None:
    assert baseline.state is not None
    started = time.monotonic()
    try:
        outcome = run_scenario(scenario, chaos_day, chaos_broker, work_dir)
    except Exception as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        chaos_report.append(
            summary_line(scenario.name, "FAIL", None, time.monotonic() - started, [], first)
        )
        raise
    if outcome.unavailable:
        chaos_report.append(
            summary_line(scenario.name, "N/A", None, outcome.duration_s, [], outcome.unavailable)
        )
        pytest.skip(outcome.unavailable)
    assert outcome.state is not None
    actual, differences = outcome.state, []
    if outcome.injected:
        differences.append(undeadlettered(actual, outcome.injected))
        actual = without_sources(actual, outcome.injected)
    differences = [line for line in differences if line] + diff(baseline.state, actual)
    verdict = "FAIL" if differences else "PASS"
    chaos_report.append(
        summary_line(scenario.name, verdict, outcome.state, outcome.duration_s, differences)
    )
    assert not differences, "\n".join([scenario.what, *outcome.notes, *differences])
