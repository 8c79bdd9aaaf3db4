"""The live page in headless Chromium against `coverwatch up` with the demo simulator (issue #8).

Needs Debian's `chromium` at /usr/bin/chromium and the Python `playwright` package; neither is
installed here and a missing one fails the module (it is not skipped). Playwright drives the
system browser through `executable_path`, so no browser download is involved.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    sync_playwright,
)

from streams.devtools.stack.embedded import python_command

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "sup-test-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
AREA_PACK = (
    Path(__file__).resolve().parents[2] / "streams" / "simulator" / "data" / "area-pack.geojson"
)


@dataclass
class Stack:
    web_url: str
    log: Path


@dataclass
class LivePage:
    page: Page
    origin: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def get_json(url: str, token: str = TOKEN) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def serves_areas(url: str) -> bool:
    """Whether ``url`` answers 200 (the area states are judged on the event clock, which starts
    with the first data)."""
    try:
        get_json(url)
    except urllib.error.HTTPError as refused:
        if refused.code != 503:
            raise
        return False
    return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`coverwatch up` with the simulator, until every area of the pack is served."""
    work = tmp_path_factory.mktemp("live-page")
    endpoints = work / "endpoints.json"
    log = work / "up.log"
    env = {
        **os.environ,
        "COVERWATCH_SESSION_TIMEOUT_S": "6",
        "COVERWATCH_SUPERVISOR_TOKENS": f"browser={TOKEN}",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            python_command("up", "--endpoints-file", str(endpoints), "--history-days", "0"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while not endpoints.exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no endpoints file:\n{log.read_text()}"
            time.sleep(0.2)
        web_url = json.loads(endpoints.read_text())["web_url"]
        features = json.loads(AREA_PACK.read_text())["features"]
        expected = sum(1 for f in features if f["properties"]["kind"] != "ring")  # rings: not live
        while len(get_json(f"{web_url}/api/areas.geojson")["features"]) < expected:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"areas never all loaded:\n{log.read_text()}"
            time.sleep(0.5)
        while not serves_areas(f"{web_url}/api/areas"):  # 503 until the event clock has data
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no area states served:\n{log.read_text()}"
            time.sleep(0.5)
        yield Stack(web_url=web_url, log=log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile (each page has its own session)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with tempfile.TemporaryDirectory(prefix="cw-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 900},
        )
        yield context
        context.close()


def open_page(browser: BrowserContext, url: str, origin: str) -> LivePage:
    page = browser.new_page()
    live = LivePage(page=page, origin=origin)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            live.errors.append(f"console: {message.text} @ {message.location}")

    def on_request(request: Request) -> None:
        live.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: live.errors.append(f"pageerror: {error}"))
    page.on("request", on_request)
    page.goto(url, wait_until="load")
    return live


@pytest.fixture(scope="module")
def live(browser: BrowserContext, stack: Stack) -> Iterator[LivePage]:
    """The live page as a supervisor, left open for every test of the module."""
    live = open_page(browser, f"{stack.web_url}/?token={TOKEN}", stack.web_url)
    yield live
    live.page.close()


def test_page_draws_every_area_and_a_table_row_per_impact_and_comparison_area(
    live: LivePage, stack: Stack
) -> None:
    features = get_json(f"{stack.web_url}/api/areas.geojson")["features"]
    all_ids = {feature["id"] for feature in features}
    compared = {f["id"] for f in features if f["properties"]["kind"] in ("impact", "comparison")}
    polygons = live.page.locator('[data-testid="area-polygon"]')
    rows = live.page.locator('[data-testid="dose-row"]')

    live.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"area-polygon\"]').length >= n",
        arg=len(all_ids),
        timeout=30_000,
    )
    live.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"dose-row\"]').length >= n",
        arg=len(compared),
        timeout=30_000,
    )

    drawn = {polygons.nth(i).get_attribute("data-area-id") for i in range(polygons.count())}
    assert drawn == all_ids
    tabled = {rows.nth(i).get_attribute("data-area-id") for i in range(rows.count())}
    assert tabled == compared
    assert live.page.locator('[data-testid="dose-total-impact"]').count() == 1
    assert live.page.locator('[data-testid="dose-total-comparison"]').count() == 1
    # the token moved from the address bar into the session
    assert "token=" not in live.page.url


def test_an_alert_appears_in_the_feed_within_a_minute(
    live: LivePage, stack: Stack, tmp_path: Path
) -> None:
    feed = live.page.locator('[data-testid="alert-feed"]')
    item = feed.locator('[data-testid="alert-item"]:not([data-event="cleared"])').first
    item.wait_for(state="visible", timeout=60_000)
    area_id = item.get_attribute("data-area-id")
    assert item.get_attribute("data-severity") in {"low", "medium", "high", "critical"}
    assert item.locator(".reason").inner_text().strip()
    assert item.locator("time.age").inner_text().strip()
    # the alert names an area that is on the map, and the banner counts it
    assert live.page.locator(f'[data-testid="area-polygon"][data-area-id="{area_id}"]').count()
    assert item.locator(".alert-area").inner_text().strip() != ""
    count = live.page.locator('[data-testid="count-alerts"]')
    live.page.wait_for_function(
        "el => Number(el.textContent) >= 1", arg=count.element_handle(), timeout=10_000
    )
    live.page.wait_for_timeout(6_000)  # one officer/incident poll more, for the picture
    ARTIFACTS.mkdir(exist_ok=True)
    live.page.screenshot(path=str(tmp_path / "live-page.png"))
    shutil.copyfile(tmp_path / "live-page.png", ARTIFACTS / "live-page.png")


def test_no_console_errors_and_no_request_leaves_the_origin(live: LivePage) -> None:
    live.page.wait_for_timeout(1_000)
    assert live.errors == []
    foreign = [url for url in live.requests if not url.startswith(live.origin + "/")]
    assert foreign == []


def test_a_refused_token_shows_a_clear_message(browser: BrowserContext, stack: Stack) -> None:
    refused = open_page(browser, f"{stack.web_url}/?token=not-a-token", stack.web_url)
    try:
        message = refused.page.locator('[data-testid="auth-message"]')
        message.wait_for(state="visible", timeout=10_000)
        assert "refused" in message.inner_text()
    finally:
        refused.page.close()

    missing = open_page(browser, f"{stack.web_url}/", stack.web_url)
    try:
        message = missing.page.locator('[data-testid="auth-message"]')
        message.wait_for(state="visible", timeout=10_000)
        assert "token" in message.inner_text()
        assert missing.errors == []
    finally:
        missing.page.close()


def test_area_changes_arrive_over_server_sent_events(live: LivePage) -> None:
    live.page.wait_for_function(
        "() => Number(document.body.dataset.sseArea ?? 0) >= 1", timeout=30_000
    )
    assert live.page.locator('[data-testid="connection"]').get_attribute("data-state") == "live"


def test_the_event_stream_reconnects_on_its_own(browser: BrowserContext, stack: Stack) -> None:
    page = browser.new_page()
    refusals: list[str] = []

    def first_attempt_fails(route: Route) -> None:
        if not refusals:
            refusals.append(route.request.url)
            route.fulfill(status=503, body="")
        else:
            route.continue_()

    page.route("**/api/events?*", first_attempt_fails)
    try:
        page.goto(f"{stack.web_url}/?token={TOKEN}", wait_until="load")
        page.wait_for_function(
            "() => Number(document.body.dataset.sseOpen ?? 0) >= 1", timeout=30_000
        )
        assert len(refusals) == 1
        assert page.locator('[data-testid="connection"]').get_attribute("data-state") == "live"
        page.wait_for_function(
            "() => Number(document.body.dataset.sseArea ?? 0) >= 1", timeout=30_000
        )
    finally:
        page.close()
