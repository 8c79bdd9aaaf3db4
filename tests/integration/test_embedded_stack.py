"""`coverwatch up`: serves health and metrics, and leaves no process behind however it stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from streams.devtools.stack.embedded import python_command

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (by walking /proc parent links)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        found |= children
        frontier = children
    return found


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            still.add(pid)
    return still


def start_up(tmp_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    endpoints = tmp_path / "endpoints.json"
    output = tmp_path / "up.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            python_command("up", "--no-simulator", "--endpoints-file", str(endpoints)),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COVERWATCH_SESSION_TIMEOUT_S": "6"},
        )
    deadline = time.monotonic() + 90
    while not endpoints.exists():
        assert process.poll() is None, output.read_text()
        assert time.monotonic() < deadline, "coverwatch up did not write its endpoints file"
        time.sleep(0.2)
    return process, json.loads(endpoints.read_text())


def wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def test_up_serves_health_and_metrics_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    process, endpoints = start_up(tmp_path)
    children = descendants(process.pid)
    assert len(children) >= 3  # broker, redis, worker
    with urllib.request.urlopen(endpoints["web_url"] + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok"}
    with urllib.request.urlopen(endpoints["web_url"] + "/metrics", timeout=5) as response:
        assert b"coverwatch_messages_consumed_total" in response.read()

    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    output = (tmp_path / "up.log").read_text()

    assert process.returncode == 0, output
    assert "live page" in output
    assert wait_gone(children, 5) == set()


def test_killing_up_outright_still_stops_every_child(tmp_path: Path) -> None:
    process, _ = start_up(tmp_path)
    children = descendants(process.pid)

    process.kill()
    process.wait(timeout=10)

    assert wait_gone(children, 30) == set()
