"""The deploy/ artefacts and docker-compose.yml are valid and agree with the code (no network).

promtool (Debian package `prometheus`) is required: its config, rule and rule unit-test checks
are part of this suite and fail, rather than skip, when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from streams import settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager"
OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
COMPOSE = ROOT / "docker-compose.yml"

AREA_METRICS = {
    "coverwatch_area_officers_present": "gauge",
    "coverwatch_area_dose_today_seconds": "gauge",
    "coverwatch_area_dose_seconds_total": "counter",
    "coverwatch_area_dose_window_seconds": "gauge",
    "coverwatch_area_coverage_state": "gauge",
    "coverwatch_area_coverage_severity": "gauge",
    "coverwatch_area_last_qualifying_visit_age_seconds": "gauge",
    "coverwatch_area_qualifying_visits_today": "gauge",
    "coverwatch_area_drive_throughs_today": "gauge",
    "coverwatch_area_fidelity_ratio": "gauge",
    "coverwatch_area_incidents_open": "gauge",
    "coverwatch_area_incidents_opened_24h": "gauge",
    "coverwatch_area_crimes_24h": "gauge",
    "coverwatch_area_stop_searches_24h": "gauge",
    "coverwatch_area_harm_24h": "gauge",
    "coverwatch_area_officers_present_by_unit": "gauge",
    "coverwatch_area_dose_window_by_unit_seconds": "gauge",
    "coverwatch_area_patrol_window_seconds": "gauge",
    "coverwatch_area_patrol_today_seconds": "gauge",
    "coverwatch_area_info": "gauge",
    "coverwatch_area_limit_seconds": "gauge",
    "coverwatch_area_never_visited": "gauge",
    "coverwatch_alerts_active": "gauge",
    "coverwatch_alert_events_total": "counter",
    "coverwatch_coverage_evaluation_seconds": "histogram",
    "coverwatch_area_series_exporter": "gauge",
    "coverwatch_areas": "gauge",
}
PIPELINE_METRICS = {
    "coverwatch_messages_consumed_total": "counter",
    "coverwatch_deadletter_total": "counter",
    "coverwatch_event_lag_seconds": "histogram",
    "coverwatch_ingest_latency_seconds": "histogram",
    "coverwatch_redis_round_trips_total": "counter",
    "coverwatch_batch_messages": "histogram",
    "coverwatch_batch_seconds": "histogram",
    "coverwatch_batch_retries_total": "counter",
    "coverwatch_ticks_skipped_total": "counter",
    "coverwatch_presence_process_lost_total": "counter",
    "coverwatch_presence_process_cpu_seconds_total": "counter",
    "coverwatch_fixes_total": "counter",
    "coverwatch_visits_published_total": "counter",
    "coverwatch_worker_up": "gauge",
    "coverwatch_redis_state_lost": "gauge",
    "coverwatch_redis_ready": "gauge",
    "coverwatch_event_clock_seconds": "gauge",
    "coverwatch_radios": "gauge",
    "coverwatch_ingest_lag_seconds": "gauge",
    "coverwatch_ingest_lagging": "gauge",
    "coverwatch_archive_rows_total": "counter",
    "coverwatch_archive_skipped_total": "counter",
    "coverwatch_archive_files_total": "counter",
    "coverwatch_archive_write_failures_total": "counter",
    "coverwatch_archive_process_lost_total": "counter",
    "coverwatch_archive_process_cpu_seconds_total": "counter",
    "coverwatch_archive_unwritten_age_seconds": "gauge",
    "coverwatch_reports_total": "counter",
}
METRICS = {**AREA_METRICS, **PIPELINE_METRICS}
# every series name a query may use: the metrics, and the series of the histograms
SERIES = set(METRICS) | {
    f"{name}{suffix}"
    for name, kind in METRICS.items()
    if kind == "histogram"
    for suffix in ("_bucket", "_sum", "_count")
}
METRIC_NAME = re.compile(r"\bcoverwatch_[a-z0-9_]+")


def load_yaml(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def rule_exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                found.append((rule.get("alert") or rule["record"], rule["expr"]))
    return found


def unknown_series(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr)) - SERIES


def test_the_known_metrics_are_the_ones_the_service_declares() -> None:
    source = (ROOT / "streams" / "metrics.py").read_text()
    declared = set(re.findall(r'"(coverwatch_[a-z0-9_]+)"', source))
    assert declared == set(METRICS), (
        f"only in streams/metrics.py: {sorted(declared - set(METRICS))}; "
        f"only in the panels' list: {sorted(set(METRICS) - declared)}"
    )


# --- docker-compose.yml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = load_yaml(COMPOSE)
    assert isinstance(loaded, dict)
    return loaded


def test_compose_services_have_an_image_or_a_build(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "redis", "topics", "worker", "simulator", "prometheus", "grafana"} <= set(
        services
    )
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_compose_coverwatch_services_are_built_from_the_deploy_dockerfile(
    compose: dict[str, Any],
) -> None:
    for name in ("topics", "worker", "simulator"):
        build = compose["services"][name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        ), name
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert re.search(r"^USER (?!root\b|0\b)\S+", dockerfile, re.M), "must not run as root"
    assert re.search(r"^EXPOSE 8080\b", dockerfile, re.M)
    assert 'CMD ["coverwatch", "worker"]' in dockerfile


def test_compose_dependencies_name_existing_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on unknown {dependency}"
    worker = services["worker"]["depends_on"]
    assert worker["topics"]["condition"] == "service_completed_successfully"
    assert worker["redis"]["condition"] == "service_healthy"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "redis", "worker"):
        assert services[name].get("healthcheck", {}).get("test"), name
    assert "/healthz" in " ".join(services["worker"]["healthcheck"]["test"])


def redis_persists_with_aof(command: list[str]) -> None:
    """Redis keeps an append-only file, fsynced every second (Redis is a cache of the log, but
    one that survives a restart)."""

    def option(name: str) -> str:
        assert name in command, f"redis-server without {name}: {command}"
        return command[command.index(name) + 1]

    assert option("--appendonly") == "yes"
    assert option("--appendfsync") == "everysec"


def test_compose_kafka_is_kraft_and_redis_persists(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    redis = compose["services"]["redis"]
    redis_persists_with_aof(redis["command"])
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_compose_jobs_and_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["command"] == ["coverwatch", "topics"]
    assert services["worker"]["deploy"]["replicas"] == 2
    simulate = services["simulator"]["command"]
    assert simulate[:4] == ["coverwatch", "simulate", "--sink", "kafka"]
    assert simulate[simulate.index("--speed") + 1] == "60"


def test_compose_environment_uses_only_documented_variables(compose: dict[str, Any]) -> None:
    documented = {variable for variable, _default, _doc in settings.documentation()}
    text = COMPOSE.read_text()
    used = set(re.findall(r"\bCOVERWATCH_[A-Z0-9_]+", text))
    assert used, "compose sets no COVERWATCH_* variable"
    assert used <= documented, f"undocumented: {sorted(used - documented)}"
    worker_env = compose["services"]["worker"]["environment"]
    for variable in ("COVERWATCH_KAFKA_BOOTSTRAP", "COVERWATCH_REDIS_URL"):
        assert variable in worker_env
    assert worker_env["COVERWATCH_WEB_HOST"] == "0.0.0.0"
    assert worker_env["COVERWATCH_WEB_PORT"] == "8080"
    assert "COVERWATCH_PSEUDONYM_KEY" in worker_env


def test_compose_mounts_the_prometheus_and_grafana_config(compose: dict[str, Any]) -> None:
    def sources(service: str) -> set[Path]:
        volumes = compose["services"][service]["volumes"]
        return {(ROOT / v.split(":")[0]).resolve() for v in volumes if v.startswith("./")}

    assert PROMETHEUS in sources("prometheus")
    assert {DEPLOY / "grafana" / "provisioning", DASHBOARDS} <= sources("grafana")


# --- Prometheus ---------------------------------------------------------------------------------


def test_prometheus_config_scrapes_the_workers_and_loads_the_rules() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == ["rules/*.yml"]
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "coverwatch")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["scrape_interval"] == "5s"
    targets = [t for c in job.get("static_configs", []) for t in c["targets"]] + [
        f"{name}:{c['port']}" for c in job.get("dns_sd_configs", []) for name in c["names"]
    ]
    assert targets == ["worker:8080"]


def test_alert_rules_cover_the_issue() -> None:
    names = {name for name, _expr in rule_exprs()}
    assert {
        "ImpactAreaUncovered",
        "ImpactAreaAtRisk",
        "LocationFeedUnknown",
        "DeadletterRateHigh",
        "WorkerDown",
        "IngestLatencyHigh",
        "IngestLagging",
    } <= names
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                assert rule["labels"]["severity"], rule["alert"]
                assert rule["annotations"]["summary"], rule["alert"]


def test_alert_rules_use_only_known_metrics_and_deduplicate_areas() -> None:
    for name, expr in rule_exprs():
        assert not unknown_series(expr), f"{name}: {unknown_series(expr)}"
        area_series = set(AREA_METRICS) - {"coverwatch_area_series_exporter"}
        for metric in set(METRIC_NAME.findall(expr)) & area_series:
            assert "max by (area, kind" in expr, f"{name}: {metric} not de-duplicated"


def test_every_alert_rule_has_a_unit_test() -> None:
    tests = load_yaml(PROMETHEUS / "tests" / "coverage_test.yml")
    tested = {
        case["alertname"]: case.get("exp_alerts") or []
        for group in tests["tests"]
        for case in group.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for group in tests["tests"]
        for case in group.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    for name, _expr in rule_exprs():
        assert name in tested, f"{name} is never shown firing"
        assert name in quiet, f"{name} is never shown not firing"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is not on PATH: install the Debian package `prometheus` "
            "(apt-get install -y prometheus); the Prometheus config and rule checks need it"
        )
    return found


def run_promtool(*args: str) -> None:
    result = subprocess.run(
        [promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_promtool_check_config() -> None:
    run_promtool("check", "config", "prometheus.yml")


def test_promtool_check_rules() -> None:
    rules = sorted(str(path.relative_to(PROMETHEUS)) for path in PROMETHEUS.glob("rules/*.yml"))
    assert rules
    run_promtool("check", "rules", *rules)


def test_promtool_rule_unit_tests() -> None:
    run_promtool("test", "rules", "tests/coverage_test.yml")


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(PROMETHEUS.glob("rules/*.yml"))
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_rule_has_a_runbook_in_the_operations_guide() -> None:
    headings = {
        line.removeprefix("### ").strip().lower()
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("### ")
    }
    for rule in rules():
        url = rule["annotations"].get("runbook_url", "")
        assert url == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]
        assert rule["alert"].lower() in headings, f"no runbook for {rule['alert']}"


# --- Alertmanager -------------------------------------------------------------------------------


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("amtool")
    if found is None:
        pytest.fail(
            "amtool is not on PATH: install the Debian package `prometheus-alertmanager` "
            "(apt-get install -y prometheus-alertmanager); the Alertmanager checks need it"
        )
    return subprocess.run(
        [found, *args], cwd=ALERTMANAGER, capture_output=True, text=True, timeout=60
    )


def test_amtool_check_config() -> None:
    result = amtool("check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def receiver_for(rule: dict[str, Any], severity: str) -> str:
    if rule["alert"] in ("ImpactAreaUncovered", "ImpactAreaAtRisk"):
        return "control-room-ticket"  # the service pages for the same gap: never twice
    return "pager" if severity in ("critical", "high") else "duty-chat"


def test_every_rule_is_routed_by_severity_and_area_rules_never_page() -> None:
    routed = 0
    for rule in rules():
        severity = rule["labels"]["severity"]
        severities = ["critical", "high", "medium", "low"] if "{{" in severity else [severity]
        for each in severities:
            expected = receiver_for(rule, each)
            result = amtool(
                "config",
                "routes",
                "test",
                "--config.file=alertmanager.yml",
                f"--verify.receivers={expected}",
                f"alertname={rule['alert']}",
                f"severity={each}",
                "instance=w1",
                "area=ia-03",
            )
            assert result.returncode == 0, (rule["alert"], each, result.stdout + result.stderr)
            routed += 1
    assert routed >= len(rules())


def test_one_cause_does_not_page_as_its_symptoms() -> None:
    inhibitions = load_yaml(ALERTMANAGER / "alertmanager.yml")["inhibit_rules"]
    pairs = {
        (" ".join(rule["source_matchers"]), " ".join(rule["target_matchers"]))
        for rule in inhibitions
    }
    assert ('alertname = "RedisStateLost"', 'alertname = "RedisNotReady"') in pairs
    assert ('alertname = "WorkerDown"', 'alertname != "WorkerDown"') in pairs
    assert (
        'alertname =~ "LocationFeedUnknown|EventClockStalled"',
        'alertname =~ "ImpactAreaUncovered|ImpactAreaAtRisk"',
    ) in pairs
    named = {rule["alert"] for rule in rules()}
    for source, target in pairs:
        for name in re.findall(r'"([A-Za-z|]+)"', source + target):
            assert set(name.split("|")) <= named | {"critical", "high", "medium", "low"}, name


# --- Grafana ------------------------------------------------------------------------------------


def load_builder() -> ModuleType:
    path = DEPLOY / "grafana" / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboards_are_the_generated_ones() -> None:
    rendered = load_builder().render()
    assert sorted(rendered) == [path.name for path in dashboard_files()]
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text() == text, (
            f"{name} is stale: run python deploy/grafana/build_dashboards.py"
        )


def test_the_three_dashboards_exist() -> None:
    names = {path.name for path in dashboard_files()}
    assert {"control-room.json", "impact-vs-comparison.json", "pipeline-health.json"} <= names


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda path: path.stem)
def test_dashboard_is_valid_and_uses_only_known_metrics(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    exprs = dashboard_exprs(dashboard)
    assert exprs
    ids = [panel["id"] for panel in dashboard_panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert not unknown_series(target["expr"]), (
                f"{panel['title']}: {unknown_series(target['expr'])}"
            )
            used = set(METRIC_NAME.findall(target["expr"]))
            assert used, f"{panel['title']}: no coverwatch metric in {target['expr']}"
            # area series: de-duplicate across workers before aggregating (failover overlap)
            for metric in used & set(AREA_METRICS):
                if metric in ("coverwatch_area_series_exporter",):
                    continue
                if metric in (
                    "coverwatch_alerts_active",
                    "coverwatch_alert_events_total",
                    "coverwatch_areas",
                ):
                    assert "max by (" in target["expr"], panel["title"]
                elif metric == "coverwatch_coverage_evaluation_seconds":
                    continue
                else:
                    assert "max by (area, kind" in target["expr"], (
                        f"{panel['title']}: {metric} not de-duplicated by max by (area, kind, ...)"
                    )
    if "area" in variables:
        area = variables["area"]
        assert area["type"] == "query"
        assert area["definition"].startswith("label_values(coverwatch_area_")
        assert area["includeAll"]
        assert area["allValue"] == ".*"
        assert any("$area" in expr for expr in exprs)


def test_the_dashboards_use_every_metric() -> None:
    used: set[str] = set()
    for path in dashboard_files():
        for expr in dashboard_exprs(json.loads(path.read_text())):
            used |= {
                re.sub(r"_(bucket|sum|count)$", "", name) if name not in METRICS else name
                for name in METRIC_NAME.findall(expr)
            }
    assert set(METRICS) - used == set()


def test_grafana_provisioning() -> None:
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = load_yaml(DEPLOY / "grafana/provisioning/dashboards/coverwatch.yml")
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# --- Kubernetes ---------------------------------------------------------------------------------


def kubernetes_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        with path.open() as handle:
            documents.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    return documents


def test_kubernetes_manifests() -> None:
    documents = kubernetes_documents()
    by_kind = {doc["kind"]: doc for doc in documents}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"} <= set(by_kind)
    resources = by_kind["Kustomization"]["resources"]
    assert all((DEPLOY / "kubernetes" / name).exists() for name in resources)
    for doc in documents:
        assert doc["apiVersion"], doc
        if doc["kind"] == "Kustomization":
            continue
        assert doc["metadata"]["name"], doc
    documented = {variable for variable, _default, _doc in settings.documentation()}
    config = by_kind["ConfigMap"]["data"]
    assert set(config) <= documented
    assert "COVERWATCH_PSEUDONYM_KEY" not in config
    assert set(by_kind["Secret"]["stringData"]) == {"COVERWATCH_PSEUDONYM_KEY"}
    pod = by_kind["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == config["COVERWATCH_WEB_PORT"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert config["COVERWATCH_WEB_HOST"] == "0.0.0.0"


def test_kubernetes_redis_persists_on_a_volume_and_is_the_configured_one() -> None:
    documents = kubernetes_documents()
    (redis,) = [
        doc
        for doc in documents
        if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == "redis"
    ]
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    redis_persists_with_aof(container["command"])
    data_dir = container["command"][container["command"].index("--dir") + 1]
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == data_dir
    assert [claim["metadata"]["name"] for claim in redis["spec"]["volumeClaimTemplates"]] == [
        mount["name"]
    ]
    services = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "Service"}
    (config,) = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    host = config["data"]["COVERWATCH_REDIS_URL"].split("//")[1].split(".")[0]
    assert host in services


def test_kubernetes_rebuild_job_runs_the_rebuild_only_when_applied_by_hand() -> None:
    documents = kubernetes_documents()
    (job,) = [
        doc for doc in documents if doc.get("metadata", {}).get("name") == "coverwatch-rebuild"
    ]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["coverwatch", "rebuild"]
    (kustomization,) = [doc for doc in documents if doc["kind"] == "Kustomization"]
    assert "rebuild-job.yaml" not in kustomization["resources"]
