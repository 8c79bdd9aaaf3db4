"""Partial feed loss end to end, on the real broker and worker: when half of the radios on duty
go silent, an Impact Area that would become overdue is ``unknown`` with reason
``feed_degraded``, not uncovered, and raises no alert (while an area overdue before the loss,
with the whole feed there, raises its alert as usual)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis
from shapely.geometry import box

from schemas import assert_valid
from streams.devtools.stack.embedded import Services
from streams.domain.areas import AreaDefinition, area_to_feature
from streams.domain.timefmt import format_ts
from streams.simulator.publisher import publish
from streams.simulator.world import Record
from tests.helpers.kafka import read_topic, run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RADIOS = [f"{2_400_000 + n}" for n in range(10)]
SILENT = RADIOS[:5]
SILENCE_FROM_S = 30 * 60.0
END_S = 95 * 60.0
EARLY = "fl-early"  # 15 min limit: overdue while the whole feed is there
LATE = "fl-late"  # 60 min limit: would be overdue (at risk from 48 min) after the loss
VIEWER = "feed-loss-viewer-0123456789"


def policy(minutes: int) -> dict[str, object]:
    return {"bands": [], "default_max_gap_minutes": minutes, "alert": True}


def iso(seconds: float) -> str:
    """The time ``seconds`` after START as the service writes times."""
    return format_ts((START + timedelta(seconds=seconds)).timestamp())


def feed_loss_records() -> list[Record]:
    """Two Impact Areas nobody visits; ten radios on duty reporting every 30 s well away from
    them, half of which go silent at 10:30; clock ticks every 5 s to the end."""
    areas = [
        AreaDefinition(EARLY, "Early", "impact", box(-1.90, 52.48, -1.89, 52.49), policy(15)),
        AreaDefinition(LATE, "Late", "impact", box(-1.88, 52.48, -1.87, 52.49), policy(60)),
    ]
    records = [
        Record(0.0, "areas.definitions", a.area_id, orjson.dumps(area_to_feature(a))) for a in areas
    ]
    for n, issi in enumerate(RADIOS):
        roster = {
            "issi": issi,
            "officer_id": f"OF{n:04d}",
            "callsign": f"FL{n:02d}",
            "unit": "NPU-A",
            "role": "response",
            "device": "handheld",
            "on_duty": True,
            "ts": iso(0.0),
        }
        records.append(Record(0.0, "resources.roster", issi, orjson.dumps(roster)))
    second = 1.0
    while second <= END_S:
        for n, issi in enumerate(RADIOS):
            if issi in SILENT and second >= SILENCE_FROM_S:
                continue
            jitter = ((second * 7 + n * 13) % 11 - 5) * 1e-5  # metres of GPS noise
            fix = {
                "issi": issi,
                "ts": iso(second + n),
                "lat": 52.40 + n * 0.001 + jitter,
                "lon": -1.95 - jitter,
            }
            records.append(Record(second, "airwave.pings", issi, orjson.dumps(fix)))
        second += 30.0
    for tick in range(0, int(END_S) + 1, 5):
        value = {"schema": "clock.ticks/1", "source": "test", "ts": iso(float(tick))}
        records.append(Record(float(tick), "clock.ticks", "test", orjson.dumps(value)))
    return sorted(records, key=lambda record: record.at)


@pytest.fixture(scope="module")
def evaluated(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    settings = worker_settings(
        stack, module_name(request), clock="event", replay_hours=0, viewer_tokens=f"wall={VIEWER}"
    )
    running = start_worker(stack, settings, work_dir)
    records = feed_loss_records()
    reference = [r for r in records if r.topic in ("areas.definitions", "resources.roster")]
    live = [r for r in records if r.topic not in ("areas.definitions", "resources.roster")]
    bootstrap, prefix = settings.kafka_bootstrap, settings.topic_prefix
    run(publish(reference, bootstrap, speed=None, topic_prefix=prefix))
    deadline = time.monotonic() + 60
    while running.metric("coverwatch_messages_consumed_total", topic="resources.roster") < 10:
        assert time.monotonic() < deadline, "the roster should be read"
        time.sleep(0.2)
    run(publish(live, bootstrap, speed=None, topic_prefix=prefix))
    yield running
    running.stop()


def latest_snapshot(values: list[dict[str, object]], area_id: str) -> dict[str, object] | None:
    mine = [v for v in values if v["area_id"] == area_id]
    return max(mine, key=lambda v: str(v["ts"])) if mine else None


def judged_past(area_id: str, seconds: float):  # type: ignore[no-untyped-def]
    def done(values: list[dict[str, object]]) -> bool:
        latest = latest_snapshot(values, area_id)
        return latest is not None and str(latest["ts"]) >= iso(seconds)

    return done


def test_half_the_radios_silent_makes_an_area_unknown_feed_degraded_not_uncovered(
    evaluated: RunningWorker,
) -> None:
    settings = evaluated.settings
    snapshots = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("area.snapshots"),
            until=judged_past(LATE, 85 * 60.0),
            timeout_s=180.0,
        )
    )
    late = latest_snapshot(snapshots, LATE)
    assert late is not None
    assert str(late["ts"]) >= iso(85 * 60.0), "the worker judged too little"
    coverage = late["coverage"]
    assert isinstance(coverage, dict)
    assert (coverage["state"], coverage["reason"], coverage["alert_id"]) == (
        "unknown",
        "feed_degraded",
        None,
    )
    assert coverage["since"] == iso(48 * 60.0)  # when it would have become at risk
    late_states = {
        (v["coverage"]["state"], v["coverage"].get("reason"))  # type: ignore[index]
        for v in snapshots
        if v["area_id"] == LATE
    }
    assert late_states <= {("covered", None), ("unknown", "feed_degraded")}, late_states
    for value in snapshots:
        assert_valid("area.snapshots", value)

    # alerts are published before the snapshots of the evaluation that judged them: every alert
    # judged up to the snapshot read above is on the topic already
    alerts = run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("coverage.alerts"),
            until=lambda values: sum(1 for v in values if v["area_id"] == EARLY) >= 3,
            timeout_s=30.0,
        )
    )
    for alert in alerts:
        assert_valid("coverage.alerts", alert)
    assert not [a for a in alerts if a["area_id"] == LATE], "no alert for the degraded area"
    early = [a for a in alerts if a["area_id"] == EARLY]
    assert [(a["event"], a["state"], a["severity"]) for a in early] == [
        ("raised", "at_risk", "low"),
        ("escalated", "uncovered", "medium"),
        ("escalated", "uncovered", "high"),  # uncovered for twice its 15 min limit
    ], f"with the whole feed there, the same setup alerts as usual: {early}"
    early_now = latest_snapshot(snapshots, EARLY)
    assert early_now is not None
    assert early_now["coverage"]["reason"] == "feed_degraded"  # type: ignore[index]
    assert early_now["coverage"]["alert_id"] == early[0]["alert_id"]  # type: ignore[index]

    assert evaluated.metric("coverwatch_areas", state="unknown", reason="feed_degraded") == 2.0
    assert evaluated.metric("coverwatch_area_coverage_state", area=LATE, state="uncovered") == 0


def test_with_the_time_control_off_no_trail_is_kept_and_no_replay_is_served(
    evaluated: RunningWorker, stack: Services
) -> None:
    prefix = evaluated.settings.key_prefix
    client = redis.Redis.from_url(stack.redis_url)
    try:
        assert list(client.scan_iter(match=f"{prefix}:*:lastfix")), "fixes were applied"
        assert list(client.scan_iter(match=f"{prefix}:*:trail:*")) == []
    finally:
        client.close()
    request = urllib.request.Request(
        f"{evaluated.web_url}/api/replay?at={iso(60 * 60.0)}",
        headers={"Authorization": f"Bearer {VIEWER}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404
    assert "time control is off" in orjson.loads(refused.value.read())["error"]
