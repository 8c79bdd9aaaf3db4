"""The Faust application: built from settings by a factory, with agents registered on it.

``CoverwatchApp`` uses a transport of its own for two things:

- Faust 0.15 hard-codes a 1.5 s broker fetch wait; its consumer
  (:mod:`streams.kafka.faust_transport`) honours
  ``COVERWATCH_FETCH_MAX_WAIT_MS`` instead, which is what keeps ingest latency low on thin
  traffic.
- **Topics read elsewhere** (:meth:`CoverwatchApp.read_elsewhere`: ``airwave.pings``, read past
  Faust by the worker's pings reader, :mod:`streams.engines.pings`). Faust's group still assigns
  their partitions, with every other topic's, in one rebalance; Faust never fetches them (paused
  in its Kafka consumer, and kept out of the partitions it resumes), never checks them for
  progress, and commits only what the reader tells it (:meth:`CoverwatchApp.commit_read_elsewhere`,
  for lag tools).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from streams.kafka.faust_transport import Transport, commit_elsewhere
from streams.settings import Settings


class CoverwatchApp(faust.App):
    """A Faust app whose Kafka consumer uses the configured fetch wait."""

    fetch_max_wait_ms: int = 50
    elsewhere: frozenset[str] = frozenset()
    """Broker topics whose partitions Faust's group assigns but another reader fetches."""

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def read_elsewhere(self, topic: str) -> None:
        """Let Faust's group assign ``topic``'s partitions (with every other topic's, in one
        rebalance) without Faust ever fetching them: the partitions held are in
        ``on_partitions_assigned``, and another reader fetches them. Before the app starts."""
        self.elsewhere = self.elsewhere | {topic}
        self.topics.add(self.topic(topic))

    async def commit_read_elsewhere(self, topic: str, positions: Mapping[int, int]) -> bool:
        """Commit the next offset of partitions of a topic read elsewhere to the group (for lag
        tools: those of partitions not held are left out); False when the broker refuses, as
        during a rebalance."""
        return await commit_elsewhere(
            self.consumer, {TP(topic, partition): offset for partition, offset in positions.items()}
        )


def max_poll_records(buffer_size: int) -> int:
    """The most records one poll of the consumer returns, for streams buffering ``buffer_size``.

    Faust stops fetching a partition once its stream's buffer is 80 % full, but still delivers
    the records of the poll in hand; a record that finds the buffer full makes it wait, and every
    record of every topic behind it waits too. So a poll must fit in the last 20 %, once for each
    of the (up to 4) partitions of one stream filling its buffer. (This was sized for the pings,
    whose join wait held up the CAD records behind them while Faust read them; they are now read
    past Faust, :mod:`streams.engines.pings`, and the bound is kept for the other streams.) A poll
    of at most a 25th of the buffer leaves that room."""
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
