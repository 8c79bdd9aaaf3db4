"""The consumer's poll size keeps Faust from holding up every topic behind one full buffer."""

from __future__ import annotations

import math

import pytest

from streams.app import create_app, max_poll_records
from streams.settings import Settings

PINGS_PARTITIONS = 4
PRESSURE_HIGH_RATIO = 1.25  # mode.utils.queues.FlowControlQueue: fetching stops past 1/1.25


@pytest.mark.parametrize("buffer_size", [4096, 8000, 20_000])
def test_a_poll_per_pings_partition_fits_in_the_room_left_under_pressure(buffer_size: int) -> None:
    room = buffer_size - math.floor(buffer_size / PRESSURE_HIGH_RATIO)
    assert PINGS_PARTITIONS * max_poll_records(buffer_size) <= room


def test_the_app_polls_at_most_that_many_records() -> None:
    app = create_app(Settings(batch_size=4000, pseudonym_key="k" * 32))
    assert app.conf.stream_buffer_maxsize == 8000
    assert app.conf.broker_max_poll_records == max_poll_records(8000)
