"""An outage is told in words an operator searches for: the service by name, what waits, once
per interval per step with the repeats held back counted, and when it is back."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.engines.outages import OutageLog, service_of
from streams.engines.presence_process import PresenceUnavailableError
from streams.kafka.errors import KafkaConnectionError

REFUSED = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_failed_service_is_named() -> None:
    assert service_of(REFUSED) == "Redis"
    assert service_of(KafkaConnectionError("Unable to bootstrap")) == "the Kafka broker"


def test_a_step_waiting_on_redis_says_so_once_per_interval_with_the_repeats_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outages = OutageLog(repeat_s=30.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="streams.engines.outages"):
        for _ in range(30):  # a tick a second
            outages.unavailable("settle_presence", REFUSED, "is skipped until it is back")
            clock.now += 1.0
        outages.unavailable("settle_presence", REFUSED, "is skipped until it is back")
        clock.now += 5.0
        outages.available("settle_presence")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("Redis is unavailable (Error 111 connecting to 127.0.0.1:6379")
    assert "settle_presence is skipped until it is back" in lines[0]
    assert lines[1].startswith("Redis is unavailable for 30 s")
    assert lines[1].endswith("; 29 more times")
    assert lines[2] == "Redis is available again: settle_presence runs (it waited 35 s)"


def test_a_step_that_never_waited_says_nothing_when_it_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outages = OutageLog(clock=Clock())
    with caplog.at_level(logging.INFO, logger="streams.engines.outages"):
        outages.available("settle_presence")
    assert caplog.records == []


def test_the_presence_process_names_the_service_it_waits_for() -> None:
    assert service_of(PresenceUnavailableError("ConnectionError: refused", "Redis")) == "Redis"
    assert service_of(PresenceUnavailableError("the worker is stopping")).startswith("a service")
