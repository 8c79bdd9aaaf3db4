"""``coverwatch up``: the embedded stack (broker, Redis, worker, simulator, web) until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from streams.devtools.stack.embedded import (
    ManagedProcess,
    StackError,
    StopRequested,
    free_port,
    http_ok,
    python_command,
    raise_on_signals,
    services,
    spawn,
    wait_until,
)
from streams.devtools.stack.embedded import create_topics as create_broker_topics
from streams.settings import Settings, parse_tokens

HISTORY_DAYS = 2
"""Whole days of history the demo opens with (archived, with a daily report written)."""
DEMO_REPORT_PERIOD_DAYS = 1
"""The demo's daily reports cover one day each, against the day before: with two days of history
the latest report already has a baseline (a week's report would have none)."""


@dataclass(frozen=True, slots=True)
class UpOptions:
    """What `coverwatch up` starts and where."""

    simulator: bool = True
    endpoints_file: Path | None = None
    kafka_port: int = 0
    redis_port: int = 0
    web_port: int = 0
    speed: float = 60.0
    officers: int = 150
    seed: int = 7
    history_days: int = HISTORY_DAYS


def stack_settings(
    base: Settings, kafka_bootstrap: str, redis_url: str, web_port: int, work_dir: Path
) -> Settings:
    """Settings for the children: embedded endpoints, event clock, a pseudonym key if unset, the
    archive in the stack's directory if none is set (the daily reports then beside it), one-day
    reports (:data:`DEMO_REPORT_PERIOD_DAYS`)."""
    return replace(
        base,
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        web_port=web_port,
        clock="event",
        report_period_days=DEMO_REPORT_PERIOD_DAYS,
        archive_url=base.archive_url or (work_dir / "archive").as_uri(),
        pseudonym_key=base.pseudonym_key or secrets.token_hex(16),
        viewer_tokens=base.viewer_tokens or f"demo-viewer={secrets.token_urlsafe(12)}",
        supervisor_tokens=base.supervisor_tokens or f"demo-supervisor={secrets.token_urlsafe(12)}",
    )


OPENS_AT = clock_time(18, 0)
"""The demo opens at 18:00 today, when the evening band's 2 h limit applies."""
PREROLL_START = clock_time(15, 0)
"""Without days of history the simulation starts at 15:00 today: three hours are published at
once, so neglected Impact Areas are already overdue at 18:00."""


def simulator_command(options: UpOptions, today: date) -> list[str]:
    """The simulator child: a living city in accelerated time, published to the broker.

    Everything up to 18:00 today is published at once, from midnight ``history_days`` days ago
    (from 15:00 today without history): the whole days of history are archived and their
    reports are due by 06:00 today, so the demo opens with them written; at 18:00 the evening
    band's 2 h limit applies, with neglected Impact Areas already overdue: alerts show within the
    first minute, then officers move at ``speed`` x real time, day after day, until the stack is
    stopped (``--hours 0``: the simulation never ends).
    """
    if options.history_days > 0:
        first_day = today - timedelta(days=options.history_days)
        start = datetime.combine(first_day, clock_time(0, 0), tzinfo=UTC)
    else:
        start = datetime.combine(today, PREROLL_START, tzinfo=UTC)
    preroll_hours = (datetime.combine(today, OPENS_AT, tzinfo=UTC) - start).total_seconds() / 3600
    return python_command(
        "simulate",
        "--sink",
        "kafka",
        "--speed",
        str(options.speed),
        "--officers",
        str(options.officers),
        "--seed",
        str(options.seed),
        "--hours",
        "0",
        "--start",
        start.isoformat(),
        "--preroll-hours",
        str(preroll_hours),
    )


def up(base: Settings, options: UpOptions) -> int:
    """Run the stack until SIGINT/SIGTERM (exit 0) or until a child dies (exit 1)."""
    raise_on_signals()
    try:
        with services(options.kafka_port, options.redis_port) as running:
            settings = stack_settings(
                base,
                running.kafka_bootstrap,
                running.redis_url,
                options.web_port or free_port(),
                running.work_dir,
            )
            asyncio.run(create_broker_topics(settings.kafka_bootstrap, settings.topic_prefix))
            _run_children(settings, options, running.work_dir)
    except StopRequested:
        print("stopped.", flush=True)
        return 0
    except StackError as error:
        print(f"coverwatch up failed: {error}", file=sys.stderr, flush=True)
    return 1


def _run_children(settings: Settings, options: UpOptions, work_dir: Path) -> None:
    """Start the worker (and simulator), announce the URLs, watch them; stop them on the way out."""
    env = {**os.environ, **settings.to_env()}
    web_url = f"http://{settings.web_host}:{settings.web_port}"
    children: list[ManagedProcess] = []
    try:
        worker = spawn("worker", python_command("worker"), work_dir, env)
        children.append(worker)
        wait_until("worker /healthz", lambda: http_ok(f"{web_url}/healthz"), worker, 60)
        if options.simulator:
            today = datetime.now(UTC).date()
            children.append(spawn("simulator", simulator_command(options, today), work_dir, env))
        _announce(settings, web_url, work_dir, options.endpoints_file)
        _watch(children)
    finally:
        for child in reversed(children):
            child.stop()


def _announce(
    settings: Settings, web_url: str, work_dir: Path, endpoints_file: Path | None
) -> None:
    supervisor_token = next(iter(parse_tokens(settings.supervisor_tokens)))
    viewer_token = next(iter(parse_tokens(settings.viewer_tokens)))
    endpoints = {
        "viewer_token": viewer_token,
        "supervisor_token": supervisor_token,
        "kafka_bootstrap": settings.kafka_bootstrap,
        "redis_url": settings.redis_url,
        "web_url": web_url,
        "metrics_url": f"{web_url}/metrics",
        "reports_url": f"{web_url}/reports/",
        "archive_url": settings.archive_url,
        "logs": str(work_dir),
    }
    if endpoints_file is not None:
        endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n")
    print(
        "Coverwatch is up (Ctrl-C stops everything):\n"
        f"  live page   {web_url}/?token={supervisor_token}   (supervisor: officers shown)\n"
        f"  viewer      {web_url}/?token={viewer_token}   (aggregates only)\n"
        f"  health      {web_url}/healthz\n"
        f"  metrics     {web_url}/metrics\n"
        f"  reports     {web_url}/reports/?token={viewer_token}   (daily evaluation reports)\n"
        f"  archive     {settings.archive_url}\n"
        f"  kafka       {settings.kafka_bootstrap}\n"
        f"  redis       {settings.redis_url}\n"
        f"  logs        {work_dir}",
        flush=True,
    )


def _watch(children: list[ManagedProcess]) -> None:
    """Block until a child dies; then raise StackError naming it."""
    while True:
        for child in children:
            if not child.alive:
                raise StackError(
                    f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
                )
        time.sleep(0.5)
