"""Privacy end to end: no raw ISSI, collar number or token leaves the service or lands in a log.

A worker is fed a short simulated afternoon (a few officers, some malformed input), and then
everything it gives out is read: every output topic (keys and values), every API response to a
supervisor and to a viewer (a token in the header and in the query string, as the live page's
EventSource sends it), the live events, ``/metrics``, the audit entries and the worker's log.
The secrets are taken from the simulated roster records themselves: their ISSIs (message keys
and ``issi``), collar numbers (``officer_id``) and names (the roster has none today), plus the
tokens and the pseudonym key.

The simulator's collar numbers are four-digit numbers, which a log line or a metric shows
anyway (an offset, a count, a process id); they are made distinctive (``PC`` + the number)
before publishing, so a match is a leak and never a coincidence. ISSIs stay as the simulator
makes them (seven digits, beyond any process id here).

The ``deadletter`` topic is the one place raw input is kept, for repair: ``key_base64`` and
``value_base64`` are the original bytes. Everything else about a deadletter record, its Kafka
key included, must name no radio or officer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest
import redis

from streams.devtools.stack.embedded import Services
from streams.domain.publication import pseudonym
from streams.domain.tracks import visit_id_for
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish
from streams.simulator.world import Record, SimulationOptions, generate
from tests.helpers.kafka import read_messages, run
from tests.integration.conftest import RunningWorker, module_name, start_worker, worker_settings

pytestmark = pytest.mark.integration

VIEWER = "viewer-token-privacy-0123456789"
SUPERVISOR = "supervisor-token-privacy-0123456789"
OUTPUT_TOPICS = ("presence.visits", "area.snapshots", "coverage.alerts", "deadletter")
PERSONAL_FIELDS = ("issi", "officer_id", "name")
"""Roster fields that identify a radio or a person (``name`` if a roster ever carries one)."""
RAW_INPUT_FIELDS = ("key_base64", "value_base64")
"""The deadletter fields that keep the original bytes, by design."""
SSE_LISTEN_S = 3.0


@dataclass
class Secrets:
    """What must never be seen outside the service."""

    ids: set[str]
    """ISSIs, collar numbers and names: matched as whole ids (not inside a longer number)."""
    verbatim: set[str]
    """Tokens and the pseudonym key: matched anywhere."""
    issis: set[str]
    """The ISSIs alone."""

    def leaks(self, where: str, text: str) -> list[str]:
        """``where: secret`` for each secret found in ``text``."""
        found = [s for s in self.ids if re.search(_whole_id(s), text)]
        found += [s for s in self.verbatim if s in text]
        return [f"{where}: {secret}" for secret in sorted(found)]


def _whole_id(raw_id: str) -> str:
    """A pattern matching ``raw_id`` not inside a longer id or number (nor after a decimal point:
    ``52.2300017`` is a latitude, not a radio)."""
    return rf"(?<![A-Za-z0-9])(?<![0-9]\.){re.escape(raw_id)}(?![A-Za-z0-9])"


def _roster_value(record: Record) -> dict[str, object] | None:
    """The JSON object of a roster record; None for a tombstone or a malformed value (whose raw
    bytes only ever reach ``deadletter``)."""
    try:
        value = orjson.loads(record.value or b"null")
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def distinct_collar_numbers(records: Sequence[Record]) -> list[Record]:
    """``records`` with every well-formed roster value's collar number made unmistakable."""
    changed = []
    for record in records:
        value = _roster_value(record) if record.topic == "resources.roster" else None
        if value is not None:
            value["officer_id"] = f"PC{value['officer_id']}"
            record = Record(record.at, record.topic, record.key, orjson.dumps(value))
        changed.append(record)
    return changed


def roster_secrets(records: Sequence[Record], verbatim: set[str]) -> Secrets:
    """The personal ids of the simulated roster records (keys and fields), and ``verbatim``."""
    issis: set[str] = set()
    ids: set[str] = set()
    for record in records:
        if record.topic != "resources.roster":
            continue
        if record.key is not None:
            issis.add(record.key)
        value = _roster_value(record)
        if value is not None:
            issis.add(str(value["issi"]))
            ids.update(str(value[name]) for name in PERSONAL_FIELDS if name in value)
    return Secrets(ids | issis, verbatim, issis)


@dataclass
class Observed:
    """The worker after the simulated afternoon, the secrets of its roster, the live events seen."""

    worker: RunningWorker
    secrets: Secrets
    live_events: dict[str, bytes]


async def _listen(url: str, into: dict[str, bytes], name: str) -> None:
    """Collect the bytes of an SSE stream into ``into[name]`` until cancelled."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        into[name] = b""
        async for chunk in response.content.iter_any():
            into[name] += chunk


async def _feed(worker: RunningWorker, records: list[Record]) -> dict[str, bytes]:
    """Publish the reference data, then the rest while two live-page clients listen; return
    what each client received."""
    settings = worker.settings
    reference = [r for r in records if r.topic in ("areas.definitions", "resources.roster")]
    live = [r for r in records if r.topic not in ("areas.definitions", "resources.roster")]
    await publish(
        reference, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix
    )
    await _until(worker, "areas.definitions", sum(r.topic == "areas.definitions" for r in records))
    events: dict[str, bytes] = {}
    listeners = [
        asyncio.ensure_future(_listen(f"{worker.web_url}/api/events?token={token}", events, name))
        for name, token in (("viewer", VIEWER), ("supervisor", SUPERVISOR))
    ]
    await asyncio.sleep(1.0)
    await publish(live, settings.kafka_bootstrap, speed=None, topic_prefix=settings.topic_prefix)
    await _until(worker, "airwave.pings", sum(r.topic == "airwave.pings" for r in records))
    await asyncio.sleep(SSE_LISTEN_S)  # coverage evaluations after the last data
    for listener in listeners:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return events


async def _until(worker: RunningWorker, topic: str, count: int) -> None:
    deadline = time.monotonic() + 120
    while (
        await asyncio.to_thread(worker.metric, "coverwatch_messages_consumed_total", topic=topic)
        < count
    ):
        assert time.monotonic() < deadline, worker.process.log_tail()
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
def observed(stack: Services, work_dir: Path, request: pytest.FixtureRequest) -> Iterator[Observed]:
    settings = worker_settings(
        stack,
        module_name(request),
        clock="event",
        viewer_tokens=f"wallboard={VIEWER}",
        supervisor_tokens=f"sgt-jones={SUPERVISOR}",
    )
    options = SimulationOptions(
        seed=20,
        officers=10,
        start=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        duration_seconds=3.25 * 3600,  # past 18:00, when the evening limit raises alerts
        malformed_rate=0.02,
    )
    records = distinct_collar_numbers(list(generate(options, load_default_area_pack())))
    secrets = roster_secrets(records, {VIEWER, SUPERVISOR, settings.pseudonym_key})
    assert secrets.issis
    assert any(secret.startswith("PC") for secret in secrets.ids)
    worker = start_worker(stack, settings, work_dir)
    try:
        events = run(_feed(worker, records))
        yield Observed(worker, secrets, events)
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def outputs(observed: Observed) -> dict[str, list[tuple[bytes | None, bytes | None]]]:
    """Every message of every output topic, as (key, value) bytes."""
    settings = observed.worker.settings
    return {
        topic: run(read_messages(settings.kafka_bootstrap, settings.topic(topic)))
        for topic in OUTPUT_TOPICS
    }


def get(worker: RunningWorker, path: str, token: str | None = None) -> tuple[int, bytes]:
    """Status and raw body of a GET, with the token as a bearer header when given."""
    request = urllib.request.Request(worker.web_url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as failure:
        return failure.code, failure.read()


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", "replace")


def test_no_output_topic_names_a_radio_or_an_officer(
    observed: Observed, outputs: dict[str, list[tuple[bytes | None, bytes | None]]]
) -> None:
    for topic in OUTPUT_TOPICS:
        assert outputs[topic], f"the simulated afternoon should put records on {topic}"
    leaks = []
    for topic, messages in outputs.items():
        for offset, (key, value) in enumerate(messages):
            shown = orjson.loads(value) if value is not None else None
            if topic == "deadletter" and shown is not None:
                shown = {k: v for k, v in shown.items() if k not in RAW_INPUT_FIELDS}
            where = f"{topic} #{offset}"
            leaks += observed.secrets.leaks(f"{where} key", _text(key))
            leaks += observed.secrets.leaks(f"{where} value", json.dumps(shown))
    assert leaks == []


def test_the_deadletter_keeps_raw_input_only_in_its_original_bytes(
    observed: Observed, outputs: dict[str, list[tuple[bytes | None, bytes | None]]]
) -> None:
    """Raw input is kept for repair (the original key and value, base64), and the record is keyed
    by the radio's pseudonym, the one its visits carry."""
    secret = observed.worker.settings.pseudonym_key.encode()
    from_radios = [
        (key, orjson.loads(value))
        for key, value in outputs["deadletter"]
        if value is not None and orjson.loads(value)["source_topic"].endswith("airwave.pings")
    ]
    assert from_radios, "malformed pings should have been deadlettered"
    for key, record in from_radios:
        original_key = base64.b64decode(record["key_base64"])
        assert original_key.decode() in observed.secrets.issis
        assert key == pseudonym(secret, original_key).encode()


def test_a_published_visit_id_cannot_be_recomputed_from_any_radio(
    observed: Observed, outputs: dict[str, list[tuple[bytes | None, bytes | None]]]
) -> None:
    """The attack on an unkeyed id: each record gives its area and start, so a plain digest of
    ``issi|area|start`` is found again by trying every radio."""
    visits = [orjson.loads(value) for _, value in outputs["presence.visits"] if value is not None]
    assert visits
    recomputed = []
    for visit in visits:
        start = datetime.fromisoformat(visit["start"]).timestamp()
        for issi in observed.secrets.issis:
            if visit_id_for(issi, visit["area_id"], start) == visit["visit_id"]:
                recomputed.append((visit["visit_id"], issi))
    assert recomputed == []


def _api_paths(worker: RunningWorker, visited_areas: Sequence[str]) -> list[str]:
    status, body = get(worker, "/api/officers", SUPERVISOR)
    assert status == 200
    officers = orjson.loads(body)["officers"]
    assert officers, "officers were on duty at the end of the afternoon"
    near = officers[0]
    return [
        "/api/config",
        "/api/areas",
        "/api/areas.geojson",
        "/api/rings.geojson",
        *(f"/api/areas/{area_id}" for area_id in visited_areas),
        "/api/alerts",
        "/api/incidents",
        "/api/officers",
        f"/api/officers/nearest?lat={near['lat']}&lon={near['lon']}&n=5",
        "/api/audit?n=1000",
        "/healthz",
        "/readyz",
        "/metrics",
    ]


def test_no_api_response_or_live_event_names_a_radio_an_officer_or_a_token(
    observed: Observed, outputs: dict[str, list[tuple[bytes | None, bytes | None]]]
) -> None:
    worker = observed.worker
    visited = sorted(
        {orjson.loads(v)["area_id"] for _, v in outputs["presence.visits"] if v is not None}
    )[:5]
    status, body = get(worker, f"/api/areas/{visited[0]}", SUPERVISOR)
    assert status == 200
    assert orjson.loads(body)["visits_recent"], "a supervisor sees the visits of a visited area"
    leaks = []
    for path in _api_paths(worker, visited):
        for name, token in (("supervisor", SUPERVISOR), ("viewer", VIEWER)):
            officer_level = path.startswith(("/api/officers", "/api/audit"))
            expected = 403 if name == "viewer" and officer_level else 200
            status, body = get(worker, path, token)
            assert status == expected, (path, name, status)
            leaks += observed.secrets.leaks(f"{name} {path}", _text(body))
            joiner = "&" if "?" in path else "?"
            status, body = get(worker, f"{path}{joiner}token={token}")
            assert status == expected, (path, name, status)
            leaks += observed.secrets.leaks(f"{name} {path} (token in the query)", _text(body))
    for name, received in observed.live_events.items():
        assert b"event: " in received, f"the {name}'s live page should have had events"
        leaks += observed.secrets.leaks(f"live events to the {name}", _text(received))
    assert leaks == []


def test_the_audit_keeps_each_query_but_never_a_token(observed: Observed) -> None:
    worker = observed.worker
    status, _ = get(worker, f"/api/officers?token={SUPERVISOR}")
    assert status == 200
    status, _ = get(worker, f"/api/officers/nearest?lat=52.48&token={SUPERVISOR}&lon=-1.89&n=2")
    assert status == 200
    settings = worker.settings
    with redis.Redis.from_url(settings.redis_url) as client:
        stored = client.lrange(f"{settings.key_prefix}:{{audit}}:log", 0, -1)
    entries = [orjson.loads(entry) for entry in stored]
    paths = [entry["path"] for entry in entries]
    assert "/api/officers" in paths
    assert "/api/officers/nearest?lat=52.48&lon=-1.89&n=2" in paths
    leaks = []
    for index, entry in enumerate(stored):
        leaks += observed.secrets.leaks(f"audit entry {index}", _text(entry))
    assert leaks == []


def test_metrics_and_the_worker_log_name_no_radio_officer_or_secret(observed: Observed) -> None:
    worker = observed.worker
    status, metrics = get(worker, "/metrics")
    assert status == 200
    log = worker.process.log_path.read_text(errors="replace")
    assert "presence process" in log, "the presence process logs to the same file"
    leaks = observed.secrets.leaks("/metrics", _text(metrics))
    leaks += [
        f"{leak} (line {number})"
        for number, line in enumerate(log.splitlines(), start=1)
        for leak in observed.secrets.leaks("worker log", line)
    ]
    assert leaks == []
