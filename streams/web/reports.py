"""The kept daily reports (``/reports/``) and the area history (``/api/history/areas/{id}``).

``/reports/`` lists the kept reports, newest first; ``/reports/<day>/`` serves a report's
``index.html`` and ``/reports/<day>/tables/<name>.csv`` its tables; ``/reports/latest`` redirects
to the newest. Every path needs a viewer token (:mod:`streams.web.auth`: a report's relative
links then work through the reports cookie). Only files inside a kept report's directory are
served: a path that resolves anywhere else (``..``, a symbolic link out, a partial report) is
404. The history is read from the archive in a thread (DuckDB over Parquet).
"""

from __future__ import annotations

import asyncio
import html
from datetime import date, timedelta
from pathlib import Path

import orjson
from aiohttp import web

from streams.kept_reports import INDEX, kept_report_days, report_day
from streams.settings import reports_location
from streams.web.api import RUNTIME_KEY
from streams.web.auth import error

MAX_HISTORY_DAYS = 400
"""The longest range ``/api/history/areas/{id}`` answers (both ends included)."""
REPORT_HEADERS = {"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"}
CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".html": "text/html; charset=utf-8"}


def _reports_dir(request: web.Request) -> Path | None:
    return reports_location(request.app[RUNTIME_KEY].settings)


async def reports_index(request: web.Request) -> web.Response:
    """The kept reports, newest first, as an HTML page."""
    reports_dir = _reports_dir(request)
    days = [] if reports_dir is None else await asyncio.to_thread(kept_report_days, reports_dir)
    items = "\n".join(
        f'    <li><a href="{day.isoformat()}/">{html.escape(day.strftime("%A %d %B %Y"))}</a>'
        f' · <a href="{day.isoformat()}/tables/">tables</a></li>'
        for day in days
    )
    if reports_dir is None:
        body = "<p>No reports: the archive is off (COVERWATCH_ARCHIVE_URL).</p>"
    elif not days:
        body = "<p>No report yet: the first is written after the first whole day.</p>"
    else:
        body = f'<ol class="reports">\n{items}\n  </ol>'
    page = (
        '<!doctype html>\n<html lang="en-GB">\n<head>\n  <meta charset="utf-8">\n'
        '  <meta name="referrer" content="no-referrer">\n'
        "  <title>Coverwatch daily reports</title>\n</head>\n<body>\n"
        f"  <h1>Coverwatch daily reports</h1>\n  {body}\n</body>\n</html>\n"
    )
    return web.Response(text=page, content_type="text/html", headers=REPORT_HEADERS)


async def latest_report(request: web.Request) -> web.Response:
    """Redirect to the newest kept report (404 when there is none)."""
    reports_dir = _reports_dir(request)
    days = [] if reports_dir is None else await asyncio.to_thread(kept_report_days, reports_dir)
    if not days:
        return error(404, "no report has been written yet")
    raise web.HTTPFound(f"{days[0].isoformat()}/")


async def to_reports_index(request: web.Request) -> web.Response:
    """``/reports`` -> ``/reports/`` (the listing's links are relative)."""
    raise web.HTTPFound("reports/")


async def to_report_index(request: web.Request) -> web.Response:
    """``/reports/<day>`` -> ``/reports/<day>/`` (a report's links are relative)."""
    raise web.HTTPFound(f"{request.match_info['day']}/")


async def report_file(request: web.Request) -> web.StreamResponse:
    """A file of a kept report: ``index.html`` for the report's directory itself, a listing of
    the CSV files for ``tables/``."""
    reports_dir = _reports_dir(request)
    day = report_day(request.match_info["day"])
    if reports_dir is None or day is None:
        raise web.HTTPNotFound()
    report = reports_dir / day.isoformat()
    wanted = request.match_info["path"] or INDEX
    target = _inside(report, wanted)
    if target is None or not (report / INDEX).is_file():
        raise web.HTTPNotFound()
    if target.is_dir() and wanted.rstrip("/") == "tables":
        return _tables_listing(day, target)
    if not target.is_file():
        raise web.HTTPNotFound()
    content_type = CONTENT_TYPES.get(target.suffix, "application/octet-stream")
    return web.FileResponse(target, headers={**REPORT_HEADERS, "Content-Type": content_type})


def _inside(report: Path, wanted: str) -> Path | None:
    """``wanted`` under the report's directory, resolved (links followed), or None when it
    resolves outside it."""
    root = report.resolve()
    target = (root / wanted).resolve()
    return target if target.is_relative_to(root) else None


def _tables_listing(day: date, tables: Path) -> web.Response:
    names = sorted(path.name for path in tables.iterdir() if path.suffix == ".csv")
    items = "\n".join(
        f'    <li><a href="{html.escape(name)}">{html.escape(name)}</a></li>' for name in names
    )
    page = (
        '<!doctype html>\n<html lang="en-GB">\n<head>\n  <meta charset="utf-8">\n'
        f"  <title>Tables of the report of {day.isoformat()}</title>\n</head>\n<body>\n"
        f"  <h1>Tables of the report of {day.isoformat()}</h1>\n  <ul>\n{items}\n  </ul>\n"
        "</body>\n</html>\n"
    )
    return web.Response(text=page, content_type="text/html", headers=REPORT_HEADERS)


async def reports_summary(request: web.Request) -> web.Response:
    """The kept reports' days, newest first, and the newest (``latest``, null before any)."""
    reports_dir = _reports_dir(request)
    days = [] if reports_dir is None else await asyncio.to_thread(kept_report_days, reports_dir)
    body = {
        "enabled": reports_dir is not None,
        "latest": days[0].isoformat() if days else None,
        "days": [day.isoformat() for day in days],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def area_history(request: web.Request) -> web.Response:
    """One area's facts per local day from ``from`` to ``to`` (both included, at most
    :data:`MAX_HISTORY_DAYS`), read from the archive."""
    runtime = request.app[RUNTIME_KEY]
    settings = runtime.settings
    area_id = request.match_info["area_id"]
    start, end = _day_range(request.query.get("from"), request.query.get("to"))
    if not settings.archive_url:
        return error(404, "no history is kept: the archive is off (COVERWATCH_ARCHIVE_URL)")
    rows = await asyncio.to_thread(
        _read_history, settings.archive_url, area_id, start, end, settings.timezone
    )
    if not rows:
        await runtime.refresh_fences(await runtime.state.area_version())
    if not rows and area_id not in runtime.fences.areas:
        return error(404, f"no area {area_id!r}")
    body = {"area_id": area_id, "from": start.isoformat(), "to": end.isoformat(), "days": rows}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _read_history(
    archive_url: str, area_id: str, start: date, end: date, zone: str
) -> list[dict[str, object]]:
    # The evaluation stack (duckdb, pandas) is imported when history is first asked for, not
    # at every worker's start.
    from streams.evaluation.facts import area_day_history

    rows: list[dict[str, object]] = area_day_history(archive_url, area_id, start, end, zone)
    return rows


def _day_range(raw_from: str | None, raw_to: str | None) -> tuple[date, date]:
    """``from`` and ``to`` as days; 400 when missing, malformed, reversed or too long."""
    days = []
    for name, raw in (("from", raw_from), ("to", raw_to)):
        try:
            days.append(date.fromisoformat(raw or ""))
        except ValueError:
            raise _bad_request(f"{name} must be a day (YYYY-MM-DD), not {raw!r}") from None
    start, end = days
    if end < start:
        raise _bad_request("to must not be before from")
    if end - start >= timedelta(days=MAX_HISTORY_DAYS):
        raise _bad_request(f"at most {MAX_HISTORY_DAYS} days at a time")
    return start, end


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": message}).decode(), content_type="application/json"
    )


def add_report_routes(app: web.Application) -> None:
    """Register the reports and the history routes."""
    app.router.add_get("/api/reports", reports_summary)
    app.router.add_get("/api/history/areas/{area_id}", area_history)
    app.router.add_get("/reports", to_reports_index)
    app.router.add_get("/reports/", reports_index)
    app.router.add_get("/reports/latest", latest_report)
    app.router.add_get("/reports/{day}", to_report_index)
    app.router.add_get("/reports/{day}/{path:.*}", report_file)
