from __future__ import annotations

from dataclasses import replace

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.validation import REASONS
from streams.metrics import (
    LATENCY_BUCKETS_S,
    ArchiveMetrics,
    ArchiveMetricsRecorder,
    AreaNumbers,
    BatchHistogram,
    Metrics,
    MetricsRecorder,
    PipelineMetrics,
)


def test_every_input_topic_and_reason_starts_at_an_explicit_zero() -> None:
    text = Metrics(["airwave.pings"]).exposition()[0].decode()
    for reason in REASONS:
        assert f'coverwatch_deadletter_total{{reason="{reason}",topic="airwave.pings"}} 0.0' in text


def test_an_opened_archive_has_every_table_and_skip_reason_at_an_explicit_zero() -> None:
    metrics = Metrics(["airwave.pings"])
    before = metrics.exposition()[0].decode()
    assert "coverwatch_archive_skipped_total{" not in before
    metrics.archive_opened()
    text = metrics.exposition()[0].decode()
    for reason in (*REASONS, "tombstone", "internal_error"):
        assert f'coverwatch_archive_skipped_total{{reason="{reason}",table="fixes"}} 0.0' in text
    assert 'coverwatch_archive_rows_total{table="roster"} 0.0' in text


def test_rejections_are_counted_by_reason() -> None:
    metrics = Metrics(["airwave.pings"])
    metrics.rejected("airwave.pings", ["oversized", "oversized"])
    text = metrics.exposition()[0].decode()
    assert 'coverwatch_deadletter_total{reason="oversized",topic="airwave.pings"} 2.0' in text


def feed(metrics: PipelineMetrics) -> None:
    """One of each pipeline call, as the presence engine makes them."""
    metrics.consumed("airwave.pings", 3)
    metrics.rejected("airwave.pings", ["too_late"])
    metrics.lags("airwave.pings", np.array([0.2, 4.0]))
    metrics.latencies("airwave.pings", [0.01, 0.3, 12.0])
    metrics.fixes("accepted", 2)
    metrics.visits(["open", "closed", "open"])
    metrics.round_trip("commit")


def test_calls_recorded_in_the_presence_process_count_as_if_made_in_the_worker() -> None:
    direct, recorded = Metrics(["airwave.pings"]), Metrics(["airwave.pings"])
    recorder = MetricsRecorder()
    feed(direct)
    feed(recorder)
    calls = recorder.drain()
    recorded.apply(msgspec.msgpack.decode(msgspec.msgpack.encode(calls)))  # as they travel

    assert recorder.drain() == []
    text = coverwatch_lines(recorded)
    assert 'coverwatch_visits_published_total{status="open"} 2.0' in text
    assert 'coverwatch_event_lag_seconds_count{topic="airwave.pings"} 2.0' in text
    assert text == coverwatch_lines(direct)


def coverwatch_lines(metrics: Metrics) -> list[str]:
    text = metrics.exposition()[0].decode()
    return [line for line in text.splitlines() if line.startswith("coverwatch_")]


def archive_counts(metrics: ArchiveMetrics) -> None:
    metrics.archive_opened()
    metrics.archived("fixes", 3)
    metrics.archive_skip("fixes", "invalid_json")
    metrics.archived("fixes", 2)
    metrics.archive_skip("fixes", "invalid_json")
    metrics.archive_skip("roster", "tombstone")
    metrics.archive_waiting(4.0)
    metrics.archive_written(2)
    metrics.archive_write_failed()
    metrics.archive_waiting(1.5)


def test_counts_reported_by_the_archive_process_count_as_if_made_in_the_worker() -> None:
    direct, reported = Metrics(["airwave.pings"]), Metrics(["airwave.pings"])
    recorder = ArchiveMetricsRecorder()
    archive_counts(direct)
    archive_counts(recorder)
    calls = recorder.drain()
    reported.apply_archive(msgspec.msgpack.decode(msgspec.msgpack.encode(calls)))

    assert len(calls) == 7  # rows and skips summed, the last waiting age only
    assert recorder.drain() == []
    text = coverwatch_lines(reported)
    assert 'coverwatch_archive_rows_total{table="fixes"} 5.0' in text
    assert 'coverwatch_archive_skipped_total{reason="invalid_json",table="fixes"} 2.0' in text
    assert "coverwatch_archive_unwritten_age_seconds 1.5" in text
    assert text == coverwatch_lines(direct)


def test_only_archive_calls_can_be_applied_from_the_archive_process() -> None:
    with pytest.raises(ValueError, match="consumed"):
        Metrics(["airwave.pings"]).apply_archive([("consumed", ["airwave.pings", 1])])


def test_only_pipeline_calls_can_be_applied() -> None:
    with pytest.raises(ValueError, match="export_areas"):
        Metrics(["airwave.pings"]).apply([("export_areas", [None])])


def numbers(area_id: str, state: str) -> AreaNumbers:
    return AreaNumbers(
        area_id=area_id,
        kind="impact",
        present={("response", "vehicle"): 2},
        dose_today={("response", "vehicle", "reactive"): 120.0},
        dose_total={},
        dose_windows={"15m": 60.0},
        state=state,
        severity="medium" if state == "uncovered" else None,
        last_qualifying_age_s=None,
        qualifying_today=0,
        drive_throughs_today=1,
        fidelity=None,
        open_incidents={"immediate": 1},
        incidents_24h={},
        crimes_24h=0.0,
        stop_searches_24h=0.0,
        harm_24h=0.0,
    )


def test_the_leader_exports_every_area_with_explicit_zeros_and_stops_when_it_loses_the_lead() -> (
    None
):
    metrics = Metrics([])
    metrics.export_areas(
        lambda: ([numbers("ia-01", "uncovered"), numbers("ia-02", "covered")], {"medium": 1})
    )
    text = metrics.exposition()[0].decode()
    assert 'coverwatch_area_coverage_state{area="ia-01",kind="impact",state="uncovered"} 1' in text
    assert 'coverwatch_area_coverage_state{area="ia-01",kind="impact",state="covered"} 0' in text
    zero = 'area="ia-02",kind="impact",role="neighbourhood",mode="foot"} 0'
    assert "coverwatch_area_officers_present{" + zero in text
    assert 'coverwatch_area_coverage_severity{area="ia-01",kind="impact"} 2' in text
    assert 'coverwatch_alerts_active{severity="medium"} 1' in text
    assert "coverwatch_area_series_exporter 1.0" in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert len(families["coverwatch_area_officers_present"].samples) == 2 * 7 * 2
    assert len(families["coverwatch_area_dose_today_seconds"].samples) == 2  # splits with dose

    metrics.radios_by_health({"live": 1})
    assert 'coverwatch_radios{health="live"} 1' in metrics.exposition()[0].decode()
    metrics.stop_exporting_areas()
    text = metrics.exposition()[0].decode()
    assert 'area="ia-01"' not in text
    assert "coverwatch_radios" not in text
    assert "coverwatch_area_series_exporter 0.0" in text


@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from([*LATENCY_BUCKETS_S, 0.0, -1.0]),
                st.floats(min_value=-5.0, max_value=100.0),
            ),
            max_size=20,
        ),
        max_size=4,
    )
)
def test_a_batch_histogram_counts_like_a_prometheus_histogram(batches: list[list[float]]) -> None:
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "h_seconds", "doc", ["topic"], buckets=LATENCY_BUCKETS_S, registry=reference_registry
    )
    batch_registry = CollectorRegistry()
    batched = BatchHistogram("h_seconds", "doc", "topic", LATENCY_BUCKETS_S)
    batch_registry.register(batched)
    for batch in batches:
        for value in batch:
            reference.labels("pings").observe(max(value, 0.0))
        if batch:
            batched.observe("pings", batch)

    def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
        text = generate_latest(registry).decode()
        return {
            (sample.name, sample.labels.get("le", "")): round(sample.value, 9)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    assert samples(batch_registry) == samples(reference_registry)


def test_the_leader_exports_radios_by_health_with_every_state() -> None:
    metrics = Metrics([])
    metrics.radios_by_health({"live": 3, "stuck": 1})
    assert "coverwatch_radios" not in metrics.exposition()[0].decode()  # not the leader
    metrics.export_areas(lambda: ([], {}))
    metrics.radios_by_health({"live": 3, "stuck": 1})
    text = metrics.exposition()[0].decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.labels["health"]: s.value for s in families["coverwatch_radios"].samples}
    assert samples == {"live": 3, "stale": 0, "stuck": 1, "off_duty": 0}


def test_each_area_is_named_with_its_limit_and_whether_it_was_ever_visited() -> None:
    metrics = Metrics([])
    named = replace(numbers("ia-01", "uncovered"), name='Digbeth "High" St\\', limit_s=7200.0)
    visited = replace(numbers("ia-02", "covered"), last_qualifying_age_s=300.0)
    metrics.export_areas(lambda: ([named, visited], {}))
    text = metrics.exposition()[0].decode()
    escaped = 'name="Digbeth \\"High\\" St\\\\"'
    assert f'coverwatch_area_info{{area="ia-01",kind="impact",{escaped}}} 1' in text
    assert 'coverwatch_area_info{area="ia-02",kind="impact",name="ia-02"} 1' in text
    assert 'coverwatch_area_limit_seconds{area="ia-01",kind="impact"} 7200.0' in text
    assert 'coverwatch_area_limit_seconds{area="ia-02",kind="impact"} NaN' in text
    assert 'coverwatch_area_never_visited{area="ia-01",kind="impact"} 1' in text
    assert 'coverwatch_area_never_visited{area="ia-02",kind="impact"} 0' in text
