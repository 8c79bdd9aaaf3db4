"""Integration fixtures: a real worker process against the session's broker and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from streams.devtools.stack.embedded import (
    ManagedProcess,
    Services,
    create_topics,
    free_port,
    http_ok,
    python_command,
    spawn,
    wait_until,
)
from streams.settings import Settings

pytestmark = pytest.mark.integration


@dataclass
class RunningWorker:
    """A `coverwatch worker` child process and the settings it runs with."""

    settings: Settings
    process: ManagedProcess

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def metric(self, name: str, **labels: str) -> float:
        """The current value of one sample on the worker's /metrics (0 when absent)."""
        with urllib.request.urlopen(f"{self.web_url}/metrics", timeout=5) as response:
            text = response.read().decode()
        wanted = {f'{key}="{value}"' for key, value in labels.items()}
        for line in text.splitlines():
            match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
            if match and match[1] == name and wanted <= set((match[2] or "").split(",")):
                return float(match[3])
        return 0.0

    def stop(self) -> None:
        self.process.stop()


def worker_settings(stack: Services, name: str, **overrides: object) -> Settings:
    """Settings isolating one test's worker by topic prefix, group id and key prefix."""
    base = Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        app_id=f"{name}-app",
        topic_prefix=f"{name}.",
        key_prefix=name,
        web_port=free_port(),
        pseudonym_key="integration-test-key-0123456789",
        session_timeout_s=6.0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def start_worker(
    stack: Services, settings: Settings, log_dir: Path, extra_env: Mapping[str, str] | None = None
) -> RunningWorker:
    """Create the topics, start a worker and wait until it serves /healthz; ``extra_env`` adds
    environment variables (settings the test's :class:`Settings` does not carry)."""
    asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix))
    env = {**os.environ, **settings.to_env(), **(extra_env or {})}
    process = spawn(f"worker-{settings.key_prefix}", python_command("worker"), log_dir, env)
    wait_until(
        "worker /healthz",
        lambda: http_ok(f"http://127.0.0.1:{settings.web_port}/healthz"),
        process,
        60,
    )
    return RunningWorker(settings, process)


def module_name(request: pytest.FixtureRequest) -> str:
    """A short name for the requesting test module (its topics, group and keys)."""
    return "m" + re.sub(r"[^a-z0-9]", "", request.module.__name__.split(".")[-1].lower())[:20]


@pytest.fixture(scope="module")
def worker(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    """One worker per test module (wall clock), on its own topics, group and Redis keys."""
    running = start_worker(stack, worker_settings(stack, module_name(request)), work_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def event_worker(
    stack: Services, work_dir: Path, request: pytest.FixtureRequest
) -> Iterator[RunningWorker]:
    """One worker per test module on the event clock (for recorded and simulated days)."""
    settings = worker_settings(stack, module_name(request), clock="event")
    running = start_worker(stack, settings, work_dir)
    yield running
    running.stop()
