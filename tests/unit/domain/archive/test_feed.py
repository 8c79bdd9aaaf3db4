"""A fed partition takes its records in offset order with no gap, whichever way they came."""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.archive.feed import FedPartition


@dataclass(frozen=True)
class Record:
    offset: int


def records(first: int, last: int) -> list[Record]:
    return [Record(o) for o in range(first, last + 1)]


def offsets(taken: list[Record]) -> list[int]:
    return [r.offset for r in taken]


def test_a_partition_opened_reads_the_log_until_the_feed_shows_it_goes_on() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=100)
    assert fed.needs_reading


def test_a_feed_from_the_block_start_is_taken_without_reading() -> None:
    fed: FedPartition[Record] = FedPartition(next=20, limit=100)
    fed.feed(records(20, 24))
    assert offsets(fed.take_pending()) == [20, 21, 22, 23, 24]
    assert not fed.needs_reading
    assert fed.next == 25


def test_a_feed_that_resumed_past_the_block_start_waits_for_the_read_between() -> None:
    fed: FedPartition[Record] = FedPartition(next=20, limit=100)
    fed.feed(records(30, 34))
    assert fed.take_pending() == []
    assert fed.needs_reading
    assert offsets(fed.take_read(records(20, 25))) == list(range(20, 26))
    assert fed.needs_reading
    assert offsets(fed.take_read(records(26, 31))) == list(range(26, 35))
    assert not fed.needs_reading
    assert fed.next == 35


def test_a_feed_behind_the_archive_needs_no_reading_and_gives_nothing_twice() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=100)
    assert offsets(fed.take_read(records(0, 9))) == list(range(10))
    fed.feed(records(5, 12))
    assert not fed.needs_reading
    assert offsets(fed.take_pending()) == [10, 11, 12]


def test_a_gap_in_the_feed_means_reading_again() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=100)
    fed.feed(records(0, 4))
    fed.take_pending()
    fed.feed(records(8, 9))
    assert fed.take_pending() == []
    assert fed.needs_reading
    assert offsets(fed.take_read(records(5, 9))) == [5, 6, 7, 8, 9]
    assert not fed.needs_reading


def test_too_many_fed_records_waiting_are_dropped_and_read_from_the_log() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=10)
    fed.feed(records(0, 4))
    fed.take_pending()
    fed.feed(records(5, 20))
    assert fed.dropped == 16
    assert fed.take_pending() == []
    assert fed.needs_reading
    fed.feed(records(21, 22))
    assert offsets(fed.take_read(records(5, 20))) == list(range(5, 23))


def test_a_rewind_reads_the_block_again_and_keeps_what_was_fed() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=100)
    fed.feed(records(0, 9))
    fed.take_pending()
    fed.feed(records(10, 11))
    fed.rewind(0)
    assert fed.needs_reading
    assert offsets(fed.take_read(records(0, 9))) == list(range(12))


def test_a_record_fed_twice_is_kept_once() -> None:
    fed: FedPartition[Record] = FedPartition(next=0, limit=100)
    fed.feed(records(3, 6))
    fed.feed(records(5, 7))
    assert offsets(fed.take_read(records(0, 2))) == list(range(8))
