"""Redis for the bench's measurements (never used by the service): synchronous reads run from
threads or a polling loop beside the worker (key sizes, the server's process, watermarks), and
the writes of the bench's own plain consumer (:class:`LatestValues`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import redis
import redis.asyncio

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


class LatestValues:
    """The latest value of each key in one hash, written one pipeline per batch (one ``HSET``
    per message): the bench's plain-consumer ceiling."""

    def __init__(self, redis_url: str, key: str) -> None:
        self.client = redis.asyncio.Redis.from_url(redis_url)
        self.key = key

    async def store(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        """Set each (key, value) in one round trip."""
        async with self.client.pipeline(transaction=False) as pipe:
            for field, value in pairs:
                pipe.hset(self.key, field, value)
            await pipe.execute()

    async def close(self) -> None:
        """Delete the hash and disconnect."""
        await self.client.delete(self.key)
        await self.client.aclose()
