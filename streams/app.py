"""The Faust application: built from settings by a factory, with agents registered on it.

Faust 0.15 hard-codes a 1.5 s broker fetch wait; ``CoverwatchApp`` uses a transport whose
consumer honours ``COVERWATCH_FETCH_MAX_WAIT_MS`` instead, which is what keeps ingest latency low
on thin traffic.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.settings import Settings


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = cast("CoverwatchApp", self.app).fetch_max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class CoverwatchApp(faust.App):
    """A Faust app whose Kafka consumer uses the configured fetch wait."""

    fetch_max_wait_ms: int = 50

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def max_poll_records(buffer_size: int) -> int:
    """The most records one poll of the consumer returns, for streams buffering ``buffer_size``.

    Faust stops fetching a partition once its stream's buffer is 80 % full, but still delivers
    the records of the poll in hand; a record that finds the buffer full makes it wait, and every
    record of every topic behind it waits too. So a poll must fit in the last 20 %, once for each
    of the (up to 4) pings partitions filling the buffer: otherwise pings waiting for
    ``cad.incidents`` (the join wait) hold up the CAD records they wait for, until the wait gives
    up. A poll of at most a 25th of the buffer leaves that room."""
    return max(buffer_size // 25, 1)


def create_app(settings: Settings) -> CoverwatchApp:
    """The Faust app for ``settings`` (no agents yet; see :mod:`streams.agents`)."""
    buffer_size = max(4096, 2 * settings.batch_size)
    app = CoverwatchApp(
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        web_enabled=False,
        web_tables_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(settings.session_timeout_s / 5, 1.0),
        broker_commit_interval=1.0,
        producer_linger_ms=5,
        stream_wait_empty=False,
        stream_buffer_maxsize=buffer_size,
        broker_max_poll_records=max_poll_records(buffer_size),
        datadir=str(Path(tempfile.gettempdir()) / f"coverwatch-{settings.app_id}"),
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app
