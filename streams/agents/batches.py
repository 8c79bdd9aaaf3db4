"""Helpers every agent uses to take a batch of raw messages apart."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import faust


def raw_messages(events: Sequence[faust.EventT[Any]]) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) bytes of each event of a batch."""
    return [(event.message.key, event.message.value) for event in events]


def append_latencies(events: Sequence[faust.EventT[Any]]) -> list[float]:
    """Seconds from each message's broker timestamp to now."""
    now = time.time()
    return [now - event.message.timestamp for event in events]
