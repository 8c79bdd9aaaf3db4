"""Coverage end to end on the real broker: a starved Impact Area raises one alert, read with a
plain Kafka consumer, however many workers run and when the evaluator restarts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas import assert_valid
from streams.devtools.stack.embedded import Services, free_port
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record, SimulationOptions, generate
from tests.helpers.kafka import read_topic, run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

STARVED = "ia-03"
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[list[RunningWorker]]:
    """Two workers of one consumer group, on the event clock."""
    settings = worker_settings(stack, module_name(request), clock="event")
    workers = [
        start_worker(stack, settings, work_dir),
        start_worker(stack, replace(settings, web_port=free_port()), work_dir),
    ]
    yield workers
    for worker in workers:
        worker.stop()


def starved_afternoon() -> list[Record]:
    """40 officers from 15:00 to 18:40 with every patrol keeping away from one Impact Area."""
    options = SimulationOptions(
        seed=21,
        officers=40,
        start=START,
        duration_seconds=3 * 3600 + 40 * 60,
        neglected_areas=(STARVED,),
    )
    return list(generate(options, load_default_area_pack()))


def alerts_of(worker: RunningWorker, until, timeout_s: float = 90.0) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    settings = worker.settings
    return run(
        read_topic(
            settings.kafka_bootstrap,
            settings.topic("coverage.alerts"),
            until=until,
            timeout_s=timeout_s,
        )
    )


def raised_for(area_id: str):  # type: ignore[no-untyped-def]
    return lambda values: any(v["area_id"] == area_id and v["event"] == "raised" for v in values)


def test_a_starved_impact_area_raises_one_alert_with_two_workers(pair) -> None:  # type: ignore[no-untyped-def]
    settings = pair[0].settings
    records = starved_afternoon()
    reference = [r for r in records if r.topic in ("areas.definitions", "resources.roster")]
    live = [r for r in records if r.topic not in ("areas.definitions", "resources.roster")]
    run(
        publish(reference, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    )
    deadline = time.monotonic() + 60
    while (
        sum(w.metric("coverwatch_messages_consumed_total", topic="areas.definitions") for w in pair)
        < 40
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)

    run(publish(live, settings.kafka_bootstrap, speed=900.0, topic_prefix=settings.topic_prefix))
    alerts = alerts_of(pair[0], raised_for(STARVED))

    starved = [a for a in alerts if a["area_id"] == STARVED]
    assert starved, "the starved Impact Area must raise an alert"
    assert starved[0]["event"] == "raised"
    assert starved[0]["state"] in ("at_risk", "uncovered")
    for alert in alerts:
        assert_valid("coverage.alerts", alert)
    raised = Counter(a["alert_id"] for a in alerts if a["event"] == "raised")
    assert max(raised.values()) == 1, raised
    exporters = [w.metric("coverwatch_area_series_exporter") for w in pair]
    assert sorted(exporters) == [0.0, 1.0], "exactly one worker exports the area series"


def test_a_restarted_evaluator_keeps_the_alert_without_raising_it_again(  # type: ignore[no-untyped-def]
    pair, stack, work_dir
) -> None:
    settings = pair[0].settings
    before = alerts_of(pair[0], raised_for(STARVED))
    for worker in pair:
        worker.stop()
    replacement = start_worker(stack, replace(settings, web_port=free_port()), work_dir)
    pair[:] = [replacement]
    ticks = [
        Record(
            0.0,
            "clock.ticks",
            "test",
            orjson.dumps(
                {
                    "source": "test",
                    "ts": (START + timedelta(hours=3, minutes=41, seconds=s)).isoformat(),
                }
            ),
        )
        for s in range(0, 120, 5)
    ]
    run(publish(ticks, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix))
    deadline = time.monotonic() + 60
    while replacement.metric("coverwatch_area_series_exporter") != 1.0:
        assert time.monotonic() < deadline, "the new worker should take over the evaluation"
        time.sleep(0.5)
    time.sleep(5.0)  # several evaluations by the new leader

    after = alerts_of(replacement, lambda values: False, timeout_s=5.0)
    raised = Counter(a["alert_id"] for a in after if a["event"] == "raised")
    assert max(raised.values()) == 1, raised
    starved_alert = next(a["alert_id"] for a in before if a["area_id"] == STARVED)
    assert not any(a["alert_id"] == starved_alert and a["event"] == "cleared" for a in after)
    state = replacement.metric(
        "coverwatch_area_coverage_state", area=STARVED, kind="impact", state="uncovered"
    ) + replacement.metric(
        "coverwatch_area_coverage_state", area=STARVED, kind="impact", state="unknown"
    )
    assert state == 1.0, "the starved area is still reported (uncovered, or unknown: feed stopped)"
