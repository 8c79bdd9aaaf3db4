"""Which broker errors a stage waits out: the broker's own failures, not a record's."""

from __future__ import annotations

from aiokafka.errors import (
    InvalidTopicError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    ProducerClosed,
)

from streams.kafka.errors import broker_unavailable


def test_an_unreachable_timing_out_or_closing_broker_is_unavailable() -> None:
    assert broker_unavailable(KafkaConnectionError())
    assert broker_unavailable(KafkaTimeoutError())
    assert broker_unavailable(ProducerClosed())


def test_an_error_the_client_calls_retriable_is_unavailable() -> None:
    assert broker_unavailable(NotLeaderForPartitionError())


def test_an_error_about_the_record_or_the_topic_is_not() -> None:
    assert not broker_unavailable(MessageSizeTooLargeError())
    assert not broker_unavailable(InvalidTopicError())
