"""`/reports/` and `/api/history/areas/{id}`: a viewer token, kept reports only, nothing else on
disk, and the history's range checked before the archive is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.kept_reports import write_kept_report
from streams.settings import Settings
from streams.web import reports
from streams.web.api import RUNTIME_KEY
from streams.web.auth import REPORTS_COOKIE, Tokens, token_middleware
from streams.web.reports import add_report_routes

VIEWER = "viewer-token-123456"
BEARER = {"Authorization": f"Bearer {VIEWER}"}


def kept_report(reports_dir: Path, day: str, title: str) -> None:
    def write(out_dir: Path) -> Path:
        (out_dir / "tables").mkdir(parents=True)
        (out_dir / "tables" / "q7_did.csv").write_text("crime_category,t0\nall,12\n")
        (out_dir / "index.html").write_text(f"<h1>{title}</h1>")
        return out_dir / "index.html"

    write_kept_report(reports_dir, date.fromisoformat(day), write)


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    kept_report(reports, "2026-12-04", "report of the 4th")
    kept_report(reports, "2026-12-05", "report of the 5th")
    (reports / "2026-12-06").mkdir()  # a report being written elsewhere: no index yet
    (tmp_path / "secret.txt").write_text("not a report")
    (reports / "2026-12-05" / "escape").symlink_to(tmp_path / "secret.txt")
    return reports


def app_for(settings: Settings, areas: tuple[str, ...] = ("WM-IA-001",)) -> web.Application:
    async def area_version() -> int:
        return 1

    async def refresh_fences(version: int) -> None:
        return None

    runtime = SimpleNamespace(
        settings=settings,
        fences=SimpleNamespace(areas=dict.fromkeys(areas)),
        state=SimpleNamespace(area_version=area_version),
        refresh_fences=refresh_fences,
    )
    app = web.Application(middlewares=[token_middleware(Tokens(settings))])
    app[RUNTIME_KEY] = runtime  # type: ignore[assignment]
    add_report_routes(app)
    return app


@pytest.fixture
async def client(reports_dir: Path) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(
        viewer_tokens=f"wallboard={VIEWER}",
        archive_url=f"file://{reports_dir.parent}/archive",
        reports_dir=str(reports_dir),
    )
    async with TestClient(TestServer(app_for(settings))) as test_client:
        yield test_client


async def test_the_listing_shows_kept_reports_newest_first_to_a_viewer(
    client: TestClient[Any, Any],
) -> None:
    assert (await client.get("/reports/")).status == 401
    response = await client.get("/reports/", headers=BEARER)
    assert response.status == 200
    page = await response.text()
    assert page.index('href="2026-12-05/"') < page.index('href="2026-12-04/"')
    assert "2026-12-06" not in page
    summary = await (await client.get("/api/reports", headers=BEARER)).json()
    assert summary == {
        "enabled": True,
        "latest": "2026-12-05",
        "days": ["2026-12-05", "2026-12-04"],
    }


async def test_a_report_and_its_tables_are_served_with_a_token_only(
    client: TestClient[Any, Any],
) -> None:
    assert (await client.get("/reports/2026-12-05/")).status == 401
    index = await client.get("/reports/2026-12-05/", headers=BEARER)
    assert index.status == 200
    assert await index.text() == "<h1>report of the 5th</h1>"
    table = await client.get("/reports/2026-12-04/tables/q7_did.csv", headers=BEARER)
    assert table.status == 200
    assert table.headers["Content-Type"].startswith("text/csv")
    assert (await table.text()).startswith("crime_category,t0")
    listing = await client.get("/reports/2026-12-04/tables/", headers=BEARER)
    assert 'href="q7_did.csv"' in await listing.text()
    latest = await client.get("/reports/latest", headers=BEARER, allow_redirects=False)
    assert latest.status == 302
    assert latest.headers["Location"] == "2026-12-05/"


async def test_a_token_in_the_address_becomes_a_cookie_the_report_links_then_use(
    client: TestClient[Any, Any],
) -> None:
    refused = await client.get("/reports/2026-12-05/?token=wrong-token-123456")
    assert refused.status == 401
    response = await client.get(f"/reports/2026-12-05/?token={VIEWER}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/reports/2026-12-05/"
    cookie = response.cookies[REPORTS_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/reports"
    table = await client.get("/reports/2026-12-05/tables/q7_did.csv")  # the jar sends it
    assert table.status == 200
    assert (await client.get("/api/reports")).status == 401  # never on the API


@pytest.mark.parametrize(
    "path",
    [
        "/reports/2026-12-05/../../secret.txt",
        "/reports/2026-12-05/%2e%2e/%2e%2e/secret.txt",
        "/reports/2026-12-05/..%2F..%2Fsecret.txt",
        "/reports/2026-12-05/escape",
        "/reports/2026-12-05//etc/passwd",
        "/reports/2026-12-06/",
        "/reports/2026-13-01/",
        "/reports/..%2F/secret.txt",
    ],
)
async def test_nothing_outside_a_kept_report_is_served(
    client: TestClient[Any, Any], path: str
) -> None:
    response = await client.get(path, headers=BEARER)
    assert response.status in (401, 404)
    assert "not a report" not in await response.text()
    assert "report of the 4th" not in await response.text()


async def test_without_an_archive_there_are_no_reports() -> None:
    settings = Settings(viewer_tokens=f"wallboard={VIEWER}")
    async with TestClient(TestServer(app_for(settings))) as test_client:
        listing = await test_client.get("/reports/", headers=BEARER)
        assert "the archive is off" in await listing.text()
        assert (await test_client.get("/reports/latest", headers=BEARER)).status == 404
        history = await test_client.get(
            "/api/history/areas/WM-IA-001?from=2026-12-01&to=2026-12-05", headers=BEARER
        )
        assert history.status == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-12-01", "to must be a day"),
        ("from=1/12/2026&to=2026-12-05", "from must be a day"),
        ("from=2026-12-05&to=2026-12-01", "to must not be before from"),
        ("from=2025-01-01&to=2026-12-05", "at most 400 days"),
    ],
)
async def test_a_bad_history_range_is_400(
    client: TestClient[Any, Any], query: str, message: str
) -> None:
    response = await client.get(f"/api/history/areas/WM-IA-001?{query}", headers=BEARER)
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_the_history_of_an_area_is_its_area_days_and_an_unknown_area_is_404(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, date, date, str]] = []

    def read(
        archive_url: str, area_id: str, start: date, end: date, zone: str
    ) -> list[dict[str, object]]:
        asked.append((area_id, start, end, zone))
        if area_id != "WM-IA-001":
            return []
        return [{"area_id": area_id, "day": "2026-12-01", "officer_minutes": 42.5}]

    monkeypatch.setattr(reports, "_read_history", read)
    assert (
        await client.get("/api/history/areas/WM-IA-001?from=2026-12-01&to=2026-12-01")
    ).status == 401
    response = await client.get(
        "/api/history/areas/WM-IA-001?from=2026-12-01&to=2027-01-04", headers=BEARER
    )
    assert response.status == 200
    assert await response.json() == {
        "area_id": "WM-IA-001",
        "from": "2026-12-01",
        "to": "2027-01-04",
        "days": [{"area_id": "WM-IA-001", "day": "2026-12-01", "officer_minutes": 42.5}],
    }
    assert asked == [("WM-IA-001", date(2026, 12, 1), date(2027, 1, 4), "Europe/London")]
    unknown = await client.get(
        "/api/history/areas/nowhere?from=2026-12-01&to=2026-12-02", headers=BEARER
    )
    assert unknown.status == 404
