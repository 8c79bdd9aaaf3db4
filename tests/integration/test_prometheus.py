"""A real Prometheus scraping a running `coverwatch up` evaluates every dashboard and alert query.

`coverwatch up` (broker, Redis, worker and the simulator at 60x) runs as a child for this module;
a Prometheus from PATH (Debian package `prometheus`) scrapes its /metrics every second and loads
deploy/prometheus/rules. Every PromQL expression of the Grafana dashboards (template variables
substituted) must parse and return data; every alert rule must parse, evaluate without error,
and the series it alerts on (the expression without its threshold) must return data.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.devtools.stack.embedded import (
    ManagedProcess,
    StackError,
    free_port,
    http_ok,
    python_command,
    spawn,
    wait_until,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# how long, after the first scrape, a query may take to return data (the simulator's first
# minutes have to reach the service); after that each query is asked once
DATA_GRACE_S = 60.0
SUBSTITUTIONS = {
    "${datasource}": "",
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "${__interval}": "15s",
    "$__range": "1h",
    "${area}": ".*",
    "$area": ".*",
}


# --- the expressions ----------------------------------------------------------------------------


def substitute(expr: str) -> str:
    """A dashboard expression with Grafana's template variables replaced by fixed values."""
    for variable in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(variable, SUBSTITUTIONS[variable])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def dashboard_queries() -> list[Any]:
    params = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
        for panel in panels:
            for target in panel.get("targets", []):
                ident = f"{path.stem}:{panel['title']}:{target['refId']}"
                params.append(pytest.param(substitute(target["expr"]), id=ident))
    return params


def area_variables() -> list[Any]:
    params = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["type"] == "query":
                params.append(
                    pytest.param(variable["definition"], id=f"{path.stem}:${variable['name']}")
                )
    return params


def alert_rules() -> list[Any]:
    params = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule["record"]
                params.append(pytest.param(rule["expr"], id=name))
    return params


_SET_OPERATOR = re.compile(r"\s+(?:or|and|unless)(?:\s+(?:on|ignoring)\s*\([^)]*\))?\s+")
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(\s*bool)?")
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*", re.IGNORECASE)


def _top_level(expr: str) -> Iterator[int]:
    """Indexes of ``expr`` outside every bracket and string."""
    depth = 0
    quote = ""
    for index, char in enumerate(expr):
        if quote:
            if char == quote and expr[index - 1] != "\\":
                quote = ""
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            yield index


def _strip_parens(expr: str) -> str:
    """``expr`` without parentheses that enclose all of it."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        outside = next(_top_level(expr), len(expr))  # first index after the opening group
        if outside != len(expr):
            break
        expr = expr[1:-1].strip()
    return expr


def _balanced(expr: str) -> bool:
    depth = 0
    for char in expr:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def signals(expr: str) -> list[str]:
    """The series an alert expression watches: split at top-level or/and/unless, thresholds
    (a comparison with a number) removed, absent(...) unwrapped."""
    expr = _strip_parens(expr)
    cuts: list[tuple[int, int]] = []
    for index in _top_level(expr):
        match = _SET_OPERATOR.match(expr, index)
        if match and (not cuts or index >= cuts[-1][1]):
            cuts.append((match.start(), match.end()))
    if cuts:
        pieces, start = [], 0
        for begin, end in cuts:
            pieces.append(expr[start:begin])
            start = end
        pieces.append(expr[start:])
        return [signal for piece in pieces for signal in signals(piece)]
    absent = re.fullmatch(r"absent\((.*)\)", expr, re.DOTALL)
    if absent and _balanced(absent[1]):
        return signals(absent[1])
    for index in reversed(list(_top_level(expr))):
        match = _COMPARISON.match(expr, index)
        if match and _NUMBER.fullmatch(expr[match.end() :]):
            left = expr[:index]
            if left.endswith(("!", "=", "<", ">")):
                continue
            return signals(left)
    return [expr]


def test_signals_of_an_alert_expression() -> None:
    assert signals("up{job='x'} == 0\n  or\nabsent(coverwatch_worker_up)") == [
        "up{job='x'}",
        "coverwatch_worker_up",
    ]
    assert signals("(sum(a) / sum(b)) > 0.05 and sum(a) > 0.1") == ["sum(a) / sum(b)", "sum(a)"]
    assert signals('max by (k) (x) and on (k) (max by (k) (y{s="a"}) == 1)') == [
        "max by (k) (x)",
        'max by (k) (y{s="a"})',
    ]
    assert signals("histogram_quantile(0.99, sum by (le) (rate(h[5m]))) > 1") == [
        "histogram_quantile(0.99, sum by (le) (rate(h[5m])))"
    ]
    assert signals("(a) + (b)") == ["(a) + (b)"]


# --- the running stack and Prometheus -----------------------------------------------------------


@dataclass
class Prometheus:
    """A Prometheus child process and its HTTP API."""

    url: str
    process: ManagedProcess
    ready_at: float = 0.0

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        request = f"{self.url}{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:  # 400/422 carry the parse or evaluation error
            body = json.load(error)
        return body

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def query_until_data(self, expr: str) -> dict[str, Any]:
        """Query until the result is non-empty or the grace period after readiness has passed."""
        deadline = self.ready_at + DATA_GRACE_S
        while True:
            answer = self.query(expr)
            if answer["status"] != "success" or answer["data"]["result"]:
                return answer
            if time.monotonic() >= deadline:
                return answer
            time.sleep(1.0)


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if found is None:
        pytest.fail(
            "no prometheus binary: install the Debian package `prometheus` "
            "(apt-get install -y prometheus)"
        )
    return found


@pytest.fixture(scope="module")
def endpoints(work_dir: Path) -> Iterator[dict[str, str]]:
    """`coverwatch up` (broker, Redis, worker, simulator) until the module ends (SIGINT)."""
    log_dir = work_dir / "prometheus-test"
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints_file = log_dir / "endpoints.json"
    endpoints_file.unlink(missing_ok=True)
    env = {**os.environ, "COVERWATCH_SESSION_TIMEOUT_S": "6"}
    up = spawn(
        "coverwatch-up",
        python_command("up", "--endpoints-file", str(endpoints_file), "--history-days", "0"),
        log_dir,
        env,
    )
    try:
        wait_until("coverwatch up endpoints file", endpoints_file.exists, up, 120)
        time.sleep(0.2)  # the file is written in one call; let it land
        found: dict[str, str] = json.loads(endpoints_file.read_text())
        yield found
    finally:
        if up.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(up.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                up.process.wait(timeout=45)
        up.stop()


@pytest.fixture(scope="module")
def prometheus(
    endpoints: dict[str, str], work_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port scraping the stack every second, with our rules."""
    directory = tmp_path_factory.mktemp("prometheus")
    metrics = urllib.parse.urlsplit(endpoints["metrics_url"])
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "coverwatch",
                "metrics_path": metrics.path,
                "static_configs": [{"targets": [metrics.netloc]}],
            }
        ],
    }
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    process = spawn(
        "prometheus",
        [
            prometheus_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        work_dir / "prometheus-test",
    )
    server = Prometheus(f"http://127.0.0.1:{port}", process)
    try:
        wait_until("prometheus ready", lambda: http_ok(f"{server.url}/-/ready"), process, 60)

        def scraped_enough() -> bool:
            # several scrapes, so rate() over 1m has points to work with
            answer = server.query("count_over_time(coverwatch_worker_up[1m])")
            result = answer["data"]["result"] if answer["status"] == "success" else []
            return bool(result) and float(result[0]["value"][1]) >= 5

        wait_until("prometheus scrapes of coverwatch_worker_up", scraped_enough, process, 90)
        server.ready_at = time.monotonic()
        yield server
    except StackError as error:
        pytest.fail(f"Prometheus could not start or scrape: {error}")
    finally:
        process.stop()


# --- the tests ----------------------------------------------------------------------------------


def test_prometheus_scrapes_the_simulated_traffic(prometheus: Prometheus) -> None:
    for expr in (
        'sum(coverwatch_messages_consumed_total{topic=~".*airwave.pings"}) > 0',
        'sum(coverwatch_fixes_total{outcome="accepted"}) > 0',
        'sum(coverwatch_messages_consumed_total{topic=~".*areas.definitions"}) > 0',
    ):
        answer = prometheus.query_until_data(expr)
        assert answer["status"] == "success", answer
        assert answer["data"]["result"], f"no simulated data: {expr}"


@pytest.mark.parametrize("expr", dashboard_queries())
def test_dashboard_query_returns_data(prometheus: Prometheus, expr: str) -> None:
    answer = prometheus.query_until_data(expr)
    assert answer["status"] == "success", f"{answer.get('error')}\n{expr}"
    assert answer["data"]["result"], f"no data for\n{expr}"


@pytest.mark.parametrize("definition", area_variables())
def test_dashboard_variable_has_values(prometheus: Prometheus, definition: str) -> None:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition)
    assert match, definition
    deadline = prometheus.ready_at + DATA_GRACE_S
    while True:
        answer = prometheus.get(f"/api/v1/label/{match[2]}/values", **{"match[]": match[1]})
        if answer["data"] or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    assert answer["status"] == "success", answer
    assert answer["data"], f"no values for {definition}"


@pytest.mark.parametrize("expr", alert_rules())
def test_alert_rule_parses_and_its_series_have_data(prometheus: Prometheus, expr: str) -> None:
    answer = prometheus.query(expr)
    assert answer["status"] == "success", f"{answer.get('error')}\n{expr}"
    missing = []
    for signal_expr in signals(expr):
        found = prometheus.query_until_data(signal_expr)
        assert found["status"] == "success", f"{found.get('error')}\n{signal_expr}"
        if not found["data"]["result"]:
            missing.append(signal_expr)
    assert not missing, "no data for:\n" + "\n".join(missing)


def test_prometheus_evaluates_every_rule_without_error(prometheus: Prometheus) -> None:
    time.sleep(2.0)  # at least one evaluation of every group at 1 s
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["name"] for rule in rules} >= {
        "ImpactAreaUncovered",
        "WorkerDown",
        "IngestLatencyHigh",
    }
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] == "err"}
    assert not broken
    firing = {rule["name"] for rule in rules if rule["state"] == "firing"}
    assert "WorkerDown" not in firing
