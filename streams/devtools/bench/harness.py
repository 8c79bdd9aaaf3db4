"""The bench's shared context: one embedded stack, fresh names per measurement, and the worker
processes it starts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streams import topics
from streams.devtools.bench.loading import Messages, preload, publish_all
from streams.devtools.bench.plan import Plan
from streams.devtools.bench.probes import Consumer, redis_pid, scrape, start_consumer
from streams.devtools.bench.support import Fleet, area_messages, make_fleet
from streams.devtools.stack.embedded import (
    Services,
    create_topics,
    free_port,
    python_command,
    wait_until,
)
from streams.domain.areas import live_areas
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack


class Bench:
    """What every measurement of one ``make bench`` run shares: the embedded stack, the plan, the
    default area pack, the broker's and Redis's pids, a serial for fresh names, the messages
    published so far, py-spy profiles and the results of the steps run so far."""

    def __init__(
        self, stack: Services, plan: Plan, log_dir: Path, profile_dir: Path | None = None
    ) -> None:
        self.profile_dir = profile_dir
        self.profiles: dict[str, Any] = {}
        self.stack = stack
        self.plan = plan
        self.log_dir = log_dir
        self.serial = 0
        self.pack = live_areas(load_default_area_pack())
        self.broker_pid = stack.processes[0].process.pid
        self.redis_pid = redis_pid(stack.redis_url)
        self.published = 0
        self.results: dict[str, Any] = {}

    def settings(self, what: str, clock: str = "event") -> Settings:
        """Fresh topic prefix, consumer group and key prefix for one measurement."""
        self.serial += 1
        name = f"bench{self.serial:02d}{what}"
        return Settings(
            kafka_bootstrap=self.stack.kafka_bootstrap,
            redis_url=self.stack.redis_url,
            app_id=f"{name}-app",
            topic_prefix=f"{name}.",
            key_prefix=name,
            web_port=free_port(),
            clock=clock,  # type: ignore[arg-type]
            pseudonym_key="bench-pseudonym-key-0123456789",
            session_timeout_s=6.0,
            log_level="warn",
            presence_processes=self.plan.presence_processes,
        )

    def publish(self, settings: Settings, batches: Sequence[tuple[str, Messages]]) -> None:
        """Create a measurement's topics and publish (topic, messages) groups to them."""
        asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
        self.published += asyncio.run(
            publish_all(settings.kafka_bootstrap, settings.topic_prefix, batches)
        )

    def pids(self, consumer: Consumer) -> dict[str, int]:
        """The processes whose CPU a measurement watches: the consumer, the broker, Redis."""
        return {
            "worker": consumer.process.process.pid,
            "broker": self.broker_pid,
            "redis": self.redis_pid,
        }

    def start_live_worker(self, label: str, radios: int) -> tuple[Consumer, Fleet]:
        """A worker on the wall clock, with the roster of ``radios`` radios and the default area
        pack published and preloaded, once it has read the roster (stopped if it does not)."""
        settings = self.settings(label, clock="wall")
        fleet = make_fleet(radios, self.pack)
        roster = fleet.roster_messages()
        areas = area_messages(self.pack)
        self.publish(settings, [(topics.AREAS, areas), (topics.ROSTER, roster)])
        asyncio.run(preload(settings, roster, areas))
        worker = start_consumer(settings, python_command("worker"), self.log_dir, label)
        try:
            wait_until(
                f"{label} worker reads the roster",
                lambda: (
                    scrape(worker.url).value(
                        "coverwatch_messages_consumed_total", topic=topics.ROSTER
                    )
                    >= len(roster)
                ),
                worker.process,
                60,
            )
        except BaseException:
            worker.stop()
            raise
        return worker, fleet
