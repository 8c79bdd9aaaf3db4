"""Synchronous reads of a Redis for the bench's measurements (run from threads or a polling
loop beside the worker, never by the service): key sizes, the server's process, watermarks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis

from streams.state import keys as layout
from streams.state.store import escape_glob


def key_sizes(redis_url: str, prefix: str) -> list[tuple[str, int]]:
    """(key, bytes) of every key under ``prefix:`` (MEMORY USAGE with every element counted)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{escape_glob(prefix)}:*", count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=0)
        sizes = pipe.execute()
    finally:
        client.close()
    return [(key.decode(), int(size or 0)) for key, size in zip(keys, sizes, strict=True)]


def server_pid(redis_url: str) -> int:
    """The process id of the Redis server."""
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def watermark_reader(
    redis_url: str, prefix: str, partitions: Sequence[tuple[str, int]]
) -> Callable[[], list[int | None]]:
    """A function that reads the applied-offset watermark of each (source, partition), None
    where there is none (one MGET per call, on a connection of its own)."""
    client = redis.Redis.from_url(redis_url)
    keys = layout.Keys(prefix)
    wanted = [layout.WATERMARK.of(keys.partition_slot(s, p)) for s, p in partitions]

    def read() -> list[int | None]:
        return [None if value is None else int(value) for value in client.mget(wanted)]

    return read
