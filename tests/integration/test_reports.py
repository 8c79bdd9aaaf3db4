"""The daily refresh end to end: a worker on the event clock with the archive on reads a night
of simulated data past the report hour, its coverage leader writes the closed day's report into
the reports directory, and every worker serves it at /reports/ to a viewer token, never without
one; the report covers the day's areas and holds no raw ISSI nor token."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.devtools.stack.embedded import Services
from streams.kept_reports import kept_report_days
from streams.settings import reports_location
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record, SimulationOptions, generate
from tests.helpers.kafka import run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

VIEWER = "reports-viewer-token-0123"
START = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # London is on UTC in winter
CLOSED_DAY = "2026-11-30"
"""Due at 06:00 on 1 December: the simulated night runs to 07:00."""
Q1_COLUMNS = (
    "area_id,kind,day,officer_minutes,patrol_minutes,visits,qualifying_visits,drive_throughs,"
    "met_policy"
)


@pytest.fixture(scope="module")
def archiving_worker(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    """An event-clock worker with the archive on and the reports beside it."""
    name = module_name(request)
    settings = worker_settings(
        stack,
        name,
        clock="event",
        archive_url=(work_dir / f"{name}-archive").as_uri(),
        archive_flush_s=5.0,
        reports_dir=str(work_dir / f"{name}-reports"),
        viewer_tokens=f"reports-test={VIEWER}",
        report_hour=6,
        report_period_days=1,
        report_catch_up_days=1,
    )
    running = start_worker(stack, settings, work_dir)
    yield running
    running.stop()


def night() -> list[Record]:
    """Six officers from 20:00 on 30 November to 07:00 on 1 December; collar numbers made
    distinctive (``PC`` + digits) so a scan can find them."""
    options = SimulationOptions(seed=5, officers=6, start=START, duration_seconds=11 * 3600)
    return [with_collar(record) for record in generate(options, load_default_area_pack())]


def with_collar(record: Record) -> Record:
    if record.topic != "resources.roster" or record.value is None:
        return record
    value = orjson.loads(record.value)
    value["officer_id"] = f"PC{value['officer_id']}"
    return replace(record, value=orjson.dumps(value))


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_the_leader_writes_the_closed_day_and_every_worker_serves_it_to_a_viewer(
    archiving_worker: RunningWorker,
) -> None:
    worker = archiving_worker
    settings = worker.settings
    reports_dir = reports_location(settings)
    assert reports_dir is not None
    records = night()
    run(publish(records, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix))

    deadline = time.monotonic() + 240
    while CLOSED_DAY not in [day.isoformat() for day in kept_report_days(reports_dir)]:
        assert worker.process.alive, worker.process.log_tail()
        assert time.monotonic() < deadline, (
            f"no report of {CLOSED_DAY}:\n{worker.process.log_tail()}"
        )
        time.sleep(1.0)
    assert worker.metric("coverwatch_reports_total", outcome="written") >= 1
    assert worker.metric("coverwatch_reports_total", outcome="failed") == 0

    listing_url = f"{worker.web_url}/reports/"
    assert get(listing_url)[0] == 401
    status, listing = get(listing_url, VIEWER)
    assert status == 200
    assert f'href="{CLOSED_DAY}/"'.encode() in listing
    assert get(f"{worker.web_url}/reports/{CLOSED_DAY}/")[0] == 401
    status, index = get(f"{worker.web_url}/reports/{CLOSED_DAY}/", VIEWER)
    assert status == 200
    assert b"<html" in index.lower()
    status, table = get(f"{worker.web_url}/reports/{CLOSED_DAY}/tables/q1_officer_time.csv", VIEWER)
    assert status == 200
    header, *rows = table.decode().splitlines()
    assert header == Q1_COLUMNS
    assert any(row.split(",")[2] == CLOSED_DAY for row in rows), "the day's areas are reported"
    status, summary = get(f"{worker.web_url}/api/reports", VIEWER)
    assert orjson.loads(summary)["latest"] == CLOSED_DAY

    roster = [orjson.loads(r.value) for r in records if r.topic == "resources.roster" and r.value]
    issis = {str(entry["issi"]) for entry in roster}
    collars = {str(entry["officer_id"]) for entry in roster}
    assert collars
    assert all(collar.startswith("PC") for collar in collars)
    report = reports_dir / CLOSED_DAY
    for path in report.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert VIEWER not in text, path
            assert not issis & set(re.findall(r"\d+", text)), f"a raw ISSI in {path}"
            assert not collars & set(re.findall(r"PC\d+", text)), f"a collar number in {path}"
