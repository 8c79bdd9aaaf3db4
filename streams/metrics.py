"""The only module that imports prometheus_client: every Coverwatch metric and how it is fed.

Pipeline metrics are per worker process (Prometheus sums them across workers). No officer or
incident id is ever a label.
"""

from __future__ import annotations

from collections.abc import Iterable

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

from streams.domain.validation import REASONS, Rejection

disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


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

    def round_trip(self, operation: str) -> None:
        """One Redis round trip happened."""
        self.redis_round_trips.labels(operation).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
