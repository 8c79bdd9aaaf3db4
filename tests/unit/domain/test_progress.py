"""A partition without progress is waited for when it holds records none of which is applied
(after a rebuild), and left out when it is empty or its records carried no time."""

from __future__ import annotations

from streams.domain.judging import coverage_watermark
from streams.domain.progress import UNREAD, joined_progress, read_progress


def test_a_partition_holding_records_not_applied_is_read_up_to_nothing() -> None:
    progress = read_progress([1000.0, None, None], [True, False, True], with_records=[0, 1, 2])
    assert progress == [1000.0, UNREAD, None]  # the third applied records without a time


def test_an_empty_partition_is_left_out() -> None:
    assert read_progress([1000.0, None], [True, False], with_records=[0]) == [1000.0, None]


def test_without_a_look_at_the_broker_every_partition_without_progress_is_left_out() -> None:
    assert read_progress([None, 5.0], [False, True], with_records=None) == [None, 5.0]


def test_coverage_judges_nothing_while_a_pings_partition_holding_records_is_unread() -> None:
    assert coverage_watermark(5000.0, [4000.0, UNREAD]) is None
    assert coverage_watermark(5000.0, [4000.0, None]) == 4000.0


def test_a_joined_topic_is_waited_for_only_while_every_partition_has_data() -> None:
    assert joined_progress([300.0, UNREAD]) == UNREAD
    assert joined_progress([300.0, 200.0]) == 200.0
    assert joined_progress([300.0, None]) is None
    assert joined_progress([]) is None
