"""JSON kept in memory for long takes the memory of its length, not of orjson's buffer."""

from __future__ import annotations

import tracemalloc

import orjson

from streams.domain.encoding import kept_json


def test_kept_json_is_orjson_output() -> None:
    value = {"b": [1, 2.5, None], "a": "x"}
    assert kept_json(value) == orjson.dumps(value)
    assert kept_json(value, option=orjson.OPT_SORT_KEYS) == b'{"a":"x","b":[1,2.5,null]}'


def test_a_thousand_kept_values_hold_about_their_length() -> None:
    values = [[index, "2026-12-06T00:00:00Z", 52.48, -1.89] for index in range(1000)]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        kept = [kept_json(value) for value in values]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    length = sum(len(blob) for blob in kept) / len(kept)
    assert (held - before) / len(kept) < length + 100  # orjson's own buffer: >= 4 KB each
