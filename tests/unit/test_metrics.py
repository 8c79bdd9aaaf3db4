from __future__ import annotations

from streams.domain.validation import REASONS, Rejection
from streams.metrics import Metrics


def test_every_input_topic_and_reason_starts_at_an_explicit_zero() -> None:
    text = Metrics(["airwave.pings"]).exposition()[0].decode()
    for reason in REASONS:
        assert f'coverwatch_deadletter_total{{reason="{reason}",topic="airwave.pings"}} 0.0' in text


def test_rejections_are_counted_by_reason() -> None:
    metrics = Metrics(["airwave.pings"])
    metrics.rejected("airwave.pings", [Rejection("oversized", "x"), Rejection("oversized", "y")])
    text = metrics.exposition()[0].decode()
    assert 'coverwatch_deadletter_total{reason="oversized",topic="airwave.pings"} 2.0' in text
