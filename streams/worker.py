"""``coverwatch worker``: one Faust worker process against the configured Kafka and Redis."""

from __future__ import annotations

import gc

import faust

from streams import agents
from streams.app import create_app
from streams.runtime import Runtime
from streams.settings import Settings
from streams.web.server import WebServer


def build(settings: Settings) -> Runtime:
    """The app with its runtime, agents and web server, ready to run."""
    app = create_app(settings)
    runtime = Runtime.create(settings, app)
    agents.register(runtime)
    app.service(WebServer(runtime))  # type: ignore[arg-type]
    return runtime


GC_THRESHOLDS = (50_000, 50, 100)
"""The worker holds many long-lived immutable track objects and allocates many short-lived
ones per batch; CPython's default thresholds (700, 10, 10) make it rescan the long-lived heap
so often that collection dominates the hot path. Fewer, larger young collections fix that."""


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
