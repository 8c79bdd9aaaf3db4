"""Who is calling the API and the reports: bearer tokens from the settings, two roles.

``viewer`` tokens read aggregate views; ``supervisor`` tokens also read officer-level data
(nearest officers, officer positions, visits with pseudonyms), and every such read is audited.
A token comes as ``Authorization: Bearer <token>`` or, for EventSource, ``?token=<token>``.

The kept reports (``/reports/...``) are pages a browser follows links in, so there a valid
``?token=`` is also exchanged for a cookie (HttpOnly, SameSite=Strict, path ``/reports``) and
the request redirected to the same address without the token; the cookie then carries it to the
report's tables. The cookie is honoured on ``/reports/`` paths only, never on the API.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from streams.settings import Settings, parse_tokens

Role = Literal["viewer", "supervisor"]
TOKEN_PARAMETER = "token"  # noqa: S105 - the name of the parameter, not a token
"""The query parameter that may carry a token (EventSource cannot send headers)."""
SECRET_PARAMETERS = frozenset({TOKEN_PARAMETER})
"""Query parameters that carry secrets: the audit log keeps a request's query without them."""


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: the token's name (for the audit log) and its role."""

    name: str
    role: Role


class Tokens:
    """The configured tokens."""

    def __init__(self, settings: Settings) -> None:
        self._known: list[tuple[str, Caller]] = [
            (token, Caller(name, "supervisor"))
            for token, name in parse_tokens(settings.supervisor_tokens).items()
        ] + [
            (token, Caller(name, "viewer"))
            for token, name in parse_tokens(settings.viewer_tokens).items()
        ]

    def caller(self, token: str) -> Caller | None:
        """The caller a token belongs to (constant-time comparison), or None."""
        found = None
        for known, caller in self._known:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = caller
        return found


CALLER_KEY = web.RequestKey("caller", Caller)
PROTECTED_PREFIXES = ("/api/", "/reports")
"""Paths that need a token."""
REPORTS_PREFIX = "/reports"
REPORTS_COOKIE = "coverwatch_reports"
"""The cookie that carries a token on ``/reports/`` paths."""


def error(status: int, message: str) -> web.Response:
    """A JSON error response."""
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """On ``/api/`` paths, an error the router or a handler raised as plain text (an unknown
    path, a method not allowed) is answered as JSON, like every other API error."""
    try:
        return await handler(request)
    except web.HTTPException as raised:
        if not request.path.startswith("/api/") or raised.status < 400:
            raise
        if raised.content_type == "application/json":
            raise
        answer = error(raised.status, f"{raised.reason}: {request.method} {request.path}")
        if "Allow" in raised.headers:
            answer.headers["Allow"] = raised.headers["Allow"]
        return answer


def token_middleware(tokens: Tokens) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Require a valid token on every ``/api/`` path."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(PROTECTED_PREFIXES):
            return await handler(request)
        reports = request.path.startswith(REPORTS_PREFIX)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        in_query = request.query.get(TOKEN_PARAMETER, "")
        token = token or in_query
        if not token and reports:
            token = request.cookies.get(REPORTS_COOKIE, "")
        caller = tokens.caller(token) if token else None
        if caller is None:
            return error(401, "a valid viewer or supervisor token is required")
        if reports and in_query:
            return _exchange_for_cookie(request, in_query)
        request[CALLER_KEY] = caller
        return await handler(request)

    return middleware


def _exchange_for_cookie(request: web.Request, token: str) -> web.Response:
    """Redirect a reports request to its address without the token, setting the reports
    cookie to it (the token leaves the address bar and the history)."""
    kept = [(name, value) for name, value in request.query.items() if name not in SECRET_PARAMETERS]
    response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(kept))})
    response.set_cookie(
        REPORTS_COOKIE,
        token,
        path=REPORTS_PREFIX,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


def audited_path(request: web.Request) -> str:
    """The path and query of ``request`` as the audit log keeps it: without secret parameters."""
    url = request.rel_url
    kept = [(name, value) for name, value in url.query.items() if name not in SECRET_PARAMETERS]
    return str(url.with_query(kept))


def supervisor(request: web.Request) -> Caller:
    """The caller, who must be a supervisor; else 403."""
    caller = request[CALLER_KEY]
    if caller.role != "supervisor":
        raise web.HTTPForbidden(
            text='{"error": "officer-level data needs a supervisor token"}',
            content_type="application/json",
        )
    return caller
