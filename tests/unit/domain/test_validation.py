from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import validation_errors
from streams.domain.validation import (
    Rejected,
    Rejection,
    TimeLimits,
    _decode_ping_by_hand,
    decode_ping,
)

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC).timestamp()
LIMITS = TimeLimits(max_future_skew_s=30, max_age_s=86400, max_message_bytes=65536)


def ping(**fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "issi": "2001001",
        "ts": "2026-11-21T17:59:30Z",
        "lat": 52.48,
        "lon": -1.89,
    }
    value.update(fields)
    return {k: v for k, v in value.items() if v is not None}


def rejection_for(
    value: object, key: bytes | None = b"2001001", raw: bytes | None = None
) -> Rejection:
    with pytest.raises(Rejected) as caught:
        decode_ping(key, orjson.dumps(value) if raw is None else raw, NOW, LIMITS)
    return caught.value.rejection


def reason_for(value: object, key: bytes | None = b"2001001", raw: bytes | None = None) -> str:
    return rejection_for(value, key, raw).reason


def test_a_valid_ping_becomes_a_fix() -> None:
    fix = decode_ping(b"2001001", orjson.dumps(ping(speed_mps=3.5)), NOW, LIMITS)
    assert (fix.issi, fix.lat, fix.lon, fix.speed_mps) == ("2001001", 52.48, -1.89, 3.5)
    assert fix.ts == NOW - 30


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (ping(lat="52.48"), "invalid_schema"),
        (ping(lat=True), "invalid_schema"),
        (ping(ts=None), "invalid_schema"),
        (ping(ts="yesterday"), "invalid_schema"),
        (ping(ts="2026-11-21T17:59:30"), "invalid_schema"),
        (ping(colour="blue"), "invalid_schema"),
        (ping(issi=""), "invalid_schema"),
        (ping(heading_deg=400), "invalid_schema"),
        (ping(lat=123.0), "invalid_coordinates"),
        (ping(lon=-181.0), "invalid_coordinates"),
        (ping(lat=0.0, lon=0.0), "invalid_coordinates"),
        (ping(ts="2026-11-21T18:05:00Z"), "future_timestamp"),
        (ping(ts="2026-11-19T18:00:00Z"), "stale_timestamp"),
        (ping(schema="airwave.pings/2"), "wrong_schema_version"),
        ([1, 2, 3], "invalid_schema"),
    ],
)
def test_bad_pings_are_rejected_with_a_reason_that_names_no_radio(
    value: object, reason: str
) -> None:
    rejection = rejection_for(value)
    assert rejection.reason == reason
    assert "2001001" not in rejection.detail


def test_bad_json_and_oversized_values_are_rejected_before_parsing() -> None:
    assert reason_for(None, raw=b'{"issi": ') == "invalid_json"
    assert reason_for(None, raw=b"[" * 70000) == "oversized"


def test_a_key_that_is_not_the_issi_is_rejected_without_naming_either() -> None:
    rejection = rejection_for(ping(), key=b"9999")
    assert rejection.reason == "invalid_schema"
    assert "9999" not in rejection.detail
    assert "2001001" not in rejection.detail


def test_without_a_clock_yet_no_time_limit_applies() -> None:
    fix = decode_ping(None, orjson.dumps(ping(ts="2030-01-01T00:00:00Z")), None, LIMITS)
    assert fix.ts > NOW


def test_decoder_and_json_schema_agree_on_shape() -> None:
    good = ping(accuracy_m=12.0, heading_deg=90.0)
    assert validation_errors("airwave.pings", good) == []
    for bad in (ping(lat="52.48"), ping(colour="blue"), ping(lat=123.0), ping(ts="yesterday")):
        assert validation_errors("airwave.pings", bad) != []


_ABSENT = object()
_FIELD_VALUES: dict[str, list[object]] = {
    "schema": [_ABSENT, "airwave.pings/1", "airwave.pings/2", None, 1],
    "issi": [_ABSENT, "2001001", "2001002", "", "abc\n", "a" * 65, 2001001, None, "x/y:z"],
    "ts": [
        _ABSENT,
        "2026-11-21T17:59:30Z",
        "2026-11-21T17:59:30.123456+01:00",
        "2026-11-21t17:59:30z",
        "2026-11-21T17:59:30",
        "2026-11-21 17:59:30Z",
        "2020-01-01T00:00:00Z",
        "2026-11-21T18:05:00Z",
        "yesterday",
        1795283970,
        None,
    ],
    "lat": [_ABSENT, 52.48, 52, -90.0, 90.0000001, 0.0, True, "52.48", None, 1e308],
    "lon": [_ABSENT, -1.89, -1, 180.0, -180.5, 0, False, None],
    "accuracy_m": [_ABSENT, 12.0, 0, -1.0, None, "12", True],
    "speed_mps": [_ABSENT, 3.5, 0.0, -0.1, 1e9, None],
    "heading_deg": [_ABSENT, 0, 360, 360.5, -1, 90.25, None],
    "extra": [_ABSENT, 1],
}


@st.composite
def ping_messages(draw: st.DrawFn) -> tuple[bytes | None, bytes]:
    value = {
        name: choice
        for name, choices in _FIELD_VALUES.items()
        for choice in (draw(st.sampled_from(choices)),)
        if choice is not _ABSENT
    }
    key = draw(st.sampled_from([None, b"2001001", b"other"]))
    raw = orjson.dumps(value)
    return key, draw(st.sampled_from([raw, raw[:-1], b"[" + raw + b"]", raw + b" "]))


@settings(max_examples=3000)
@given(ping_messages())
def test_the_fast_ping_decoder_gives_the_hand_written_answer(
    message: tuple[bytes | None, bytes],
) -> None:
    key, raw = message

    def outcome(decode: Callable[..., object]) -> object:
        try:
            return decode(key, raw, NOW, LIMITS)
        except Rejected as rejected:
            return rejected.rejection

    assert outcome(decode_ping) == outcome(_decode_ping_by_hand)
