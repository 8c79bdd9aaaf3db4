"""The chaos harness: replay the recorded day through a real broker, redis-server and
``coverwatch worker`` processes, inject one fault mid-stream, and read what the run ends with.

One run (:func:`run_scenario`):
1. a redis-server of its own (a scenario may kill it), fresh topics, consumer group and key
   prefix on the suite's broker, and a worker on the event clock;
2. the opening reference data (areas, roster) published and waited for, as in production;
3. the live feed published at a steady pace by a thread, while the main thread waits for the
   scenario's moments ("at 40 %": once 40 % of the live messages were acknowledged by the
   broker) and injects its faults there;
4. once every input partition's offset watermark in Redis covers what was published and the
   state has stopped changing, :func:`read_final_state` reads the output topics and Redis into
   a :class:`~tests.chaos.compare.FinalState`;
5. once the archive's files cover every archived partition (:func:`wait_archived`), the workers
   are stopped, each day of the archive is compacted and :func:`read_archive` reads its input
   tables and the facts of the day into the state's
   :class:`~tests.chaos.compare.ArchiveState`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import topics
from streams.archive import compact_day
from streams.devtools.bench.probes import child_kind, child_pids
from streams.devtools.stack.embedded import (
    ManagedProcess,
    Services,
    free_port,
    python_command,
    start_redis,
    start_redis_cluster,
)
from streams.domain.archive import ARCHIVED_TOPICS, parse_file_name
from streams.domain.judging import JUDGING_STEP_S
from streams.domain.timefmt import format_ts
from streams.engines.coverage import DEMAND_SOURCES, judging_hold_s
from streams.evaluation.facts import load_facts
from streams.settings import Settings
from streams.simulator.publisher import HEARTBEAT_SOURCE, in_band_partitions, is_well_formed_tick
from streams.simulator.world import Record
from streams.state.keys import WATERMARK, Keys
from tests.chaos.compare import (
    INPUT_TABLES,
    ArchiveState,
    FinalState,
    RedisFigures,
    archive_state,
    final_state,
    state_to_json,
)
from tests.chaos.day import Day, interleave, malformed_messages
from tests.integration.conftest import RunningWorker, start_worker, worker_settings

OUTPUT_TOPICS: Final = (topics.VISITS, topics.ALERTS, topics.DEADLETTER)
PINGS_PARTITIONS: Final = topics.BY_NAME[topics.PINGS].partitions
INCIDENT_PARTITIONS: Final = topics.BY_NAME[topics.INCIDENTS].partitions
DRAIN_TIMEOUT_S: Final = 420.0
QUIET_S: Final = 8.0
SETTLE_TIMEOUT_S: Final = 120.0
BROKER_PAUSE_S: Final = 30.0
REDIS_DOWN_S: Final = 3.0
ARCHIVE_FLUSH_S: Final = 1.0
"""``COVERWATCH_ARCHIVE_FLUSH_S`` of the runs: the archive catches up seconds after the feed."""
ARCHIVE_TIMEOUT_S: Final = 120.0

SourceIds = dict[tuple[str, int, int], str]


class Unavailable(Exception):  # noqa: N818 - it names the outcome
    """The scenario needs a feature this code base does not have (yet)."""


# -- publishing ------------------------------------------------------------------------------


class PacedPublisher(threading.Thread):
    """Publishes records in order on a thread of its own, at a steady pace over ``duration_s``
    (0: at once), and remembers where each one landed (topic, partition, offset -> its id)."""

    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str,
        records: Sequence[tuple[str, Record]],
        duration_s: float,
    ) -> None:
        super().__init__(name="chaos-publisher", daemon=True)
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.records = records
        self.duration_s = duration_s
        self.acknowledged = 0
        self.positions: SourceIds = {}
        self.error: BaseException | None = None

    @property
    def total(self) -> int:
        return len(self.records)

    def run(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as error:  # reported by finish()
            self.error = error

    def finish(self, timeout_s: float = 600.0) -> SourceIds:
        """Wait until every record is acknowledged; where they landed."""
        self.join(timeout_s)
        if self.is_alive():
            raise TimeoutError("the publisher did not finish")
        if self.error is not None:
            raise RuntimeError(f"publishing failed: {self.error!r}") from self.error
        return self.positions

    def wait_for(self, share: float) -> None:
        """Block until ``share`` of the records are acknowledged (or the publisher stopped)."""
        wanted = share * self.total
        while self.acknowledged < wanted and self.is_alive():
            time.sleep(0.05)

    async def _publish(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=5,
            request_timeout_ms=180_000,
            max_request_size=8 * 1024 * 1024,
        )
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            interval = self.duration_s / max(1, self.total)
            in_band = await in_band_partitions(producer, self.topic_prefix)
            pending = []
            for index, (record_id, record) in enumerate(self.records):
                delay = started + index * interval - loop.time()
                if delay > 0.01:
                    await asyncio.sleep(delay)
                key = None if record.key is None else record.key.encode()
                future = await producer.send(
                    self.topic_prefix + record.topic, record.value, key=key
                )
                future.add_done_callback(self._landed(record.topic, record_id))
                pending.append(future)
                if record.topic == HEARTBEAT_SOURCE and is_well_formed_tick(key, record.value):
                    for topic, partition in in_band:  # as `coverwatch publish` does
                        copy = await producer.send(
                            topic, record.value, key=key, partition=partition
                        )
                        copy.add_done_callback(
                            self._copied(topic.removeprefix(self.topic_prefix), record_id)
                        )
                        pending.append(copy)
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await producer.flush()
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    def _landed(self, topic: str, record_id: str) -> Callable[[asyncio.Future[Any]], None]:
        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            metadata = future.result()
            self.positions[(topic, metadata.partition, metadata.offset)] = record_id
            self.acknowledged += 1

        return done

    def _copied(self, topic: str, record_id: str) -> Callable[[asyncio.Future[Any]], None]:
        """Where an in-band copy of a tick landed (waited for like the records; not counted in
        the share published, which the faults are timed by)."""

        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            metadata = future.result()
            self.positions[(topic, metadata.partition, metadata.offset)] = (
                f"{record_id}@{topic}.{metadata.partition}"
            )

        return done


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Run:
    """The processes of one run, and what its faults do to them."""

    name: str
    settings: Settings
    broker: ManagedProcess
    redis_process: ManagedProcess
    redis_port: int
    directory: Path
    cluster_nodes: list[ManagedProcess] = field(default_factory=list)
    """The other masters, when the run's Redis is a cluster (``redis_process`` is its first)."""
    workers: list[RunningWorker] = field(default_factory=list)
    stopped: list[RunningWorker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    publisher: PacedPublisher | None = None

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url

    def progress(self) -> str:
        """How far the live feed is, for notes."""
        if self.publisher is None:
            return "before the feed"
        share = self.publisher.acknowledged / max(1, self.publisher.total)
        return f"at {100 * share:.0f} %"

    def start_worker(self) -> RunningWorker:
        """A new worker (on a port of its own) in the run's consumer group."""
        settings = replace(self.settings, web_port=free_port())
        worker = start_worker(_services(settings), settings, self.directory)
        self.workers.append(worker)
        return worker

    def stop_worker(self, worker: RunningWorker) -> None:
        """SIGTERM (a worker leaving the group in order)."""
        worker.stop()
        self.workers.remove(worker)
        self.stopped.append(worker)

    def kill_worker(self, worker: RunningWorker) -> None:
        """SIGKILL the worker process alone (its presence process follows it by the kernel's
        parent-death signal)."""
        os.kill(worker.process.process.pid, signal.SIGKILL)
        worker.process.process.wait()
        self.workers.remove(worker)
        self.stopped.append(worker)

    def lost_workers(self) -> list[str]:
        """Workers that exited without the harness asking: why (the crash reason in the log),
        then their last log lines."""
        return [
            f"{w.process.name} exited ({w.process.process.returncode}): {crash_reason(w)}\n"
            f"{w.process.log_tail(15)}"
            for w in self.workers
            if not w.process.alive
        ]

    def restart_redis(self) -> None:
        """redis-server again on the same port and directory (its AOF, when it keeps one)."""
        self.redis_process.process.wait()
        self.redis_process = start_redis(self.redis_port, self.directory)

    def redis(self) -> redis.Redis:
        """A client of the run's Redis (of the cluster, when it is one: typed as one server's,
        as the service's own, and used for commands within one hash tag or spread by the
        cluster client itself, as SCAN over every master)."""
        if self.cluster_nodes:
            node = f"redis://127.0.0.1:{self.redis_port}/0"
            return cast("redis.Redis", redis.RedisCluster.from_url(node, socket_timeout=10))
        return redis.Redis.from_url(self.redis_url, socket_timeout=10)

    def stop(self) -> None:
        for worker in list(self.workers):
            worker.stop()
        self.redis_process.stop()
        for node in self.cluster_nodes:
            node.stop()


def crash_reason(worker: RunningWorker) -> str:
    """The first line of the worker's log that says why it crashed, if any."""
    try:
        lines = worker.process.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for marker in ("Crashed reason=", "CRITICAL", "Traceback"):
        for line in lines:
            if marker in line:
                return line.split("] ", 3)[-1].strip()[:200]
    return ""


def _services(settings: Settings) -> Services:
    return Services(settings.kafka_bootstrap, settings.redis_url)


@dataclass(frozen=True)
class Scenario:
    """A run of the day with faults at given shares of the live feed."""

    name: str
    what: str
    overrides: Mapping[str, object] = field(default_factory=dict)
    faults: tuple[tuple[float, Callable[[Run], None]], ...] = ()
    malformed: int = 0
    requires: Callable[[Run], str | None] | None = None
    """Why the scenario cannot run on this code base (None: it can)."""
    redis_masters: int = 1
    """More than one: the run's Redis is a Redis Cluster of that many masters."""
    ci: bool = False
    """Whether the short run inside ``make test`` includes it (it passes reliably today)."""


@dataclass
class Outcome:
    """What one run ended with."""

    scenario: str
    state: FinalState | None
    duration_s: float
    notes: list[str]
    injected: dict[str, str] = field(default_factory=dict)
    """Ids of the injected malformed messages -> their topic."""
    unavailable: str = ""


def run_scenario(scenario: Scenario, day: Day, broker: Services, work_dir: Path) -> Outcome:
    """Run ``scenario`` on ``day`` against ``broker``; its final state, or why it could not."""
    started = time.monotonic()
    name = f"c{scenario.name.replace('-', '')[:12]}{uuid.uuid4().hex[:6]}"
    directory = work_dir / name
    directory.mkdir(parents=True)
    redis_port = free_port()
    if scenario.redis_masters > 1:
        ports = [redis_port, *(free_port() for _ in range(scenario.redis_masters - 1))]
        redis_process, *cluster_nodes = start_redis_cluster(ports, directory)
        redis_url = f"redis+cluster://127.0.0.1:{redis_port}/0"
    else:
        redis_process, cluster_nodes = start_redis(redis_port, directory), []
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
    base = worker_settings(
        Services(broker.kafka_bootstrap, redis_url),
        name,
        clock="event",
        archive_url=(directory / "archive").resolve().as_uri(),
        archive_flush_s=ARCHIVE_FLUSH_S,
    )
    run = Run(
        name,
        replace(base, **scenario.overrides),  # type: ignore[arg-type]
        broker.processes[0],
        redis_process,
        redis_port,
        directory,
        cluster_nodes,
    )
    injected = malformed_messages(scenario.malformed) if scenario.malformed else []
    try:
        missing = scenario.requires(run) if scenario.requires else None
        if missing:
            return Outcome(scenario.name, None, time.monotonic() - started, [], {}, missing)
        run.start_worker()
        opening = PacedPublisher(
            run.settings.kafka_bootstrap, run.settings.topic_prefix, day.opening, 0.0
        )
        opening.start()
        positions = dict(opening.finish())
        wait_applied(run, positions, 120.0)
        live = interleave(day.live, injected)
        publisher = PacedPublisher(
            run.settings.kafka_bootstrap, run.settings.topic_prefix, live, day.publish_s
        )
        run.publisher = publisher
        publisher.start()
        for share, fault in sorted(scenario.faults, key=lambda item: item[0]):
            publisher.wait_for(share)
            fault(run)
        positions.update(publisher.finish())
        wait_applied(run, positions, DRAIN_TIMEOUT_S)
        state = read_final_state(run, positions, last_instant(day, run.settings))
        wait_archived(run, positions, ARCHIVE_TIMEOUT_S)
        run.notes.extend(run.lost_workers())
        for worker in list(run.workers):
            run.stop_worker(worker)  # nothing writes the archive while it is compacted
        state = replace(state, archive=read_archive(run.settings, day, positions))
        (directory / "final-state.json").write_bytes(state_to_json(state))
        return Outcome(
            scenario.name,
            state,
            time.monotonic() - started,
            run.notes,
            {record_id: record.topic for record_id, record in injected},
        )
    finally:
        run.stop()


def wait_applied(run: Run, positions: SourceIds, timeout_s: float) -> None:
    """Wait until every input partition's offset watermark covers the last offset published
    there (every message applied or deadlettered), failing if no worker is left."""
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        last[(topic, partition)] = max(offset, last.get((topic, partition), -1))
    slots = Keys(run.settings.key_prefix)
    keys = {
        WATERMARK.of(slots.partition_slot(topic, partition)): offset
        for (topic, partition), offset in last.items()
    }
    names = sorted(keys)
    deadline = time.monotonic() + timeout_s
    behind = names
    while time.monotonic() < deadline:
        if not any(worker.process.alive for worker in run.workers):
            raise RuntimeError("no worker is running: " + "\n".join(run.lost_workers()))
        with contextlib.suppress(redis.RedisError), run.redis() as client:
            values = [client.get(name) for name in names]
            behind = [
                n for n, v in zip(names, values, strict=True) if v is None or int(v) < keys[n]
            ]
            if not behind:
                return
        time.sleep(0.5)
    raise TimeoutError(f"watermarks never covered the feed: {behind[:4]}")


# -- reading the final state -----------------------------------------------------------------


def read_figures(run: Run) -> RedisFigures:
    """The Redis side of the final state (see :class:`RedisFigures`)."""
    prefix = run.settings.key_prefix

    def slot(source: str, partition: int) -> str:
        return f"{prefix}:{{{source}.{partition}}}"

    def text(mapping: Mapping[bytes, bytes]) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in mapping.items()}

    with run.redis() as client:
        dose = [
            (
                text(client.hgetall(slot(topics.PINGS, p) + ":dose:total")),
                text(client.hgetall(slot(topics.PINGS, p) + ":dose:out")),
            )
            for p in range(PINGS_PARTITIONS)
        ]
        demand_slots = [slot(s, p) for s, count in DEMAND_SOURCES.items() for p in range(count)]
        demand = [
            (text(client.hgetall(s + ":demand:total")), text(client.hgetall(s + ":demand:out")))
            for s in demand_slots
        ]
        open_incidents = [text(client.hgetall(s + ":open")) for s in demand_slots]
        incidents: dict[str, str] = {}
        for p in range(INCIDENT_PARTITIONS):
            incidents.update(text(client.hgetall(slot(topics.INCIDENTS, p) + ":incidents")))
        patrol = [
            (int(key.decode().rsplit(":", 1)[1]), text(client.hgetall(key)))
            for p in range(PINGS_PARTITIONS)
            for key in client.scan_iter(match=slot(topics.PINGS, p) + ":patrol:m:*", count=1000)
        ]
        trail = [
            (int(key.decode().rsplit(":", 1)[1]), text(client.hgetall(key)))
            for p in range(PINGS_PARTITIONS)
            for key in client.scan_iter(match=slot(topics.PINGS, p) + ":trail:*", count=1000)
        ]
        state_changes = [
            value.decode()
            for key in client.scan_iter(match=f"{prefix}:{{coverage}}:changes:*", count=1000)
            for value in client.lrange(key, 0, -1)
        ]
        coverage = text(client.hgetall(f"{prefix}:{{coverage}}:status"))
        clock = client.get(f"{prefix}:{{clock}}:watermark")
    return RedisFigures(
        dose,
        demand,
        open_incidents,
        coverage,
        incidents,
        None if clock is None else clock.decode(),
        patrol,
        trail,
        state_changes,
    )


async def _output_ends(bootstrap: str, names: Sequence[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        return dict(await consumer.end_offsets(wanted)) if wanted else {}
    finally:
        await consumer.stop()


async def _read_outputs(bootstrap: str, names: Mapping[str, str]) -> dict[str, list[Any]]:
    """Every value on each output topic (prefixed name -> contract name), up to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    values: dict[str, list[Any]] = {contract: [] for contract in names.values()}
    try:
        wanted = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        ends = await consumer.end_offsets(wanted)
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        remaining = {tp for tp in wanted if ends[tp] > 0}
        deadline = time.monotonic() + 120
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"output topics not read to their end: {remaining}")
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                values[names[tp.topic]].extend(
                    orjson.loads(r.value) for r in records if r.value is not None
                )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return values


def last_instant(day: Day, settings: Settings) -> float:
    """The last instant coverage is judged at when the day has been read: the day's end (its
    last in-band heartbeat) less the hold, down to the judging step."""
    end = day.options.start.timestamp() + day.options.duration_seconds
    return math.floor((end - judging_hold_s(settings)) / JUDGING_STEP_S) * JUDGING_STEP_S


def read_final_state(run: Run, positions: SourceIds, last_instant: float) -> FinalState:
    """The run's :class:`FinalState`, once the coverage evaluator has judged ``last_instant``
    (the last instant the day's data lets it judge) and nothing has changed for
    :data:`QUIET_S` (the evaluator and the settle timer act on their own clock after the last
    message; an evaluation that took *d* seconds is followed by a rest of *d* seconds)."""
    names = {run.settings.topic(name): name for name in OUTPUT_TOPICS}
    bootstrap = run.settings.kafka_bootstrap

    def look() -> tuple[RedisFigures, dict[TopicPartition, int]]:
        return read_figures(run), asyncio.run(_output_ends(bootstrap, list(names)))

    def judged() -> float:
        with run.redis() as client:
            value = client.get(f"{run.settings.key_prefix}:{{coverage}}:judged")
        return -math.inf if value is None else float(value)

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while judged() < last_instant:
        if time.monotonic() > deadline:
            run.notes.append(
                f"coverage not judged up to {format_ts(last_instant)} in {SETTLE_TIMEOUT_S:.0f} s"
            )
            break
        time.sleep(0.5)
    seen, since = look(), time.monotonic()
    while time.monotonic() - since < QUIET_S:
        if time.monotonic() > deadline:
            run.notes.append(f"state still changing after {SETTLE_TIMEOUT_S:.0f} s")
            break
        time.sleep(1.0)
        now = look()
        if now != seen:
            seen, since = now, time.monotonic()
    outputs = asyncio.run(_read_outputs(bootstrap, names))
    return final_state(outputs, seen[0], positions)


# -- reading the archive ---------------------------------------------------------------------


def archive_root(settings: Settings) -> Path:
    """The run's archive directory (its ``file://`` URL as a path)."""
    return Path(settings.archive_url.removeprefix("file://"))


def archived_ends(settings: Settings, positions: SourceIds) -> dict[tuple[str, int], int]:
    """The last offset of every archived partition the archive must have files up to: input
    partitions with a record of the day (partitions of in-band heartbeat copies or injected
    messages alone give no rows, hence no files) and output partitions with records."""
    ends: dict[tuple[str, int], int] = {}
    with_rows = {
        (topic, partition)
        for (topic, partition, _), record_id in positions.items()
        if record_id.startswith("r") and "@" not in record_id
    }
    for topic, partition, offset in positions:
        if (topic, partition) in with_rows and topic in ARCHIVED_TOPICS:
            ends[(topic, partition)] = max(offset, ends.get((topic, partition), -1))
    outputs = [settings.topic(name) for name in (topics.VISITS, topics.ALERTS)]
    for tp, end in asyncio.run(_output_ends(settings.kafka_bootstrap, outputs)).items():
        if end > 0:
            ends[(tp.topic.removeprefix(settings.topic_prefix), tp.partition)] = end - 1
    return ends


def wait_archived(run: Run, positions: SourceIds, timeout_s: float) -> None:
    """Wait until the archive's files cover the last offset of every archived partition
    (:func:`archived_ends`); on timeout, note the partitions behind (the comparison then shows
    what is missing)."""
    ends = archived_ends(run.settings, positions)
    root = archive_root(run.settings)
    deadline = time.monotonic() + timeout_s
    while True:
        covered: dict[tuple[str, int], int] = {}
        for path in root.glob("table=*/day=*/*.parquet"):
            found = parse_file_name(path.name)
            if found is not None:
                held = (found.topic, found.partition)
                covered[held] = max(found.last, covered.get(held, -1))
        behind = sorted(k for k, last in ends.items() if covered.get(k, -1) < last)
        if not behind:
            return
        if time.monotonic() > deadline:
            shown = ", ".join(
                f"{t}.{p} to {covered.get((t, p), -1)} of {ends[(t, p)]}" for t, p in behind
            )
            run.notes.append(f"archive behind after {timeout_s:.0f} s: {shown}")
            return
        time.sleep(0.5)


def read_archive(settings: Settings, day: Day, positions: SourceIds) -> ArchiveState:
    """Compact every day of the run's archive, then read its input tables and the facts of
    the recorded day's local dates."""
    root = archive_root(settings)
    for day_dir in sorted({p.name for p in root.glob("table=*/day=*")}):
        compact_day(settings.archive_url, date.fromisoformat(day_dir.removeprefix("day=")))
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for table in INPUT_TABLES
        for path in sorted(root.glob(f"table={table}/day=*/*.parquet"))
    }
    rows = {
        table: [
            row
            for path, content in files.items()
            if path.startswith(f"table={table}/")
            for row in pq.read_table(pa.BufferReader(content)).to_pylist()
        ]
        for table in INPUT_TABLES
    }
    zone = ZoneInfo(settings.timezone)
    start = day.options.start.astimezone(zone)
    end = start + timedelta(seconds=day.options.duration_seconds)
    facts = load_facts(settings.archive_url, start.date(), end.date(), settings.timezone)
    frames = {f.name: _records(getattr(facts, f.name)) for f in fields(facts)}
    return archive_state(rows, files, frames, positions)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts, missing values (NaN, NaT, None) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")  # type: ignore[return-value]


# -- faults ----------------------------------------------------------------------------------


def second_worker_joins(run: Run) -> None:
    started = run.progress()
    run.start_worker()
    run.notes.append(f"second worker started {started}, serving {run.progress()}")


def second_worker_leaves(run: Run) -> None:
    started = run.progress()
    run.stop_worker(run.workers[-1])
    run.notes.append(f"second worker stopped (SIGTERM) {started}, gone {run.progress()}")


def kill_and_restart_worker(run: Run) -> None:
    killed = run.progress()
    run.kill_worker(run.workers[0])
    run.start_worker()
    run.notes.append(f"worker killed {killed}, a new one serving {run.progress()}")


def presence_children(worker: RunningWorker) -> list[int]:
    """The worker's presence process (not its archive process)."""
    pid = worker.process.process.pid
    return [child for child in child_pids(pid) if child_kind(child) == "presence"]


def kill_presence_process(run: Run) -> None:
    worker = run.workers[0]
    deadline = time.monotonic() + 30
    while not presence_children(worker):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker has no presence process to kill")
        time.sleep(0.1)
    for child in presence_children(worker):
        os.kill(child, signal.SIGKILL)
    run.notes.append(f"presence process killed {run.progress()}")


def pause_broker(run: Run) -> None:
    pid = run.broker.process.pid
    paused = run.progress()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(BROKER_PAUSE_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    run.notes.append(f"broker paused for {BROKER_PAUSE_S:.0f} s {paused}")


def kill_redis_and_restart(run: Run) -> None:
    os.kill(run.redis_process.process.pid, signal.SIGKILL)
    run.notes.append(f"redis killed {run.progress()}")
    time.sleep(REDIS_DOWN_S)
    run.restart_redis()
    with run.redis() as client:
        keys = client.dbsize()
    run.notes.append(f"redis restarted with {keys} keys")


def wipe_redis_and_rebuild(run: Run) -> None:
    with run.redis() as client:
        client.flushdb()
    run.notes.append(f"redis wiped {run.progress()}")
    for worker in list(run.workers):
        run.stop_worker(worker)
    env = {**os.environ, **run.settings.to_env()}
    log = run.directory / "rebuild.log"
    with log.open("wb") as output:
        done = subprocess.run(
            python_command("rebuild", "--workers-stopped"),  # Tansu lists members that left
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"coverwatch rebuild exited {done.returncode}:\n{tail}")
    run.notes.append(f"rebuilt {run.progress()}")
    run.start_worker()


# -- what a scenario needs -------------------------------------------------------------------


def needs_aof(run: Run) -> str | None:
    """Not available unless the embedded Redis keeps an append-only file."""
    with run.redis() as client:
        appendonly = client.config_get("appendonly").get("appendonly")
    if appendonly != "yes":
        return (
            "NOT AVAILABLE: the embedded Redis runs without AOF "
            "(streams.devtools.stack.embedded.start_redis: "
            f"appendonly={appendonly}); needs the durability branch"
        )
    return None


def needs_rebuild(run: Run) -> str | None:
    """Not available unless ``coverwatch rebuild`` exists."""
    done = subprocess.run(
        python_command("rebuild", "--help"), capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        return (
            "NOT AVAILABLE: there is no `coverwatch rebuild` command; needs the durability branch"
        )
    return None
