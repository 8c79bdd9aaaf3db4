"""The only module that imports prometheus_client: every Coverwatch metric and how it is fed.

Pipeline metrics are per worker process (Prometheus sums them across workers). No officer or
incident id is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from streams.domain.archive import SKIP_REASONS, TABLES
from streams.domain.epoch import LOST_CAUSES
from streams.domain.ledger import DoseKey
from streams.domain.roster import ROLES
from streams.domain.tracks import HEALTH_STATES, Health, Mode
from streams.domain.validation import REASONS

disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


MODES: tuple[Mode, ...] = ("foot", "vehicle")
COVERAGE_STATES = ("covered", "at_risk", "uncovered", "unknown")
UNKNOWN_REASONS = ("feed_silent", "nobody_on_duty", "feed_degraded")
"""The judged reasons an area is ``unknown`` (label ``reason``; ``none``: no reason, as in every
other state and before an area's first evaluation)."""
SEVERITY_LEVELS = {None: 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
GRADES = ("immediate", "priority", "scheduled", "resolution", "ungraded")
TIMERS = ("evaluate_coverage", "settle_presence")
"""The clock-driven steps (Faust timers) of a worker."""


@dataclass(frozen=True, slots=True)
class AreaNumbers:
    """What the area gauges show for one area (filled by the coverage engine on the leader)."""

    area_id: str
    kind: str
    present: Mapping[tuple[str, str], int]
    dose_today: Mapping[DoseKey, float]
    dose_total: Mapping[DoseKey, float]
    dose_windows: Mapping[str, float]
    state: str
    severity: str | None
    last_qualifying_age_s: float | None
    qualifying_today: int
    drive_throughs_today: int
    fidelity: float | None
    open_incidents: Mapping[str, int]
    incidents_24h: Mapping[str, float]
    crimes_24h: float
    stop_searches_24h: float
    harm_24h: float
    reason: str | None = None
    """Why the state is ``unknown`` (``streams.domain.coverage.COVERAGE_REASONS``)."""
    present_by_unit: Mapping[str, int] = field(default_factory=dict)
    """Officers present by unit label (a configured unit or ``other``)."""
    dose_windows_by_unit: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """Officer-seconds by (window name, unit label)."""
    patrol_windows: Mapping[str, float] = field(default_factory=dict)
    """Patrol-seconds (time with at least one officer present) by window name."""
    patrol_today: float = 0.0
    name: str = ""
    """The area's name (``coverwatch_area_info``: panels and alert texts show it)."""
    limit_s: float | None = None
    """The coverage policy's limit in force now (None: the area has none)."""


AreaNumbersSource = Callable[[], tuple[Iterable[AreaNumbers], Mapping[str, int]]]
"""Computes every area's numbers and the active alerts by severity, when they are scraped."""


class PipelineMetrics(Protocol):
    """The pipeline counters a stage feeds: a worker's :class:`Metrics`, or a
    :class:`MetricsRecorder` in the presence process, which exports none of its own."""

    def consumed(self, topic: str, count: int) -> None:
        """``count`` messages were taken from ``topic``."""

    def rejected(self, topic: str, reasons: Iterable[str]) -> None:
        """Messages from ``topic`` went to the deadletter topic for these reasons."""

    def lags(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Event-time lag of each accepted event of a batch."""

    def latencies(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Broker-append to Redis-commit latency of each message of a batch."""

    def fixes(self, outcome: str, count: int) -> None:
        """``count`` fixes had this outcome."""

    def visits(self, statuses: Iterable[object]) -> None:
        """Visit records were published with these statuses."""

    def round_trip(self, operation: str) -> None:
        """One Redis round trip happened."""


RecordedCall = tuple[str, list[object]]
"""One :class:`PipelineMetrics` call as plain data: (method, arguments)."""


class MetricsRecorder:
    """:class:`PipelineMetrics` kept as plain calls: the presence process records what it counts
    and hands the calls to its worker, which applies them to its :class:`Metrics`."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []

    def consumed(self, topic: str, count: int) -> None:
        """Record :meth:`Metrics.consumed`."""
        self.calls.append(("consumed", [topic, count]))

    def rejected(self, topic: str, reasons: Iterable[str]) -> None:
        """Record :meth:`Metrics.rejected`."""
        self.calls.append(("rejected", [topic, list(reasons)]))

    def lags(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Record :meth:`Metrics.lags`."""
        self.calls.append(("lags", [topic, np.asarray(seconds, dtype=float).tolist()]))

    def latencies(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Record :meth:`Metrics.latencies`."""
        self.calls.append(("latencies", [topic, np.asarray(seconds, dtype=float).tolist()]))

    def fixes(self, outcome: str, count: int) -> None:
        """Record :meth:`Metrics.fixes`."""
        self.calls.append(("fixes", [outcome, count]))

    def visits(self, statuses: Iterable[object]) -> None:
        """Record :meth:`Metrics.visits`."""
        self.calls.append(("visits", [[str(status) for status in statuses]]))

    def round_trip(self, operation: str) -> None:
        """Record :meth:`Metrics.round_trip`."""
        self.calls.append(("round_trip", [operation]))

    def drain(self) -> list[RecordedCall]:
        """The calls recorded since the last drain."""
        calls, self.calls = self.calls, []
        return calls


RECORDED_CALLS = frozenset(
    ("consumed", "rejected", "lags", "latencies", "fixes", "visits", "round_trip")
)


class ArchiveMetrics(Protocol):
    """The archive's counters: a worker's :class:`Metrics`, or an
    :class:`ArchiveMetricsRecorder` in the archive process, which exports none of its own."""

    def archive_opened(self) -> None:
        """The archive writer started."""

    def archived(self, table: str, rows: int) -> None:
        """``rows`` rows of ``table`` were taken into the archive's open blocks."""

    def archive_skip(self, table: str, reason: str) -> None:
        """A record of ``table``'s topic gave no row, for ``reason``."""

    def archive_written(self, files: int) -> None:
        """``files`` archive files were written."""

    def archive_write_failed(self) -> None:
        """An archive block write failed."""

    def archive_waiting(self, seconds: float) -> None:
        """The age of the oldest row not yet written to the archive."""


ARCHIVE_RECORDED_CALLS = frozenset(
    (
        "archive_opened",
        "archived",
        "archive_skip",
        "archive_written",
        "archive_write_failed",
        "archive_waiting",
        "archive_cpu",
    )
)


class ArchiveMetricsRecorder:
    """:class:`ArchiveMetrics` kept as plain calls: the archive process records what it counts
    and sends the calls to its worker, which applies them to its :class:`Metrics`. Rows of one
    table and skips of one (table, reason) are summed and only the last waiting age is kept, so
    what is sent stays small."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self.rows: dict[str, int] = {}
        self.skips: dict[tuple[str, str], int] = {}
        self.waiting: float | None = None

    def archive_opened(self) -> None:
        """Record :meth:`Metrics.archive_opened`."""
        self.calls.append(("archive_opened", []))

    def archived(self, table: str, rows: int) -> None:
        """Record :meth:`Metrics.archived`."""
        self.rows[table] = self.rows.get(table, 0) + rows

    def archive_skip(self, table: str, reason: str) -> None:
        """Record :meth:`Metrics.archive_skip`."""
        key = (table, reason)
        self.skips[key] = self.skips.get(key, 0) + 1

    def archive_written(self, files: int) -> None:
        """Record :meth:`Metrics.archive_written`."""
        self.calls.append(("archive_written", [files]))

    def archive_write_failed(self) -> None:
        """Record :meth:`Metrics.archive_write_failed`."""
        self.calls.append(("archive_write_failed", []))

    def archive_waiting(self, seconds: float) -> None:
        """Record :meth:`Metrics.archive_waiting` (the last one wins)."""
        self.waiting = seconds

    def archive_cpu(self, seconds: float) -> None:
        """Record :meth:`Metrics.archive_cpu`."""
        self.calls.append(("archive_cpu", [seconds]))

    def drain(self) -> list[RecordedCall]:
        """The calls recorded since the last drain."""
        calls, self.calls = self.calls, []
        calls.extend(("archived", [table, rows]) for table, rows in sorted(self.rows.items()))
        calls.extend(
            ("archive_skip", [table, reason, records])
            for (table, reason), records in sorted(self.skips.items())
        )
        if self.waiting is not None:
            calls.append(("archive_waiting", [self.waiting]))
        self.rows, self.skips, self.waiting = {}, {}, None
        return calls


class Metrics:
    """The metrics of one worker process, in their own registry (tests make one per worker)."""

    def __init__(self, input_topics: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self._declare_ingest()
        self._declare_presence()
        self._declare_coverage()
        self._declare_health()
        self._declare_archive()
        self._area_numbers: AreaNumbersSource | None = None
        self._area_text: bytes | None = None
        self._radio_health: Mapping[Health, int] | None = None
        self._preset_labels(input_topics)

    def _declare_ingest(self) -> None:
        """What the agents take in, reject, how late and how fast."""
        self.messages_consumed = Counter(
            "coverwatch_messages_consumed_total",
            "Input messages taken from a topic, valid or not",
            ["topic"],
            registry=self.registry,
        )
        self.deadletters = Counter(
            "coverwatch_deadletter_total",
            "Input messages rejected to the deadletter topic, by source topic and reason",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.event_lag = BatchHistogram(
            "coverwatch_event_lag_seconds",
            "How far behind now an accepted event's own time is when it is processed",
            "topic",
            LAG_BUCKETS_S,
        )
        self.ingest_latency = BatchHistogram(
            "coverwatch_ingest_latency_seconds",
            "From a message's append to the broker to its effect committed to Redis",
            "topic",
            LATENCY_BUCKETS_S,
        )
        self.registry.register(self.event_lag)
        self.registry.register(self.ingest_latency)
        self.redis_round_trips = Counter(
            "coverwatch_redis_round_trips_total",
            "Round trips to Redis (a pipeline or a Lua call counts once)",
            ["operation"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "coverwatch_batch_messages",
            "Messages per agent batch",
            ["topic"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "coverwatch_batch_seconds",
            "Time an agent spends on one batch, from decoding to the Redis commit and emits",
            ["topic"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )

    def _declare_presence(self) -> None:
        """What the presence engine did with fixes and visits, and its process."""
        self.fix_outcomes = Counter(
            "coverwatch_fixes_total",
            "Valid fixes by what the presence engine did with them: accepted, duplicate, "
            "too_late, implausible_speed, replayed (at or below the partition's applied offset); "
            "unknown_radio counts accepted fixes of radios missing from the roster; heartbeat "
            "counts in-band heartbeats (clock ticks in a pings partition), which are no fixes; "
            "cad_behind counts fixes classified before cad.incidents (or stopsearch.events) "
            "had been read up to their time (the event clock's join wait gave up)",
            ["outcome"],
            registry=self.registry,
        )
        self.visits_published = Counter(
            "coverwatch_visits_published_total",
            "Visit records published to presence.visits, by status",
            ["status"],
            registry=self.registry,
        )
        self.batch_retries = Counter(
            "coverwatch_batch_retries_total",
            "Batches retried because Redis or the broker was unavailable (nothing acknowledged)",
            ["topic"],
            registry=self.registry,
        )
        self.presence_lost = Counter(
            "coverwatch_presence_process_lost_total",
            "Times the worker's presence process was lost (it died or its socket broke); the "
            "batch in hand waited and a new process took it",
            registry=self.registry,
        )
        self.presence_cpu = Counter(
            "coverwatch_presence_process_cpu_seconds_total",
            "CPU seconds used by the worker's presence process (process_cpu_seconds_total is "
            "the worker process alone)",
            registry=self.registry,
        )

    def _declare_coverage(self) -> None:
        """The coverage evaluator: its time, its alert events, and who exports the area series."""
        self.coverage_evaluation = Histogram(
            "coverwatch_coverage_evaluation_seconds",
            "How long one coverage evaluation of every area takes",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.alert_events = Counter(
            "coverwatch_alert_events_total",
            "Alert lifecycle events published to coverage.alerts",
            ["event"],
            registry=self.registry,
        )
        for event in ("raised", "escalated", "cleared"):
            self.alert_events.labels(event)
        self.reports = Counter(
            "coverwatch_reports_total",
            "Daily evaluation reports the coverage leader tried to write, by outcome (written, "
            "failed: retried on the next refresh)",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("written", "failed"):
            self.reports.labels(outcome)
        self.ingest_lag_seconds = Gauge(
            "coverwatch_ingest_lag_seconds",
            "How far the slowest airwave.pings partition's event time is behind the clock "
            "(exported by the coverage leader; 0 elsewhere)",
            registry=self.registry,
        )
        self.ingest_lagging = Gauge(
            "coverwatch_ingest_lagging",
            "1 while the ingest lag exceeds COVERWATCH_INGEST_LAG_BOUND_S: the areas are shown "
            "with reason ingest_lag (coverage leader; 0 elsewhere)",
            registry=self.registry,
        )
        self.exporter = Gauge(
            "coverwatch_area_series_exporter",
            "1 on the worker that currently exports the area series (the coverage leader)",
            registry=self.registry,
        )

    def _declare_health(self) -> None:
        """The worker's own health: up, skipped clock steps, a lost Redis state."""
        self.ticks_skipped = Counter(
            "coverwatch_ticks_skipped_total",
            "Clock-driven steps skipped because Redis or the broker was unavailable",
            ["timer"],
            registry=self.registry,
        )
        self.up = Gauge("coverwatch_worker_up", "1 while this worker runs", registry=self.registry)
        self.up.set(1)
        self.redis_state_lost = Gauge(
            "coverwatch_redis_state_lost",
            "1 while this worker has found its Redis state lost (epoch_missing: wiped or "
            "restarted without persistence; epoch_changed: replaced or rebuilt under it): it "
            "is not ready and applies nothing until `coverwatch rebuild` and a restart",
            ["cause"],
            registry=self.registry,
        )
        self.redis_ready = Gauge(
            "coverwatch_redis_ready",
            "1 while this worker's Redis answers and holds this deployment's state (as /readyz); "
            "set at each scrape",
            registry=self.registry,
        )
        self.event_clock = Gauge(
            "coverwatch_event_clock_seconds",
            "The service clock's now, unix seconds (on the event clock, the newest event time "
            "seen; 0 before any data); set at each scrape",
            registry=self.registry,
        )

    def _declare_archive(self) -> None:
        """The Parquet archive (streams/archive): rows, skipped records, files, what waits."""
        self.archive_rows = Counter(
            "coverwatch_archive_rows_total",
            "Rows taken into the archive's open blocks, by table (a block read again after a "
            "restart or rebalance counts again)",
            ["table"],
            registry=self.registry,
        )
        self.archive_skipped = Counter(
            "coverwatch_archive_skipped_total",
            "Records of archived topics that give no row, by table and reason (a deadletter "
            "reason, tombstone, or internal_error)",
            ["table", "reason"],
            registry=self.registry,
        )
        self.archive_files = Counter(
            "coverwatch_archive_files_total",
            "Archive files written (a block's time flushes and its final write each count)",
            registry=self.registry,
        )
        self.archive_write_failures = Counter(
            "coverwatch_archive_write_failures_total",
            "Archive block writes that failed (the block is read again and retried)",
            registry=self.registry,
        )
        self.archive_process_lost = Counter(
            "coverwatch_archive_process_lost_total",
            "Times the worker's archive process ended when it was not told to (it is started "
            "again and reads its blocks again from their last marks)",
            registry=self.registry,
        )
        self.archive_process_cpu = Counter(
            "coverwatch_archive_process_cpu_seconds_total",
            "CPU seconds used by the worker's archive process (process_cpu_seconds_total is "
            "the worker process alone)",
            registry=self.registry,
        )
        self.archive_unwritten_age = Gauge(
            "coverwatch_archive_unwritten_age_seconds",
            "How long the oldest record read but not yet covered by an archive file has waited "
            "(0: none)",
            registry=self.registry,
        )

    def _preset_labels(self, input_topics: Iterable[str]) -> None:
        """Every known label value starts at 0, so panels and alert rules see the series at once."""
        for cause in LOST_CAUSES:
            self.redis_state_lost.labels(cause).set(0)
        for outcome in (
            "accepted",
            "duplicate",
            "too_late",
            "implausible_speed",
            "replayed",
            "unknown_radio",
            "heartbeat",
            "cad_behind",
        ):
            self.fix_outcomes.labels(outcome)
        for status in ("open", "closed", "retracted"):
            self.visits_published.labels(status)
        for timer in TIMERS:
            self.ticks_skipped.labels(timer)
        for topic in input_topics:
            self.messages_consumed.labels(topic)
            self.batch_retries.labels(topic)
            for reason in REASONS:
                self.deadletters.labels(topic, reason)

    def consumed(self, topic: str, count: int) -> None:
        """``count`` messages were taken from ``topic``."""
        self.messages_consumed.labels(topic).inc(count)
        self.batch_size.labels(topic).observe(count)

    def handled(self, topic: str, seconds: float) -> None:
        """An agent spent ``seconds`` on one batch of ``topic``."""
        self.batch_seconds.labels(topic).observe(seconds)

    def rejected(self, topic: str, reasons: Iterable[str]) -> None:
        """Messages from ``topic`` went to the deadletter topic for these reasons."""
        for reason in reasons:
            self.deadletters.labels(topic, reason).inc()

    def lags(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Event-time lag of each accepted event of a batch."""
        self.event_lag.observe(topic, seconds)

    def latencies(self, topic: str, seconds: npt.ArrayLike) -> None:
        """Broker-append to Redis-commit latency of each message of a batch."""
        self.ingest_latency.observe(topic, seconds)

    def fixes(self, outcome: str, count: int) -> None:
        """``count`` fixes had this outcome."""
        self.fix_outcomes.labels(outcome).inc(count)

    def visits(self, statuses: Iterable[object]) -> None:
        """Visit records were published with these statuses."""
        for status in statuses:
            self.visits_published.labels(str(status)).inc()

    def apply(self, calls: Sequence[RecordedCall]) -> None:
        """Count what a :class:`MetricsRecorder` recorded."""
        for name, arguments in calls:
            if name not in RECORDED_CALLS:
                raise ValueError(f"not a recordable metrics call: {name!r}")
            getattr(self, name)(*arguments)

    def retry(self, topic: str) -> None:
        """A batch from ``topic`` waits for an unavailable service."""
        self.batch_retries.labels(topic).inc()

    def presence_process_lost(self) -> None:
        """The presence process died or its socket broke."""
        self.presence_lost.inc()

    def presence_process_cpu(self, seconds: float) -> None:
        """The presence process used ``seconds`` more CPU time."""
        self.presence_cpu.inc(max(seconds, 0.0))

    def tick_skipped(self, timer: str) -> None:
        """A clock-driven step was skipped: a service it needs was unavailable."""
        self.ticks_skipped.labels(timer).inc()

    def round_trip(self, operation: str) -> None:
        """One Redis round trip happened."""
        self.redis_round_trips.labels(operation).inc()

    def serving(self, *, ready: bool, clock: float | None) -> None:
        """At a scrape: whether the worker's Redis is ready, and the service clock's now."""
        self.redis_ready.set(1 if ready else 0)
        self.event_clock.set(0.0 if clock is None else clock)

    def state_lost(self, cause: str) -> None:
        """This worker found its Redis state lost, for ``cause`` (see :data:`LOST_CAUSES`)."""
        self.redis_state_lost.labels(cause).set(1)

    def archive_opened(self) -> None:
        """The archive writer started: every table's rows and every (table, reason) of its skips
        exist at 0, so the panels and rates have a series before the first skip."""
        for table in TABLES:
            self.archive_rows.labels(table)
            for reason in SKIP_REASONS:
                self.archive_skipped.labels(table, reason)

    def archived(self, table: str, rows: int) -> None:
        """``rows`` rows of ``table`` were taken into the archive's open blocks."""
        self.archive_rows.labels(table).inc(rows)

    def archive_skip(self, table: str, reason: str, records: int = 1) -> None:
        """``records`` records of ``table``'s topic gave no row, for ``reason``."""
        self.archive_skipped.labels(table, reason).inc(records)

    def archive_written(self, files: int) -> None:
        """``files`` archive files were written."""
        self.archive_files.inc(files)

    def archive_write_failed(self) -> None:
        """An archive block write failed."""
        self.archive_write_failures.inc()

    def archive_process_ended(self) -> None:
        """The archive process ended when it was not told to."""
        self.archive_process_lost.inc()

    def archive_cpu(self, seconds: float) -> None:
        """The archive process used ``seconds`` more CPU time."""
        self.archive_process_cpu.inc(max(seconds, 0.0))

    def apply_archive(self, calls: Sequence[RecordedCall]) -> None:
        """Count what an :class:`ArchiveMetricsRecorder` recorded."""
        for name, arguments in calls:
            if name not in ARCHIVE_RECORDED_CALLS:
                raise ValueError(f"not a recordable archive metrics call: {name!r}")
            getattr(self, name)(*arguments)

    def archive_waiting(self, seconds: float) -> None:
        """The age of the oldest row not yet written to the archive."""
        self.archive_unwritten_age.set(seconds)

    def ingest_lag(self, seconds: float | None, *, lagging: bool) -> None:
        """The ingest lag (None: not known) and whether it is over its bound."""
        self.ingest_lag_seconds.set(0.0 if seconds is None else seconds)
        self.ingest_lagging.set(1 if lagging else 0)

    def export_areas(self, numbers: AreaNumbersSource) -> None:
        """Show the areas (this worker leads); every area gets explicit zeros.

        ``numbers`` is called at the first scrape after this, not before: with thousands of
        areas, building their series every evaluation would cost more than the evaluation.
        """
        self.exporter.set(1)
        self._area_numbers = numbers
        self._area_text = None

    def stop_exporting_areas(self) -> None:
        """Another worker leads now: drop the area series so none is exported twice."""
        self.exporter.set(0)
        self._area_numbers = None
        self._area_text = None
        self._radio_health = None

    @property
    def exporting_areas(self) -> bool:
        """Whether this worker exports the area series (it leads coverage)."""
        return self._area_numbers is not None

    def radios_by_health(self, counts: Mapping[Health, int]) -> None:
        """How many radios are in each health state now (exported with the area series, by the
        coverage leader only, so that the radios are counted once)."""
        self._radio_health = dict(counts)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its content type (safe on a thread)."""
        numbers, area_text, health = self._area_numbers, self._area_text, self._radio_health
        health_text = b"" if numbers is None or health is None else radio_exposition(health)
        if area_text is None:
            area_text = b""
            if numbers is not None:
                areas, active_alerts = numbers()
                area_text = area_exposition(areas, active_alerts)
            if self._area_numbers is numbers:  # not replaced meanwhile by a new evaluation
                self._area_text = area_text
        return generate_latest(self.registry) + area_text + health_text, CONTENT_TYPE_LATEST


class BatchHistogram(Collector):
    """A histogram with one label, fed a whole batch of observations at once.

    A batch of thousands of messages is counted into the buckets in one vectorised pass instead
    of one ``Histogram.observe`` (a lock and a bucket search in Python) per message. Negative
    observations count as zero. Exposed exactly like a ``prometheus_client`` histogram.
    """

    def __init__(self, name: str, documentation: str, label: str, buckets: Iterable[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.bounds = np.asarray(sorted(buckets), dtype=float)
        self.counts: dict[str, npt.NDArray[np.int64]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, label_value: str, values: npt.ArrayLike) -> None:
        """Count ``values`` (seconds) under ``label_value``."""
        observed = np.maximum(np.asarray(values, dtype=float), 0.0)
        if not observed.size:
            return
        buckets = np.searchsorted(self.bounds, observed, side="left")
        counts = np.bincount(buckets, minlength=self.bounds.size + 1)
        if label_value in self.counts:
            self.counts[label_value] += counts
        else:
            self.counts[label_value] = counts.astype(np.int64)
        self.sums[label_value] = self.sums.get(label_value, 0.0) + float(observed.sum())

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=[self.label])

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        edges = [repr(bound) for bound in self.bounds.tolist()] + ["+Inf"]
        # a copy: /metrics runs on a thread while the event loop may add a label
        for label_value, counts in list(self.counts.items()):
            cumulative = np.cumsum(counts).tolist()
            family.add_metric(
                [label_value],
                list(zip(edges, cumulative, strict=True)),
                sum_value=self.sums.get(label_value, 0.0),
            )
        yield family


ALERTS_ACTIVE = "coverwatch_alerts_active"
AREAS_BY_STATE = "coverwatch_areas"
_STATE_REASONS: tuple[tuple[str, str], ...] = (
    *((state, "none") for state in COVERAGE_STATES),
    *(("unknown", reason) for reason in UNKNOWN_REASONS),
)
"""Every (state, reason) of ``coverwatch_areas``, all exported (0 when no area is so)."""
_AREA_FAMILIES: tuple[tuple[str, str], ...] = (
    ("coverwatch_area_officers_present", "Officers in the area now"),
    ("coverwatch_area_dose_today_seconds", "Officer-seconds of today's visits"),
    (
        "coverwatch_area_dose_seconds_total",
        "Officer-seconds in the area since the service began (corrections can lower it)",
    ),
    ("coverwatch_area_dose_window_seconds", "Officer-seconds in a rolling window"),
    ("coverwatch_area_coverage_state", "1 for the area's coverage state, 0 for the others"),
    ("coverwatch_area_coverage_severity", "0 none, 1 low, 2 medium, 3 high, 4 critical"),
    (
        "coverwatch_area_last_qualifying_visit_age_seconds",
        "Seconds since the last qualifying visit ended (NaN: none yet)",
    ),
    ("coverwatch_area_qualifying_visits_today", "Qualifying visits today"),
    ("coverwatch_area_drive_throughs_today", "Drive-throughs today"),
    ("coverwatch_area_fidelity_ratio", "Share of today's policy windows met (NaN: none due yet)"),
    ("coverwatch_area_incidents_open", "Open incidents by grade"),
    ("coverwatch_area_incidents_opened_24h", "Incidents opened in 24 h by grade"),
    ("coverwatch_area_crimes_24h", "Recorded crimes in 24 h"),
    ("coverwatch_area_stop_searches_24h", "Stop-searches in 24 h"),
    ("coverwatch_area_harm_24h", "Harm-weighted demand in 24 h (days)"),
    (
        "coverwatch_area_officers_present_by_unit",
        "Officers in the area now by unit (COVERWATCH_METRIC_UNITS by name, the rest as other)",
    ),
    (
        "coverwatch_area_dose_window_by_unit_seconds",
        "Officer-seconds in a rolling window by unit (as the officers present by unit)",
    ),
    (
        "coverwatch_area_patrol_window_seconds",
        "Patrol-seconds in a rolling window: time with at least one officer present",
    ),
    (
        "coverwatch_area_patrol_today_seconds",
        "Patrol-seconds today: time with at least one officer present",
    ),
    ("coverwatch_area_info", "1 per area; its name in the name label, to join in queries"),
    ("coverwatch_area_limit_seconds", "The coverage policy's limit in force now (NaN: none)"),
    (
        "coverwatch_area_never_visited",
        "1 while the area has had no qualifying visit since monitoring began",
    ),
)


RADIOS = "coverwatch_radios"


def radio_exposition(counts: Mapping[Health, int]) -> bytes:
    """``coverwatch_radios{health}``: radios by health state, every state present."""
    text = [
        f"# HELP {RADIOS} Radios by health: live, stale (silent over max_gap), stuck (frozen "
        "position), off_duty (leader only)\n",
        f"# TYPE {RADIOS} gauge\n",
    ]
    text.extend(f'{RADIOS}{{health="{name}"}} {counts.get(name, 0)}\n' for name in HEALTH_STATES)
    return "".join(text).encode()


def _number(value: float | None) -> str:
    return "NaN" if value is None or value != value else repr(float(value))


def area_exposition(areas: Iterable[AreaNumbers], active_alerts: Mapping[str, int]) -> bytes:
    """The per-area series (docs/metrics.md) in the Prometheus text format.

    Every area has explicit zeros for officers present (every role and mode), dose windows,
    coverage state, demand and visits; dose today and since start have a series per split
    that has had dose (a zero grid of 28 splits per area would dominate large packs).

    Written out directly rather than through labelled gauges: with thousands of areas, gauge
    children and the client's exposition cost seconds per evaluation; this is one string join.
    Label values are area ids (``[A-Za-z0-9_.:/-]``), small enumerations and units (those of
    ``COVERWATCH_METRIC_UNITS``, which the settings refuse with a character to escape, and
    ``other``): nothing to escape, but the area names of ``coverwatch_area_info``, escaped.
    Officers present by unit have explicit zeros for every configured unit and ``other``; dose
    by unit has a series per unit label with dose.
    """
    lines: dict[str, list[str]] = {name: [] for name, _ in _AREA_FAMILIES}
    by_state: dict[tuple[str, str], int] = dict.fromkeys(_STATE_REASONS, 0)
    for area in areas:
        _append_area_samples(lines, area)
        key = (area.state, area.reason or "none")
        by_state[key] = by_state.get(key, 0) + 1
    text: list[str] = []
    for name, doc in _AREA_FAMILIES:
        text.append(f"# HELP {name} {doc}\n# TYPE {name} gauge\n")
        text.extend(f"{name}{sample}\n" for sample in lines[name])
    text.append(f"# HELP {ALERTS_ACTIVE} Active coverage alerts by severity\n")
    text.append(f"# TYPE {ALERTS_ACTIVE} gauge\n")
    text.extend(
        f'{ALERTS_ACTIVE}{{severity="{name}"}} {active_alerts.get(name, 0)}\n'
        for name in ("low", "medium", "high", "critical")
    )
    text.append(f"# HELP {AREAS_BY_STATE} Areas by coverage state and why unknown\n")
    text.append(f"# TYPE {AREAS_BY_STATE} gauge\n")
    text.extend(
        f'{AREAS_BY_STATE}{{state="{state}",reason="{reason}"}} {count}\n'
        for (state, reason), count in by_state.items()
    )
    return "".join(text).encode()


def _append_area_samples(lines: dict[str, list[str]], a: AreaNumbers) -> None:
    """One area's samples, appended to each family's lines (``_AREA_FAMILIES`` order)."""
    (
        present,
        dose_today,
        dose_total,
        window,
        state,
        severity,
        age,
        qualifying,
        drive_throughs,
        fidelity,
        incidents_open,
        incidents_24h,
        crimes,
        searches,
        harm,
        present_by_unit,
        window_by_unit,
        patrol_window,
        patrol_today,
        info,
        limit,
        never_visited,
    ) = lines.values()
    key = f'area="{a.area_id}",kind="{a.kind}"'
    for role in ROLES:
        for mode in MODES:
            labels = f'{key},role="{role}",mode="{mode}"'
            present.append(f"{{{labels}}} {a.present.get((role, mode), 0)}")
    for target, values in ((dose_today, a.dose_today), (dose_total, a.dose_total)):
        target.extend(
            f'{{{key},role="{role}",mode="{mode}",activity="{activity}"}} {_number(seconds)}'
            for (role, mode, activity), seconds in sorted(values.items())
            if seconds
        )
    window.extend(
        f'{{{key},window="{name}"}} {_number(seconds)}' for name, seconds in a.dose_windows.items()
    )
    state.extend(
        f'{{{key},state="{name}"}} {1 if name == a.state else 0}' for name in COVERAGE_STATES
    )
    severity.append(f"{{{key}}} {SEVERITY_LEVELS.get(a.severity, 0)}")
    age.append(f"{{{key}}} {_number(a.last_qualifying_age_s)}")
    qualifying.append(f"{{{key}}} {a.qualifying_today}")
    drive_throughs.append(f"{{{key}}} {a.drive_throughs_today}")
    fidelity.append(f"{{{key}}} {_number(a.fidelity)}")
    for grade in GRADES:
        incidents_open.append(f'{{{key},grade="{grade}"}} {a.open_incidents.get(grade, 0)}')
        opened = _number(a.incidents_24h.get(grade, 0.0))
        incidents_24h.append(f'{{{key},grade="{grade}"}} {opened}')
    crimes.append(f"{{{key}}} {_number(a.crimes_24h)}")
    searches.append(f"{{{key}}} {_number(a.stop_searches_24h)}")
    harm.append(f"{{{key}}} {_number(a.harm_24h)}")
    present_by_unit.extend(
        f'{{{key},unit="{unit}"}} {count}' for unit, count in sorted(a.present_by_unit.items())
    )
    window_by_unit.extend(
        f'{{{key},window="{name}",unit="{unit}"}} {_number(seconds)}'
        for (name, unit), seconds in sorted(a.dose_windows_by_unit.items())
    )
    patrol_window.extend(
        f'{{{key},window="{name}"}} {_number(seconds)}'
        for name, seconds in a.patrol_windows.items()
    )
    patrol_today.append(f"{{{key}}} {_number(a.patrol_today)}")
    info.append(f'{{{key},name="{_label_value(a.name or a.area_id)}"}} 1')
    limit.append(f"{{{key}}} {_number(a.limit_s)}")
    never_visited.append(f"{{{key}}} {1 if a.last_qualifying_age_s is None else 0}")


def _label_value(text: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
