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
from datetime import datetime, timedelta
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
VIEWER_TOKEN = "viewer-test-token"
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
        "COVERWATCH_VIEWER_TOKENS": f"wallboard={VIEWER_TOKEN}",
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


ALARM_COLOURS = {"#e03131", "#c2255c"}
STATE_ORDER = {"uncovered": 0, "at_risk": 1, "unknown": 2, "covered": 3}


def newer_cleared_events(web_url: str, count: int) -> list[dict]:
    """Cleared events dated five minutes of event time (5 s at the demo's 60x) after the newest
    alert event the service has sent, for areas of the pack (alert ids of their own, so they end
    no real alert)."""
    features = get_json(f"{web_url}/api/areas.geojson")["features"]
    impact = [f["id"] for f in features if f["properties"]["kind"] == "impact"][:count]
    deadline = time.monotonic() + 90
    while not (sent := [event["ts"] for event in get_json(f"{web_url}/api/alerts")["recent"]]):
        assert time.monotonic() < deadline, "the demo raised no alert within 90 s"
        time.sleep(1.0)
    newest = datetime.fromisoformat(max(sent).replace("Z", "+00:00"))
    later = (newest + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "alert_id": f"test-cleared-{area_id}",
            "area_id": area_id,
            "event": "cleared",
            "state": "covered",
            "severity": "low",
            "ts": later,
            "since": later,
            "reason": "qualifying visit completed (test event)",
            "evidence": {"officers_present": 1},
        }
        for area_id in impact
    ]


def test_an_active_alert_stays_pinned_on_top_while_newer_cleared_events_arrive(
    browser: BrowserContext, stack: Stack
) -> None:
    cleared = newer_cleared_events(stack.web_url, 4)

    def with_newer_cleared_events(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["recent"] = [*body.get("recent", []), *cleared]
        route.fulfill(response=response, json=body)

    page = browser.new_page()
    page.route("**/api/alerts", with_newer_cleared_events)
    try:
        page.goto(f"{stack.web_url}/?token={TOKEN}", wait_until="load")
        pinned = page.locator('[data-testid="active-alerts"] [data-testid="alert-item"]')
        pinned.first.wait_for(state="visible", timeout=90_000)
        history = page.locator('[data-testid="alert-feed"] [data-testid="alert-item"]')
        page.wait_for_function(
            "() => document.querySelectorAll("
            '\'[data-testid="alert-feed"] [data-event="cleared"]\').length >= 4',
            timeout=30_000,
        )
        # the newest events are the cleared ones, at the top of the history ...
        newest = {history.nth(i).get_attribute("data-alert-id") for i in range(4)}
        assert newest == {event["alert_id"] for event in cleared}
        # ... and every pinned alert is active, above the history in the page
        events = {pinned.nth(i).get_attribute("data-event") for i in range(pinned.count())}
        assert "cleared" not in events
        top = pinned.first.bounding_box()
        first_history = history.first.bounding_box()
        assert top is not None
        assert first_history is not None
        assert top["y"] < first_history["y"]
        page.wait_for_timeout(1_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-page-alerts-pinned.png"))
    finally:
        page.close()


def test_pinned_alerts_are_worst_first(live: LivePage) -> None:
    pinned = live.page.locator('[data-testid="active-alerts"] [data-testid="alert-item"]')
    pinned.first.wait_for(state="visible", timeout=90_000)
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    severities = [
        rank[pinned.nth(i).get_attribute("data-severity") or "low"] for i in range(pinned.count())
    ]
    assert severities == sorted(severities)
    # a supervisor sees the nearest available officers of each, once they are looked up
    nearest = pinned.first.locator('[data-testid="alert-nearest"]')
    live.page.wait_for_function(
        "() => !document.querySelector("
        '\'[data-testid="active-alerts"] [data-testid="alert-nearest"]\')'
        ".textContent.includes('looking')",
        timeout=15_000,
    )
    assert "nearest available" in nearest.inner_text() or "no available" in nearest.inner_text()


def test_a_comparison_area_is_never_drawn_in_the_alarm_colour(live: LivePage) -> None:
    live.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"area-polygon\"]').length > 0",
        timeout=30_000,
    )
    drawn = live.page.eval_on_selector_all(
        '[data-testid="area-polygon"]',
        "els => els.map(e => [e.dataset.kind, e.dataset.state, e.getAttribute('fill'),"
        " e.getAttribute('stroke')])",
    )
    comparison = [d for d in drawn if d[0] == "comparison"]
    assert comparison
    for _, state, fill, stroke in comparison:
        assert fill.lower() not in ALARM_COLOURS, state
        assert stroke.lower() not in ALARM_COLOURS, state
    # the alarm colour is in use: an uncovered Impact Area is filled with it
    uncovered = [d for d in drawn if d[0] == "impact" and d[1] == "uncovered"]
    assert all(fill.lower() == "#e03131" for _, _, fill, _ in uncovered)


def test_the_table_is_worst_first_and_filters_by_state_and_unit(live: LivePage) -> None:
    rows = live.page.locator('[data-testid="dose-row"]')
    rows.first.wait_for(state="visible", timeout=30_000)
    listed = live.page.eval_on_selector_all(
        '[data-testid="dose-row"]', "els => els.map(e => [e.dataset.kind, e.dataset.state])"
    )
    impact = [STATE_ORDER[state] for kind, state in listed if kind == "impact"]
    assert impact == sorted(impact)
    assert [kind for kind, _ in listed] == sorted(
        (kind for kind, _ in listed), key=lambda kind: kind != "impact"
    )
    live.page.select_option('[data-testid="filter-state"]', "covered")
    live.page.wait_for_timeout(300)
    states = live.page.eval_on_selector_all(
        '[data-testid="dose-row"]', "els => els.map(e => e.dataset.state)"
    )
    assert set(states) <= {"covered"}
    live.page.select_option('[data-testid="filter-state"]', "")
    live.page.wait_for_timeout(300)
    assert rows.count() == len(listed)

    units = live.page.eval_on_selector_all(
        '[data-testid="filter-unit"] option', "els => els.map(e => e.value).filter(Boolean)"
    )
    assert units, "the simulated officers belong to units"
    live.page.select_option('[data-testid="filter-unit"]', units[0])
    live.page.wait_for_timeout(300)
    shown = live.page.eval_on_selector_all(
        '[data-testid="dose-row"]', "els => els.map(e => e.dataset.areaId)"
    )
    assert shown
    snapshots = {a["area_id"]: a for a in get_json(f"{live.origin}/api/areas")["areas"]}
    for area_id in shown:
        snapshot = snapshots[area_id]
        patrolled = snapshot["dose"]["24h"].get("by_unit", {}).get(units[0], 0) > 0
        assert patrolled or units[0] in snapshot["presence"].get("by_unit", {}), area_id
    live.page.select_option('[data-testid="filter-unit"]', "")


def test_clicking_an_alert_opens_the_area_panel_with_a_timeline_and_the_nearest_officers(
    live: LivePage,
) -> None:
    item = live.page.locator('[data-testid="active-alerts"] [data-testid="alert-item"]').first
    item.wait_for(state="visible", timeout=90_000)
    area_id = item.get_attribute("data-area-id")
    item.locator(".reason").click()
    selected = live.page.locator('[data-testid="dose-row"].selected')
    selected.wait_for(state="attached", timeout=5_000)
    assert selected.get_attribute("data-area-id") == area_id
    panel = live.page.locator('[data-testid="area-panel"]')
    panel.wait_for(state="visible", timeout=5_000)
    assert panel.get_attribute("data-area-id") == area_id
    # today's timeline has the alert's state in it, and the supervisor sees who is nearest
    live.page.locator('[data-testid="timeline-segment"]').first.wait_for(timeout=10_000)
    states = live.page.eval_on_selector_all(
        '[data-testid="timeline-segment"]', "els => els.map(e => e.dataset.state)"
    )
    assert states[-1] in ("uncovered", "at_risk")
    nearest = live.page.locator('[data-testid="panel-nearest"]')
    live.page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"panel-nearest\"]')"
        ".textContent.includes('looking')",
        timeout=15_000,
    )
    assert "nearest available" in nearest.inner_text() or "no available" in nearest.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    live.page.screenshot(path=str(ARTIFACTS / "live-page-area-panel.png"))
    live.page.click('[data-testid="area-panel-close"]')
    assert not panel.is_visible()


def test_the_legend_collapses_and_layers_hide_and_show_incidents_crimes_areas_and_rings(
    live: LivePage,
) -> None:
    legend_body = live.page.locator('[data-testid="legend"] .legend-body')
    shown = legend_body.is_visible()  # an area panel opened before folds it
    live.page.click('[data-testid="legend-toggle"]')
    assert legend_body.is_visible() is not shown
    live.page.click('[data-testid="legend-toggle"]')
    assert legend_body.is_visible() is shown
    if not shown:
        live.page.click('[data-testid="legend-toggle"]')
        assert legend_body.is_visible()

    incidents = live.page.locator('.leaflet-incidents-pane [data-testid="incident-marker"]').first
    incidents.wait_for(state="visible", timeout=30_000)
    live.page.uncheck('[data-testid="layer-incidents"]')
    assert not incidents.is_visible()
    live.page.check('[data-testid="layer-incidents"]')
    assert incidents.is_visible()

    live.page.click('[data-testid="reset-view"]')  # every area in view again
    crimes = live.page.locator('[data-testid="crime-marker"]').filter(visible=True).first
    crimes.wait_for(state="visible", timeout=45_000)
    crime = live.page.locator('[data-testid="crime-marker"]').nth(
        live.page.eval_on_selector_all(
            '[data-testid="crime-marker"]',
            "els => els.findIndex(e => e.getBoundingClientRect().width > 0)",
        )
    )
    live.page.uncheck('[data-testid="layer-crimes"]')
    assert not crime.is_visible()
    live.page.check('[data-testid="layer-crimes"]')
    assert crime.is_visible()

    comparison = live.page.locator('[data-testid="area-polygon"][data-kind="comparison"]').first
    comparison.wait_for(state="visible", timeout=5_000)
    live.page.uncheck('[data-testid="layer-comparison"]')
    assert not comparison.is_visible()
    live.page.check('[data-testid="layer-comparison"]')
    assert comparison.is_visible()

    ring = live.page.locator('[data-testid="ring"]').first
    ring.wait_for(state="attached", timeout=5_000)
    assert not ring.is_visible()  # the rings start hidden
    live.page.check('[data-testid="layer-rings"]')
    assert ring.is_visible()
    assert ring.get_attribute("data-ring-of")
    live.page.uncheck('[data-testid="layer-rings"]')
    assert not ring.is_visible()


def test_the_time_control_replays_past_states_and_positions_and_goes_back_to_live(
    live: LivePage, stack: Stack
) -> None:
    page = live.page
    page.click('[data-testid="reset-view"]')
    live_officer = page.locator('[data-testid="officer-marker"]').first
    live_officer.wait_for(state="visible", timeout=30_000)
    with page.expect_response(lambda r: "/api/replay?" in r.url and r.status == 200) as answer:
        page.locator('[data-testid="time-slider"]').fill("-45")
    replayed = answer.value.json()
    shown = page.locator('[data-testid="time-shown"]')
    assert "not live" in shown.inner_text()
    officers = page.locator('[data-testid="replay-officer"]')
    assert officers.count() == len(replayed["officers"]) > 0
    assert live_officer.is_hidden()
    drawn = page.eval_on_selector_all(
        '[data-testid="area-polygon"]',
        "els => Object.fromEntries(els.map(e => [e.dataset.areaId, e.dataset.state]))",
    )
    assert replayed["states"], "areas were judged three quarters of an hour ago"
    for area_id, state in replayed["states"].items():
        if area_id in drawn:
            assert drawn[area_id] == state, area_id
    entries = get_json(f"{stack.web_url}/api/audit?n=50")["entries"]
    assert any(e["what"] == "replay" for e in entries)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-page-replay.png"))

    page.click('[data-testid="time-live"]')
    assert shown.inner_text() == "live"
    assert officers.count() == 0
    assert live_officer.is_visible()


def test_an_acknowledgement_reaches_a_second_viewer_over_sse_and_is_audited(
    live: LivePage, browser: BrowserContext, stack: Stack
) -> None:
    viewer = open_page(browser, f"{stack.web_url}/?token={VIEWER_TOKEN}", stack.web_url)
    try:
        viewer.page.wait_for_function(
            "() => Number(document.body.dataset.sseOpen ?? 0) >= 1", timeout=30_000
        )
        pinned = live.page.locator('[data-testid="active-alerts"] [data-testid="alert-item"]')
        pinned.first.wait_for(state="visible", timeout=90_000)
        item = pinned.first
        alert_id = item.get_attribute("data-alert-id")
        item.locator('[data-testid="alert-ack"]').click()
        mine = live.page.locator(
            f'[data-testid="active-alerts"] [data-alert-id="{alert_id}"] '
            '[data-testid="alert-acknowledged"]'
        )
        mine.wait_for(state="visible", timeout=10_000)
        theirs = viewer.page.locator(
            f'[data-testid="active-alerts"] [data-alert-id="{alert_id}"] '
            '[data-testid="alert-acknowledged"]'
        )
        theirs.wait_for(state="visible", timeout=10_000)
        assert "browser" in theirs.inner_text()
        assert sse_count(viewer.page, "sseAction") >= 1  # it came over the stream
        # a viewer has no buttons, no nearest officers and no officer on the map or in the panel
        viewer.page.locator(
            f'[data-testid="active-alerts"] [data-alert-id="{alert_id}"] .reason'
        ).click()
        viewer.page.locator('[data-testid="area-timeline"]').wait_for(timeout=10_000)
        hidden = (
            "alert-ack",
            "alert-nearest",
            "nearest-officer",
            "officer-marker",
            "panel-nearest",
            "panel-officer",
            "visit-bar",
        )
        for testid in hidden:
            assert viewer.page.locator(f'[data-testid="{testid}"]').count() == 0, testid
        assert "o_" not in viewer.page.locator('[data-testid="area-panel"]').inner_text()
        entries = get_json(f"{stack.web_url}/api/audit?n=50")["entries"]
        assert any(
            e["what"] == "alert_action" and e["detail"]["alert_id"] == alert_id for e in entries
        )
        ARTIFACTS.mkdir(exist_ok=True)
        viewer.page.screenshot(path=str(ARTIFACTS / "live-page-viewer-acknowledged.png"))
        assert viewer.errors == []
    finally:
        viewer.page.close()


def sse_count(page: Page, counter: str) -> int:
    return int(page.evaluate(f"() => Number(document.body.dataset.{counter} ?? 0)"))


def test_an_impact_area_never_visited_says_so(live: LivePage, stack: Stack) -> None:
    marked = live.page.locator('[data-testid="dose-row"] [data-testid="never-visited"]').first
    marked.wait_for(state="attached", timeout=30_000)
    row = marked.locator("xpath=ancestor::tr")
    area_id = row.get_attribute("data-area-id")
    assert row.get_attribute("data-kind") == "impact"
    assert marked.get_attribute("title") == "no visit recorded since monitoring began"
    snapshot = get_json(f"{stack.web_url}/api/areas/{area_id}")
    assert snapshot["visits"]["last_qualifying_visit_end"] is None
