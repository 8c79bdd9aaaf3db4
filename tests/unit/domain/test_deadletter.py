from __future__ import annotations

import base64

from schemas import assert_valid
from streams.domain.deadletter import KEPT_BYTES, Source, deadletter_key, deadletter_record
from streams.domain.publication import pseudonym
from streams.domain.validation import Rejection


def test_deadletter_record_keeps_the_original_bytes_and_validates() -> None:
    record = deadletter_record(
        Source("airwave.pings", 3, 42),
        b"2001001",
        b"{bad",
        Rejection("invalid_json", "nope"),
        1.8e9,
    )
    assert_valid("deadletter", record)
    assert base64.b64decode(str(record["value_base64"])) == b"{bad"
    assert (record["source_partition"], record["source_offset"], record["reason"]) == (
        3,
        42,
        "invalid_json",
    )


def test_an_oversized_value_is_kept_truncated_with_its_size() -> None:
    value = b"x" * (KEPT_BYTES * 3)
    record = deadletter_record(
        Source("airwave.pings", 0, 1), None, value, Rejection("oversized", "big"), 1.8e9
    )
    assert_valid("deadletter", record)
    assert record["value_truncated"] is True
    assert record["value_size"] == len(value)
    assert len(base64.b64decode(str(record["value_base64"]))) == KEPT_BYTES


def test_a_message_keyed_by_a_radio_is_deadlettered_under_the_radios_pseudonym() -> None:
    secret = b"unit-test-pseudonym-key-0123"

    assert deadletter_key(b"2001001", True, secret) == pseudonym(secret, "2001001").encode()
    assert deadletter_key(None, True, secret) is None
    assert deadletter_key(b"INC-0001", False, secret) == b"INC-0001"
