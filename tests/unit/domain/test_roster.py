from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import validation_errors
from streams.domain.roster import RosterEntry, RosterRemoved, decode_roster
from streams.domain.validation import Rejected, TimeLimits

LIMITS = TimeLimits()


def entry(**fields: object) -> dict[str, object]:
    value: dict[str, object] = {
        "issi": "2001001",
        "officer_id": "4521",
        "callsign": "B21",
        "unit": "Birmingham East Response",
        "role": "response",
        "device": "vehicle",
        "on_duty": True,
    }
    value.update(fields)
    return {k: v for k, v in value.items() if v is not None}


def test_a_roster_entry_names_the_officer_carrying_the_radio() -> None:
    decoded = decode_roster(b"2001001", orjson.dumps(entry()), LIMITS)
    assert decoded == RosterEntry(
        "2001001", "4521", "B21", "Birmingham East Response", "response", "vehicle", True
    )
    assert validation_errors("resources.roster", entry()) == []


def test_a_roster_entry_is_valid_from_its_time_and_stored_without_it() -> None:
    decoded = decode_roster(b"2001001", orjson.dumps(entry(ts="2026-11-21T14:00:00Z")), LIMITS)

    assert isinstance(decoded, RosterEntry)
    assert decoded.ts == datetime(2026, 11, 21, 14, 0, tzinfo=UTC).timestamp()
    assert decoded.stored() == {key: value for key, value in entry().items() if key != "schema"}


def test_a_tombstone_removes_the_radio() -> None:
    assert decode_roster(b"2001001", None, LIMITS) == RosterRemoved("2001001")


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        (b"{oops", b"2001001", "invalid_json"),
        (orjson.dumps(entry(role="detective")), b"2001001", "invalid_schema"),
        (orjson.dumps(entry(role="unknown")), b"2001001", "invalid_schema"),
        (orjson.dumps(entry(device="pager")), b"2001001", "invalid_schema"),
        (orjson.dumps(entry(on_duty="yes")), b"2001001", "invalid_schema"),
        (orjson.dumps(entry(callsign=None)), b"2001001", "invalid_schema"),
        (orjson.dumps(entry(extra=1)), b"2001001", "invalid_schema"),
        (orjson.dumps(entry()), b"9999", "invalid_schema"),
        (None, None, "invalid_schema"),
        (orjson.dumps(entry(schema="resources.roster/9")), b"2001001", "wrong_schema_version"),
    ],
)
def test_bad_roster_messages_are_rejected_with_a_reason_that_names_no_radio_or_officer(
    raw: bytes | None, key: bytes | None, reason: str
) -> None:
    with pytest.raises(Rejected) as caught:
        decode_roster(key, raw, LIMITS)
    assert caught.value.rejection.reason == reason
    detail = caught.value.rejection.detail
    assert all(raw_id not in detail for raw_id in ("2001001", "4521", "9999")), detail
