"""Fixtures of the chaos suite: its own broker (a scenario stops it), the recorded day, the
first clean run, and the one-line-per-scenario report printed at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.devtools.stack.embedded import Services, free_port, start_broker
from tests.chaos.compare import summary_line
from tests.chaos.day import Day, recorded_day
from tests.chaos.harness import Outcome, run_scenario
from tests.chaos.scenarios import BASELINE, SCENARIOS

REPORT = pytest.StashKey[list[str]]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``scenario``: every scenario with ``--chaos-scenarios=all``, else those CI runs."""
    if "scenario" in metafunc.fixturenames:
        every = metafunc.config.getoption("--chaos-scenarios") == "all"
        chosen = [s for s in SCENARIOS if every or s.ci]
        metafunc.parametrize("scenario", chosen, ids=[s.name for s in chosen])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("chaos suite")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def chaos_report(request: pytest.FixtureRequest, work_dir: Path) -> Iterator[list[str]]:
    """Lines of the report; also written to ``chaos-summary.txt`` in the artifacts."""
    lines = request.config.stash.setdefault(REPORT, [])
    lines.append(f"logs and final states of every run: {work_dir}")
    yield lines
    (work_dir / "chaos-summary.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def chaos_broker(work_dir: Path) -> Iterator[Services]:
    """A Tansu broker of the suite's own: the broker-pause scenario stops it for 30 s."""
    directory = work_dir / "chaos-broker"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    broker = start_broker(port, directory)
    running = Services(f"127.0.0.1:{port}", "", processes=[broker], work_dir=directory)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def chaos_day(request: pytest.FixtureRequest, chaos_report: list[str]) -> Day:
    day = recorded_day(request.config.getoption("--chaos-day"))
    chaos_report.append(day.describe())
    return day


@pytest.fixture(scope="session")
def baseline(
    chaos_day: Day, chaos_broker: Services, work_dir: Path, chaos_report: list[str]
) -> Outcome:
    """The first clean run: what every scenario must end with."""
    outcome = run_scenario(BASELINE, chaos_day, chaos_broker, work_dir)
    note = "; ".join(outcome.notes)
    chaos_report.append(summary_line("clean", "BASE", outcome.state, outcome.duration_s, [], note))
    return outcome
