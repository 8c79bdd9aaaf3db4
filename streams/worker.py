"""``coverwatch worker``: one Faust worker process against the configured Kafka and Redis."""

from __future__ import annotations

import gc
from typing import Any

import faust
from faust.types import TP

from streams import agents
from streams.app import create_app
from streams.archive.service import ArchiveService
from streams.engines.epoch import EpochWatch
from streams.engines.presence_process import GC_THRESHOLDS
from streams.engines.runtime import Runtime
from streams.settings import Settings
from streams.web.server import WebServer


def build(settings: Settings) -> Runtime:
    """The app with its runtime, agents and web server, ready to run."""
    app = create_app(settings)
    runtime = Runtime.create(settings, app)
    archive = ArchiveService(settings, runtime.metrics) if settings.archive_url else None
    if archive is not None:
        feed_archive(app, archive)
        runtime.archive_feed = archive.feed
    agents.register(runtime)
    app.service(EpochWatch(settings, runtime.state, runtime.metrics, runtime.store))  # type: ignore[arg-type]
    app.service(WebServer(runtime))  # type: ignore[arg-type]
    if archive is not None:  # started last: joining its group must not hold up the others
        app.service(archive)  # type: ignore[arg-type]
    return runtime


def feed_archive(app: faust.App, archive: ArchiveService) -> None:
    """Tell the archive which partitions the worker's consumer holds: it archives the pings
    the pings agent takes of them (:meth:`ArchiveService.feed`)."""

    async def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        partitions: set[TP] = args[0]
        await archive.fed_assigned((tp.topic, tp.partition) for tp in partitions)

    async def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        partitions: set[TP] = args[0]
        await archive.fed_revoked((tp.topic, tp.partition) for tp in partitions)

    app.on_partitions_assigned.connect(assigned)
    app.on_partitions_revoked.connect(revoked)


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
