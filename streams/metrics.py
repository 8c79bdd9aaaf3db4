"""The only module that imports prometheus_client: every Coverwatch metric and how it is fed.

Pipeline metrics are per worker process (Prometheus sums them across workers). No officer or
incident id is ever a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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

from streams.domain.ledger import DoseKey
from streams.domain.roster import ROLES
from streams.domain.tracks import Activity, Mode
from streams.domain.validation import REASONS, Rejection

disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


MODES: tuple[Mode, ...] = ("foot", "vehicle")
ACTIVITIES: tuple[Activity, ...] = ("proactive", "reactive")
COVERAGE_STATES = ("covered", "at_risk", "uncovered", "unknown")
SEVERITY_LEVELS = {None: 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
GRADES = ("immediate", "priority", "scheduled", "resolution", "ungraded")


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


class Metrics:
    """The metrics of one worker process, in their own registry (tests make one per worker)."""

    def __init__(self, input_topics: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
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
        self.event_lag = Histogram(
            "coverwatch_event_lag_seconds",
            "How far behind now an accepted event's own time is when it is processed",
            ["topic"],
            buckets=LAG_BUCKETS_S,
            registry=self.registry,
        )
        self.ingest_latency = Histogram(
            "coverwatch_ingest_latency_seconds",
            "From a message's append to the broker to its effect committed to Redis",
            ["topic"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
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
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=self.registry,
        )
        self.fix_outcomes = Counter(
            "coverwatch_fixes_total",
            "Valid fixes by what the presence engine did with them: accepted, duplicate, "
            "too_late, implausible_speed, replayed (at or below the partition's applied offset); "
            "unknown_radio counts accepted fixes of radios missing from the roster",
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
        self.exporter = Gauge(
            "coverwatch_area_series_exporter",
            "1 on the worker that currently exports the area series (the coverage leader)",
            registry=self.registry,
        )
        self.area = _AreaGauges(self.registry)
        self.up = Gauge("coverwatch_worker_up", "1 while this worker runs", registry=self.registry)
        self.up.set(1)
        for outcome in (
            "accepted",
            "duplicate",
            "too_late",
            "implausible_speed",
            "replayed",
            "unknown_radio",
        ):
            self.fix_outcomes.labels(outcome)
        for status in ("open", "closed", "retracted"):
            self.visits_published.labels(status)
        for topic in input_topics:
            self.messages_consumed.labels(topic)
            self.batch_retries.labels(topic)
            for reason in REASONS:
                self.deadletters.labels(topic, reason)

    def consumed(self, topic: str, count: int) -> None:
        """``count`` messages were taken from ``topic``."""
        self.messages_consumed.labels(topic).inc(count)
        self.batch_size.labels(topic).observe(count)

    def rejected(self, topic: str, rejections: Iterable[Rejection]) -> None:
        """These messages from ``topic`` went to the deadletter topic."""
        for rejection in rejections:
            self.deadletters.labels(topic, rejection.reason).inc()

    def lags(self, topic: str, seconds: Iterable[float]) -> None:
        """Event-time lag of accepted events."""
        histogram = self.event_lag.labels(topic)
        for lag in seconds:
            histogram.observe(max(lag, 0.0))

    def latencies(self, topic: str, seconds: Iterable[float]) -> None:
        """Broker-append to Redis-commit latency of each message of a batch."""
        histogram = self.ingest_latency.labels(topic)
        for latency in seconds:
            histogram.observe(max(latency, 0.0))

    def fixes(self, outcome: str, count: int) -> None:
        """``count`` fixes had this outcome."""
        self.fix_outcomes.labels(outcome).inc(count)

    def visits(self, statuses: Iterable[object]) -> None:
        """Visit records were published with these statuses."""
        for status in statuses:
            self.visits_published.labels(str(status)).inc()

    def retry(self, topic: str) -> None:
        """A batch from ``topic`` waits for an unavailable service."""
        self.batch_retries.labels(topic).inc()

    def round_trip(self, operation: str) -> None:
        """One Redis round trip happened."""
        self.redis_round_trips.labels(operation).inc()

    def export_areas(self, areas: Iterable[AreaNumbers], active_alerts: Mapping[str, int]) -> None:
        """Show these areas (this worker leads); every area gets explicit zeros."""
        self.exporter.set(1)
        self.area.show(list(areas), active_alerts)

    def stop_exporting_areas(self) -> None:
        """Another worker leads now: drop the area series so none is exported twice."""
        self.exporter.set(0)
        self.area.clear()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _AreaGauges:
    """The per-area series (DESIGN §6): labels area, kind and small enumerations only."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        area = ["area", "kind"]
        self.present = gauge(
            "coverwatch_area_officers_present", "Officers in the area now", [*area, "role", "mode"]
        )
        self.dose_today = gauge(
            "coverwatch_area_dose_today_seconds",
            "Officer-seconds of today's visits",
            [*area, "role", "mode", "activity"],
        )
        self.dose_total = gauge(
            "coverwatch_area_dose_seconds_total",
            "Officer-seconds in the area since the service began (corrections can lower it)",
            [*area, "role", "mode", "activity"],
        )
        self.dose_window = gauge(
            "coverwatch_area_dose_window_seconds",
            "Officer-seconds in a rolling window",
            [*area, "window"],
        )
        self.state = gauge(
            "coverwatch_area_coverage_state",
            "1 for the area's coverage state, 0 for the others",
            [*area, "state"],
        )
        self.severity = gauge(
            "coverwatch_area_coverage_severity", "0 none, 1 low, 2 medium, 3 high, 4 critical", area
        )
        self.last_qualifying_age = gauge(
            "coverwatch_area_last_qualifying_visit_age_seconds",
            "Seconds since the last qualifying visit ended (NaN: none yet)",
            area,
        )
        self.qualifying_today = gauge(
            "coverwatch_area_qualifying_visits_today", "Qualifying visits today", area
        )
        self.drive_throughs_today = gauge(
            "coverwatch_area_drive_throughs_today", "Drive-throughs today", area
        )
        self.fidelity = gauge(
            "coverwatch_area_fidelity_ratio",
            "Share of today's policy windows met (NaN: none due yet)",
            area,
        )
        self.incidents_open = gauge(
            "coverwatch_area_incidents_open", "Open incidents by grade", [*area, "grade"]
        )
        self.incidents_24h = gauge(
            "coverwatch_area_incidents_opened_24h",
            "Incidents opened in 24 h by grade",
            [*area, "grade"],
        )
        self.crimes_24h = gauge("coverwatch_area_crimes_24h", "Recorded crimes in 24 h", area)
        self.stop_searches_24h = gauge(
            "coverwatch_area_stop_searches_24h", "Stop-searches in 24 h", area
        )
        self.harm_24h = gauge(
            "coverwatch_area_harm_24h", "Harm-weighted demand in 24 h (days)", area
        )
        self.alerts_active = gauge(
            "coverwatch_alerts_active", "Active coverage alerts by severity", ["severity"]
        )
        self._all = [
            self.present,
            self.dose_today,
            self.dose_total,
            self.dose_window,
            self.state,
            self.severity,
            self.last_qualifying_age,
            self.qualifying_today,
            self.drive_throughs_today,
            self.fidelity,
            self.incidents_open,
            self.incidents_24h,
            self.crimes_24h,
            self.stop_searches_24h,
            self.harm_24h,
            self.alerts_active,
        ]

    def clear(self) -> None:
        for gauge in self._all:
            gauge.clear()

    def show(self, areas: list[AreaNumbers], active_alerts: Mapping[str, int]) -> None:
        self.clear()
        nan = float("nan")
        for a in areas:
            key = (a.area_id, a.kind)
            for role in ROLES:
                for mode in MODES:
                    self.present.labels(*key, role, mode).set(a.present.get((role, mode), 0))
                    for activity in ACTIVITIES:
                        split = (role, mode, activity)
                        self.dose_today.labels(*key, *split).set(a.dose_today.get(split, 0.0))
                        self.dose_total.labels(*key, *split).set(a.dose_total.get(split, 0.0))
            for window, seconds in a.dose_windows.items():
                self.dose_window.labels(*key, window).set(seconds)
            for state in COVERAGE_STATES:
                self.state.labels(*key, state).set(1 if state == a.state else 0)
            self.severity.labels(*key).set(SEVERITY_LEVELS.get(a.severity, 0))
            age = a.last_qualifying_age_s
            self.last_qualifying_age.labels(*key).set(nan if age is None else age)
            self.qualifying_today.labels(*key).set(a.qualifying_today)
            self.drive_throughs_today.labels(*key).set(a.drive_throughs_today)
            self.fidelity.labels(*key).set(nan if a.fidelity is None else a.fidelity)
            for grade in GRADES:
                self.incidents_open.labels(*key, grade).set(a.open_incidents.get(grade, 0))
                self.incidents_24h.labels(*key, grade).set(a.incidents_24h.get(grade, 0.0))
            self.crimes_24h.labels(*key).set(a.crimes_24h)
            self.stop_searches_24h.labels(*key).set(a.stop_searches_24h)
            self.harm_24h.labels(*key).set(a.harm_24h)
        for severity in ("low", "medium", "high", "critical"):
            self.alerts_active.labels(severity).set(active_alerts.get(severity, 0))
