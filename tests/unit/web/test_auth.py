from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from streams.settings import Settings, SettingsError, parse_tokens
from streams.web.auth import Caller, Tokens, audited_path

SETTINGS = Settings(
    viewer_tokens="wallboard=viewer-token-123456",
    supervisor_tokens="sgt-jones=supervisor-token-123456,duty-inspector=inspector-token-1234",
)


def test_tokens_name_their_holder_and_role() -> None:
    tokens = Tokens(SETTINGS)
    assert tokens.caller("viewer-token-123456") == Caller("wallboard", "viewer")
    assert tokens.caller("inspector-token-1234") == Caller("duty-inspector", "supervisor")
    assert tokens.caller("viewer-token-12345") is None
    assert tokens.caller("") is None


def test_token_lists_parse_and_short_tokens_are_refused() -> None:
    assert parse_tokens(" a=token-one-1234 , b=token-two-1234 ") == {
        "token-one-1234": "a",
        "token-two-1234": "b",
    }
    with pytest.raises(SettingsError, match="COVERWATCH_VIEWER_TOKENS"):
        Settings.from_env({"COVERWATCH_VIEWER_TOKENS": "wallboard=short"})


@pytest.mark.parametrize(
    ("path_qs", "audited"),
    [
        ("/api/officers?token=supervisor-token-123456", "/api/officers"),
        (
            "/api/officers/nearest?lat=52.48&token=supervisor-token-123456&lon=-1.9&n=3",
            "/api/officers/nearest?lat=52.48&lon=-1.9&n=3",
        ),
        (
            "/api/areas/WM-IA-017?token=a-token-0123456&token=b-token-0123456",
            "/api/areas/WM-IA-017",
        ),
        ("/api/officers", "/api/officers"),
    ],
)
def test_the_audited_path_keeps_the_query_but_never_a_token(path_qs: str, audited: str) -> None:
    assert audited_path(make_mocked_request("GET", path_qs)) == audited
