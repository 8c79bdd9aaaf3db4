"""What crosses between a worker and its presence process."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec

from streams.presence import PingBatch, RawMessage
from streams.presence_process import Done, Failed, ProcessPings, Reply, Request, ping_batch


def event(partition: int, offset: int, value: bytes | None) -> SimpleNamespace:
    message = SimpleNamespace(
        key=b"2001001", value=value, partition=partition, offset=offset, timestamp=1.5
    )
    return SimpleNamespace(message=message)


def test_a_batch_is_taken_apart_column_by_column() -> None:
    batch = ping_batch([event(2, 7, b"{}"), event(0, 3, None), event(2, 9, b"[]")])  # type: ignore[list-item]

    assert batch.partitions == [2, 0, 2]
    assert batch.offsets == [7, 3, 9]
    assert batch.values == [b"{}", None, b"[]"]
    assert batch.appended == [1.5, 1.5, 1.5]
    assert batch.last_offsets() == {2: 9, 0: 3}
    assert batch.message(1) == RawMessage(b"2001001", None, 0, 3)


def test_requests_and_replies_cross_the_socket_unchanged() -> None:
    batch = PingBatch([1], [42], [None], [b"\x00\xff not json"], [1.25])
    request = ProcessPings(generation=3, clock=1_795_262_400.5, batch=batch)
    replies = [
        Done([("consumed", ["airwave.pings", 1]), ("lags", ["airwave.pings", [0.5]])], None, 2.0),
        Failed([], True, "ConnectionError: redis is down"),
    ]

    assert msgspec.msgpack.decode(msgspec.msgpack.encode(request), type=Request) == request
    for reply in replies:
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(reply), type=Reply) == reply
