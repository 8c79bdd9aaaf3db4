"""The end-to-end evaluation run: simulated days with a planted effect through the real broker
and worker into the archive.

:func:`run_to_archive` starts a worker on the event clock with the archive on
(``COVERWATCH_ARCHIVE_URL=file://<tmp>``), publishes every simulated day as fast as the broker
takes it (areas and roster first), and waits until the worker has read every ping and the
archive has caught up with every topic it keeps. The tests then compact the days and write the
report (tests/evaluation/test_planted_effects.py).
"""

from __future__ import annotations

import asyncio
import csv
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from streams import topics
from streams.devtools.stack.embedded import Services
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import GroundTruth, Record, SimulationOptions, generate_with_truth
from tests.helpers.kafka import committed_offsets, highwater_marks, pings_messages
from tests.integration.conftest import RunningWorker, start_worker, worker_settings

DAYS: Final = 14
EFFECT_FROM_DAY: Final = 8
START: Final = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
"""A Monday, local midnight in Europe/London (GMT in November): simulated days are local days."""
ZONE: Final = "Europe/London"
ARCHIVED_TOPICS: Final = (
    topics.VISITS, topics.PINGS, topics.INCIDENTS, topics.CRIMES, topics.STOPSEARCH,
    topics.ALERTS, topics.AREAS, topics.ROSTER,
)  # fmt: skip
"""The topics the archive writer keeps (one table each; docs/evaluation-testing.md)."""
ARCHIVE_FILE: Final = re.compile(r"^(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)$")
Table = list[dict[str, str]]


@dataclass(frozen=True)
class Size:
    """How big an evaluation run is: ``short`` for CI, ``full`` for ``make evaluation``."""

    name: str
    officers: int
    vehicle_interval_s: tuple[float, float]
    handheld_interval_s: tuple[float, float]
    heartbeat_interval_s: float
    area_crimes_per_day: float
    catch_up_timeout_s: float
    no_effect_run: bool
    """Whether the check with no effect has a run of its own (else it compares two spans of
    the planted run's baseline week)."""


SIZES: Final = {
    "short": Size("short", 20, (45.0, 90.0), (90.0, 150.0), 300.0, 30.0, 900.0, False),
    "full": Size("full", 30, (15.0, 30.0), (40.0, 90.0), 60.0, 30.0, 3600.0, True),
}


@dataclass(frozen=True)
class Scenario:
    """One run's planted effect: deterrence and displacement shares, deterrence time."""

    name: str
    deterrence_share: float
    displacement_share: float
    deterrence_s: float = 4 * 3600.0


PLANTED: Final = Scenario("planted", deterrence_share=0.8, displacement_share=0.6)
NO_EFFECT: Final = Scenario("noeffect", deterrence_share=0.0, displacement_share=0.0)


def simulation_options(size: Size, scenario: Scenario, seed: int = 23) -> SimulationOptions:
    """The simulation of ``DAYS`` days, the effect from ``EFFECT_FROM_DAY``: no neglected
    areas, no crime outside the area process but what incidents lead to, few calls per crime
    (dispatches to them keep vehicles from their directed patrols), no faults."""
    return SimulationOptions(
        seed=seed,
        officers=size.officers,
        start=START,
        duration_seconds=DAYS * 86400.0,
        vehicle_interval_s=size.vehicle_interval_s,
        handheld_interval_s=size.handheld_interval_s,
        heartbeat_interval_s=size.heartbeat_interval_s,
        outlier_rate=0.0,
        radio_off_rate=0.0,
        out_of_coverage_rate=0.0,
        duplicate_rate=0.0,
        stuck_device_rate=0.0,
        neglected_areas=(),
        incident_rate_per_hour=0.3,
        crime_rate_per_hour=0.0,
        area_crimes_per_day=size.area_crimes_per_day,
        crime_call_share=0.05,
        effect_from_day=EFFECT_FROM_DAY,
        deterrence_share=scenario.deterrence_share,
        deterrence_s=scenario.deterrence_s,
        displacement_share=scenario.displacement_share,
    )


def local_day(day: int) -> date:
    """The local date of simulated day ``day`` (1 = the first)."""
    return (START + timedelta(days=day - 1)).date()


@dataclass
class ArchivedRun:
    """One run published and archived: where the archive is, the ground truth, timings."""

    archive_url: str
    run_dir: Path
    truth: GroundTruth
    timings_s: dict[str, float] = field(default_factory=dict)


def run_to_archive(stack: Services, work_dir: Path, size: Size, scenario: Scenario) -> ArchivedRun:
    """Simulate, publish, and wait until the archive holds it all; the worker is stopped after."""
    name = f"ev{size.name[0]}{scenario.name}{int(time.time()) % 100_000}"
    run_dir = work_dir / name
    archive_dir = run_dir / "archive"
    archive_dir.mkdir(parents=True)
    archive_url = archive_dir.resolve().as_uri()
    settings = worker_settings(stack, name, clock="event")
    worker = start_worker(stack, settings, run_dir, {"COVERWATCH_ARCHIVE_URL": archive_url})
    try:
        began = time.monotonic()
        options = simulation_options(size, scenario)
        records, truth = generate_with_truth(options, load_default_area_pack())
        listed = list(records)
        assert truth is not None
        generated = time.monotonic()
        publish_all(worker, listed)
        published = time.monotonic()
        wait_for_pings(worker, pings_messages(listed), size.catch_up_timeout_s)
        wait_for_archive(worker, archive_dir, size.catch_up_timeout_s)
        caught_up = time.monotonic()
    finally:
        worker.stop()
    timings = {
        "generate": generated - began,
        "publish": published - generated,
        "catch_up": caught_up - published,
    }
    return ArchivedRun(archive_url, run_dir, truth, timings)


def publish_all(worker: RunningWorker, records: Sequence[Record]) -> None:
    """Areas and roster first (the worker has them before the feed), then the rest at once."""
    reference = [record for record in records if record.topic in topics.REFERENCE]
    areas = sum(1 for record in reference if record.topic == topics.AREAS)
    send(worker, reference)
    deadline = time.monotonic() + 60
    while worker.metric("coverwatch_messages_consumed_total", topic=topics.AREAS) < areas:
        assert time.monotonic() < deadline, "the worker did not load the areas"
        time.sleep(0.2)
    send(worker, [record for record in records if record.topic not in topics.REFERENCE])


def send(worker: RunningWorker, records: Sequence[Record]) -> None:
    """Publish ``records`` on the worker's topics as fast as the broker takes them."""
    settings = worker.settings
    asyncio.run(
        publish(records, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    )


def wait_for_pings(worker: RunningWorker, count: int, timeout_s: float) -> None:
    """Until the worker has read ``count`` messages of ``airwave.pings``."""
    deadline = time.monotonic() + timeout_s
    while worker.metric("coverwatch_messages_consumed_total", topic=topics.PINGS) < count:
        assert worker.process.alive, worker.process.log_tail()
        assert time.monotonic() < deadline, "the worker did not read every ping in time"
        time.sleep(1.0)


def archive_last_offsets(archive_dir: Path) -> dict[tuple[str, int], int]:
    """The highest last source offset of any archive file, per (topic, partition), from the
    file names (``<topic>-<partition>-<first>-<last>.parquet``)."""
    last: dict[tuple[str, int], int] = {}
    for path in archive_dir.rglob("*.parquet"):
        match = ARCHIVE_FILE.match(path.stem)
        if match:
            key = (match["topic"], int(match["partition"]))
            last[key] = max(last.get(key, -1), int(match["last"]))
    return last


def archive_lag(
    highwater: Mapping[tuple[str, int], int],
    files_last: Mapping[tuple[str, int], int],
    committed: Mapping[tuple[str, int], int],
    prefix: str,
) -> dict[str, int]:
    """Partitions the archive has not caught up with, and how many records each lags: caught
    up when a file holds the partition's last record (offset high-water mark - 1), or when the
    archive's consumer group has committed the high-water mark (the last records, such as the
    clock ticks copied into the pings partitions, give no row)."""
    lagging: dict[str, int] = {}
    for (topic, partition), mark in highwater.items():
        name = topic.removeprefix(prefix)
        reached = max(
            files_last.get((name, partition), -1) + 1, committed.get((topic, partition), -1)
        )
        if reached < mark:
            lagging[f"{name}-{partition}"] = mark - reached
    return lagging


def wait_for_archive(worker: RunningWorker, archive_dir: Path, timeout_s: float) -> None:
    """Until the archive has every record of every kept topic, as of two checks in a row (the
    worker still writes visits and alerts while it settles what the last pings left open)."""
    settings = worker.settings
    names = [settings.topic(topic) for topic in ARCHIVED_TOPICS]
    group = f"{settings.app_id}-archive"
    deadline = time.monotonic() + timeout_s
    settled_at: dict[tuple[str, int], int] | None = None
    while True:
        assert worker.process.alive, worker.process.log_tail()
        marks = asyncio.run(highwater_marks(settings.kafka_bootstrap, names))
        committed = asyncio.run(committed_offsets(settings.kafka_bootstrap, group, list(marks)))
        lagging = archive_lag(
            marks, archive_last_offsets(archive_dir), committed, settings.topic_prefix
        )
        if not lagging and marks == settled_at:
            return
        settled_at = None if lagging else marks
        assert time.monotonic() < deadline, f"the archive did not catch up: {lagging}"
        time.sleep(2.0)


def read_table(path: Path) -> Table:
    """A report CSV as rows of text."""
    with path.open(newline="") as file:
        return list(csv.DictReader(file))
