"""``make bench``'s live page rows: the page in headless Chromium with 10,000 areas against the
40-area pack in the same run.

Each pack gets an idle worker on the wall clock (as the API step makes them,
:func:`~streams.devtools.bench.api_latency.start_idle_worker`). Debian's Chromium, driven by
Playwright, opens the page as a viewer at 1600x900 and the bench measures:

- **first render**: from asking for the page to every area drawn on the map, the dose table
  filled and the page ready (target <= :data:`RENDER_TARGET_S`: a supervisor opening the page
  at the start of a shift waits that long at most);
- **live updates**: for :data:`WATCH_S` seconds after that, the ``area`` events the page applied
  from its event stream per second (every idle area's snapshot is published at least once a
  minute of wall time, so 10,000 areas send about 170 a second), and how long the page took to
  answer a script once a second meanwhile, p95 (target <= :data:`RESPONSIVE_P95_TARGET_S`: a
  click is handled at once while the updates arrive).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from streams.devtools.bench.api_latency import API_AREAS, VIEWER_TOKEN, start_idle_worker
from streams.devtools.bench.support import Row, percentile

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from streams.devtools.bench.harness import Bench

CHROMIUM: Final = Path("/usr/bin/chromium")
RENDER_TARGET_S: Final = 20.0
RESPONSIVE_P95_TARGET_S: Final = 0.5
WATCH_S: Final = 40.0
QUICK_WATCH_S: Final = 15.0
RENDER_TIMEOUT_MS: Final = 180_000

_DRAWN = """n => document.body?.dataset.ready === "true"
  && document.querySelectorAll('[data-testid="area-polygon"]').length >= n
  && document.querySelectorAll('[data-testid="dose-row"]').length > 0"""


def measure(bench: Bench) -> dict[str, Any]:
    """Both packs, each in a fresh browser (started once its worker is up: the worker's setup
    runs event loops of its own, which Playwright's synchronous API may not share)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    watch_s = QUICK_WATCH_S if bench.plan.quick else WATCH_S
    results: dict[str, Any] = {}
    for count in (len(bench.pack), API_AREAS):
        worker, _ = start_idle_worker(bench, count, f"page{count}")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu"],
                )
                try:
                    results[str(count)] = _one_pack(browser, worker.url, count, watch_s)
                finally:
                    browser.close()
        finally:
            worker.stop()
    return results


def _one_pack(browser: Browser, url: str, count: int, watch_s: float) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        started = time.perf_counter()
        page.goto(f"{url}/?token={VIEWER_TOKEN}", wait_until="commit")
        page.wait_for_function(_DRAWN, arg=count, timeout=RENDER_TIMEOUT_MS, polling=100)
        render_s = time.perf_counter() - started
        applied_before = _applied(page)
        answers: list[float] = []
        watch_started = time.perf_counter()
        while time.perf_counter() - watch_started < watch_s:
            asked = time.perf_counter()
            page.evaluate("() => performance.now()")
            answers.append(time.perf_counter() - asked)
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - asked)))
        applied = _applied(page) - applied_before
        watched_s = time.perf_counter() - watch_started
    finally:
        page.close()
    result = {
        "areas": count,
        "render_s": render_s,
        "events_per_s": applied / watched_s,
        "answers_s": answers,
    }
    print(
        f"  page{count}: first render {render_s:.1f} s, {applied / watched_s:.1f} area events/s "
        f"applied, page answers p95 {percentile(answers, 95) or 0:.3f} s",
        flush=True,
    )
    return result


def _applied(page: Any) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.sseArea ?? 0)"))


def rows(result: object) -> list[Row]:
    """First render and responsiveness under live updates with 10,000 areas, against the 40
    areas' in the same run."""
    measured = result if isinstance(result, Mapping) else {}
    most, fewest = measured.get(str(API_AREAS)), _fewest(measured)
    if not isinstance(most, Mapping) or not isinstance(fewest, Mapping):
        reason = measured.get("error", "not run")
        return [Row("live page, 10,000 areas", None, "s", note=f"not measured: {reason}")]
    answers = percentile(most["answers_s"], 95)
    return [
        Row(
            f"live page first render, {API_AREAS:,} areas",
            most["render_s"],
            "s",
            fewest["render_s"],
            f"{fewest['areas']} areas",
            f"<= {RENDER_TARGET_S:g} s",
            most["render_s"] <= RENDER_TARGET_S,
            note="headless Chromium at 1600x900, a viewer: from asking for the page to every "
            "area drawn, the table filled and the page ready",
        ),
        Row(
            f"live page answers under live updates p95, {API_AREAS:,} areas",
            answers,
            "s",
            percentile(fewest["answers_s"], 95),
            f"{fewest['areas']} areas",
            f"<= {RESPONSIVE_P95_TARGET_S:g} s",
            None if answers is None else answers <= RESPONSIVE_P95_TARGET_S,
            note=f"a script round trip once a second while the page applied "
            f"{most['events_per_s']:.0f} area events/s from its event stream "
            f"({fewest['events_per_s']:.1f}/s with {fewest['areas']} areas)",
        ),
    ]


def _fewest(measured: Mapping[str, Any]) -> Mapping[str, Any] | None:
    packs = [value for key, value in measured.items() if key.isdigit() and key != str(API_AREAS)]
    return packs[0] if len(packs) == 1 and isinstance(packs[0], Mapping) else None
