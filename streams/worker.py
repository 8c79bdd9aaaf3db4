"""``coverwatch worker``: one Faust worker process against the configured Kafka and Redis."""

from __future__ import annotations

import gc

import faust

from streams import agents
from streams.app import create_app
from streams.archive.process import ArchiveProcess
from streams.engines.epoch import EpochWatch
from streams.engines.presence_process import GC_THRESHOLDS
from streams.engines.runtime import Runtime
from streams.settings import Settings
from streams.web.server import WebServer


def build(settings: Settings) -> Runtime:
    """The app with its runtime, agents and web server, ready to run."""
    app = create_app(settings)
    runtime = Runtime.create(settings, app)
    agents.register(runtime)
    app.service(EpochWatch(settings, runtime.state, runtime.metrics, runtime.store))  # type: ignore[arg-type]
    app.service(WebServer(runtime))  # type: ignore[arg-type]
    if settings.archive_url:  # started last: its process must not hold up the others
        app.service(ArchiveProcess(settings, runtime.metrics))  # type: ignore[arg-type]
    return runtime


def run_worker(settings: Settings) -> None:
    """Run the worker until SIGINT or SIGTERM."""
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
