"""Which broker failures a stage waits out, and the client's errors the rest of the service
names (so that no module but this package's imports aiokafka)."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, ProducerClosed

__all__ = ["BROKER_UNAVAILABLE", "KafkaConnectionError", "KafkaError", "broker_unavailable"]

BROKER_UNAVAILABLE = (KafkaConnectionError, KafkaTimeoutError, ProducerClosed)
"""The broker unreachable, timing out or the producer shutting down."""


def broker_unavailable(error: KafkaError) -> bool:
    """Whether a broker error is a failure of the broker, not of a record: unreachable, timing
    out, shutting down, or any error the client calls retriable (one about the record itself, too
    large say, is not)."""
    return isinstance(error, BROKER_UNAVAILABLE) or bool(error.retriable)
