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


def create_app(settings: Settings) -> CoverwatchApp:
    """The Faust app for ``settings`` (no agents yet; see :mod:`streams.agents`)."""
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
        stream_buffer_maxsize=max(4096, 2 * settings.batch_size),
        datadir=str(Path(tempfile.gettempdir()) / f"coverwatch-{settings.app_id}"),
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app
