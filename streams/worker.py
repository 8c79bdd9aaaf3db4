"""``coverwatch worker``: one Faust worker process against the configured Kafka and Redis."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading

import faust
from mode import Service

from streams import agents
from streams.app import create_app
from streams.archive.process import ArchiveProcess
from streams.engines.epoch import EpochWatch
from streams.engines.presence_process import GC_THRESHOLDS
from streams.engines.runtime import Runtime
from streams.kafka.admin import topic_problems
from streams.settings import Settings
from streams.web.server import WebServer

log = logging.getLogger(__name__)


def build(settings: Settings) -> Runtime:
    """The app with its runtime, agents and web server, ready to run."""
    app = create_app(settings)
    runtime = Runtime.create(settings, app)
    agents.register(runtime)
    app.service(EpochWatch(settings, runtime.state, runtime.metrics, runtime.store))  # type: ignore[arg-type]
    app.service(WebServer(runtime))  # type: ignore[arg-type]
    if settings.archive_url:  # started last: its process must not hold up the others
        app.service(ArchiveProcess(settings, runtime.metrics))  # type: ignore[arg-type]
    app.service(ShutdownDeadline())  # type: ignore[arg-type]  # added last: stopped first
    return runtime


SHUTDOWN_DEADLINE_S = 20.0
"""How long a stopping worker may take before it leaves regardless."""


class ShutdownDeadline(Service):
    """Leaves the process once a stop has taken :data:`SHUTDOWN_DEADLINE_S`. Faust's consumer
    thread can hang for good when it is stopped with its broker gone (a fetch retried in a
    back-off is cancelled and the thread dies unjoined); a worker must still go when asked."""

    async def on_stop(self) -> None:
        timer = threading.Timer(SHUTDOWN_DEADLINE_S, _leave)
        timer.daemon = True
        timer.start()


def _leave() -> None:
    log.error(
        "the worker did not stop within %.0f s (a service hung; is the broker gone?): leaving",
        SHUTDOWN_DEADLINE_S,
    )
    logging.shutdown()
    os._exit(1)


def topics_as_contracted(settings: Settings) -> bool:
    """Whether the broker's topics are the contract's (:func:`topic_problems`); each problem
    is said on one line. A broker that does not answer is said too, and the worker starts (its
    consumer waits for the broker as ever)."""
    problems = asyncio.run(topic_problems(settings.kafka_bootstrap, settings.topic_prefix))
    if problems is None:
        log.warning(
            "the topics could not be checked: the broker at %s did not answer",
            settings.kafka_bootstrap,
        )
        return True
    for problem in problems:
        print(f"coverwatch worker: {problem}", file=sys.stderr)
    return not problems


def run_worker(settings: Settings) -> int:
    """Run the worker until SIGINT or SIGTERM; 2 without starting when the topics are not the
    contract's."""
    if not topics_as_contracted(settings):
        return 2
    runtime = build(settings)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    worker = faust.Worker(
        runtime.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=True,
    )
    worker.execute_from_commandline()
    return 0
