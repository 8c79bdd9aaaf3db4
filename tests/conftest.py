"""Shared fixtures: one real broker and one real Redis per test session (integration tests)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.devtools.stack.embedded import Services, services


@pytest.fixture(scope="session")
def work_dir() -> Path:
    """A directory for logs of the processes the tests start (kept under artifacts/ in CI)."""
    root = os.environ.get("COVERWATCH_TEST_ARTIFACTS")
    directory = Path(root) if root else Path(tempfile.mkdtemp(prefix="coverwatch-tests-"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def stack(work_dir: Path) -> Iterator[Services]:
    """Tansu and redis-server on free loopback ports; failing to start fails the run loudly."""
    with services(work_dir=work_dir / "services") as running:
        yield running


@pytest.fixture
def unique() -> str:
    """A short unique name for topics, group ids and key prefixes of one test."""
    return f"t{uuid.uuid4().hex[:10]}"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the chaos suite (tests/chaos): which day it replays, which scenarios; and of
    the evaluation run (tests/evaluation): how big it is."""
    group = parser.getgroup("chaos", "chaos suite (tests/chaos)")
    group.addoption(
        "--chaos-day",
        choices=("short", "full"),
        default="short",
        help="the recorded day to replay: short (CI, default) or full (make chaos)",
    )
    group.addoption(
        "--chaos-scenarios",
        choices=("ci", "all"),
        default="ci",
        help="ci: only the scenarios that pass reliably today (default); all: every scenario",
    )
    evaluation = parser.getgroup("evaluation", "end-to-end evaluation (tests/evaluation)")
    evaluation.addoption(
        "--evaluation-size",
        choices=("short", "full"),
        default="short",
        help="short: 20 officers, sparse fixes (CI, default); full: 30 officers (make evaluation)",
    )
