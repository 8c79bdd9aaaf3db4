"""The worker's web server (aiohttp), run as a service of the Faust app."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from aiohttp import web
from mode import Service

from streams.domain.tracks import count_by_health
from streams.engines.runtime import Runtime
from streams.state import STORE_UNAVAILABLE
from streams.web.api import HUB_KEY, PINGS_PARTITIONS, RUNTIME_KEY, EventHub, add_routes
from streams.web.auth import Tokens, json_errors, token_middleware
from streams.web.reports import add_report_routes

STATIC_DIR = Path(__file__).parent / "static"


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: Redis answers and holds this deployment's state (its epoch: a wiped or
    foreign store is never ready; the body says why)."""
    runtime = request.app[RUNTIME_KEY]
    redis_ok = await runtime.state.ready()
    store_ok, store = runtime.store.readiness()
    if not redis_ok and store_ok:
        store = {**store, "reason": "redis unavailable"}
    ready = redis_ok and store_ok
    body = {"status": "ok" if ready else "unavailable", "redis": redis_ok, **store}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this worker's metrics, built on a thread: with thousands
    of areas it takes seconds, which would otherwise stall every agent of the worker.

    Every worker first notes whether its Redis is ready and where its clock is; the coverage
    leader then counts the radios by health at the clock's now, from the latest
    fix kept of each radio (one read of every pings slice; with Redis unavailable, the counts
    of the last scrape stay and the other metrics are served as ever)."""
    runtime = request.app[RUNTIME_KEY]
    now = runtime.clock.now()
    runtime.metrics.serving(
        ready=await runtime.state.ready() and runtime.store.readiness()[0], clock=now
    )
    if runtime.metrics.exporting_areas and now is not None:
        with contextlib.suppress(*STORE_UNAVAILABLE):
            fixes = await runtime.state.last_fixes(PINGS_PARTITIONS)
            runtime.metrics.radios_by_health(
                count_by_health(fixes.values(), now=now, max_gap_s=runtime.settings.max_gap_s)
            )
    body, content_type = await asyncio.to_thread(runtime.metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def index(request: web.Request) -> web.FileResponse:
    """The live control-room page."""
    return web.FileResponse(STATIC_DIR / "index.html")


async def _close_hub(app: web.Application) -> None:
    await app[HUB_KEY].close()


def build_web_app(runtime: Runtime) -> web.Application:
    """The aiohttp application with every route."""
    app = web.Application(middlewares=[json_errors, token_middleware(Tokens(runtime.settings))])
    app[RUNTIME_KEY] = runtime
    app[HUB_KEY] = EventHub(runtime)
    app.on_cleanup.append(_close_hub)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    add_routes(app)
    add_report_routes(app)
    if (STATIC_DIR / "index.html").exists():
        app.router.add_get("/", index)
        app.router.add_static("/static/", STATIC_DIR)
    return app


class WebServer(Service):
    """Serves :func:`build_web_app` on the configured host and port while the worker runs."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        """Bind the port and start serving."""
        self._runner = web.AppRunner(build_web_app(self.runtime), access_log=None)
        await self._runner.setup()
        settings = self.runtime.settings
        site = web.TCPSite(self._runner, settings.web_host, settings.web_port)
        await site.start()
        self.log.info("web server on http://%s:%s", settings.web_host, settings.web_port)

    async def on_stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
