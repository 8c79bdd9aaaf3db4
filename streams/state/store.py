"""The connection every family of state shares: the Redis client, the key prefix, the metrics,
and what is common to all of them (slots, applying :class:`~streams.state.changes.Changes` with
their watermarks, reading counters, whether Redis answers).

Each family of state is a subclass of :class:`Store` in a module of its own
(:mod:`~streams.state.presence`, :mod:`~streams.state.directory`, ...); :class:`State`
(:mod:`streams.state.facade`) composes them for a worker process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import cast

import orjson
import redis.asyncio as redis_asyncio
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams import topics
from streams.metrics import PipelineMetrics
from streams.state import keys as layout
from streams.state.changes import PartitionCommit
from streams.state.scripts import APPLY_LUA, RELEASE_LUA, UPGRADE_WINDOWS_LUA

STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
)
"""The errors of a Redis that does not answer (down, unreachable, too slow) or, for a Redis
Cluster, that cannot serve a slot now (``CLUSTERDOWN`` while a master is lost, ``TRYAGAIN``
while slots move, no node for a slot): a failure of the infrastructure, not of a message, for
callers to catch without importing redis."""


NOT_ANSWERING: tuple[type[Exception], ...] = (*STORE_UNAVAILABLE, OSError)
"""What a ping of a Redis that does not answer raises."""

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""URL schemes of a Redis Cluster (``redis+cluster://host:port``: any node of it), and the
scheme of each node's own URL."""


def connect(redis_url: str) -> redis_asyncio.Redis:
    """A client of the Redis at ``redis_url``: one server, or with a ``+cluster`` scheme a Redis
    Cluster, whose client sends each command to the node that serves its key's slot. The cluster
    client is typed as the single-server one: it answers every command the state sends in the
    same way (every multi-key command and script keeps to one hash tag, ``streams.state.keys``),
    which the chaos suite's ``redis-cluster`` scenario checks end to end."""
    scheme, _, rest = redis_url.partition("://")
    node_scheme = CLUSTER_SCHEMES.get(scheme)
    if node_scheme is not None:
        return cast("redis_asyncio.Redis", RedisCluster.from_url(f"{node_scheme}://{rest}"))
    return redis_asyncio.Redis.from_url(redis_url)


class Store:
    """Live state in Redis under one key prefix: the base of every family of state."""

    def __init__(self, redis_url: str, key_prefix: str, metrics: PipelineMetrics) -> None:
        self.redis: redis_asyncio.Redis = connect(redis_url)
        self.cluster = isinstance(self.redis, RedisCluster)
        """Whether the store is a Redis Cluster."""
        self.prefix = key_prefix
        self.keys = layout.Keys(key_prefix)
        self.metrics = metrics
        self._apply = self.redis.register_script(APPLY_LUA)
        self._release = self.redis.register_script(RELEASE_LUA)

    def key(self, tag: str, *parts: str) -> str:
        """A key in hash-tag slot ``tag`` under this deployment's prefix."""
        return ":".join((self.prefix, "{" + tag + "}", *parts))

    def slot(self, source: str, partition: int) -> str:
        """Key prefix of everything derived from one partition of ``source`` (one slot)."""
        return self.keys.partition_slot(source, partition)

    def watermark_key(self, source: str, partition: int) -> str:
        """The offset watermark of one source partition."""
        return layout.WATERMARK.of(self.slot(source, partition))

    async def commit(self, commits: Sequence[PartitionCommit]) -> list[bool]:
        """Apply each partition's changes with its watermark, all in one round trip.

        Returns, per commit, whether it was applied (False: already applied before).
        """
        applied, _ = await self.commit_and_read(commits, ())
        return applied

    async def commit_and_read(
        self, commits: Sequence[PartitionCommit], keys: Sequence[str]
    ) -> tuple[list[bool], list[bytes | None]]:
        """:meth:`commit`, and the values of ``keys`` right after it, in the same round trip."""
        if not commits and not keys:
            return [], []
        results = await self._apply_and_read(commits, keys)
        unknown = [i for i, result in enumerate(results[: len(commits)]) if _no_script(result)]
        if unknown:  # a cluster node that had not loaded the script (new, restarted, promoted)
            await self.load_scripts()
            again = await self._apply_and_read([commits[i] for i in unknown], ())
            for index, result in zip(unknown, again, strict=True):
                results[index] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        self.metrics.round_trip("commit")
        read = cast("list[bytes | None]", results[len(commits) :])
        return [result == 1 for result in results[: len(commits)]], read

    async def _apply_and_read(
        self, commits: Sequence[PartitionCommit], keys: Sequence[str]
    ) -> list[object]:
        """One pipeline of the commits' scripts and the reads of ``keys``; each one's result or
        error (a commit refused for want of its script did nothing)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for commit in commits:
                slot = self.slot(commit.source, commit.partition)
                await self._apply(
                    keys=[layout.WATERMARK.of(slot), layout.OWNER.of(slot)],
                    args=[
                        "none" if commit.last_offset is None else commit.last_offset,
                        orjson.dumps(commit.changes.ops),
                        b"".join(commit.changes.blobs),
                        "none" if commit.owner is None else commit.owner,
                    ],
                    client=pipe,
                )
            for key in keys:
                pipe.get(key)
            results: list[object] = await pipe.execute(raise_on_error=False)
        return results

    async def load_scripts(self) -> None:
        """Load the scripts run in pipelines on every primary (a single server's pipeline loads
        its scripts itself; a cluster pipeline does not)."""
        for script in (APPLY_LUA, RELEASE_LUA, UPGRADE_WINDOWS_LUA):
            await self.redis.script_load(script)

    async def move_watermarks(self) -> int:
        """Move the watermark of every partition of a :data:`~streams.state.keys.SHARED_TAGS`
        source stored by the layout before, in the partition's own slot, under the shared
        family's tag (run at start; a watermark already there is kept if higher); the number
        moved."""
        moved = 0
        for source in layout.SHARED_TAGS:
            spec = topics.BY_NAME.get(source)
            for partition in range(1 if spec is None else spec.partitions):
                former = layout.WATERMARK.of(self.keys.former_partition_slot(source, partition))
                value = await self.redis.get(former)
                if value is None:
                    continue
                current = await self.redis.get(self.watermark_key(source, partition))
                if current is None or int(current) < int(value):
                    await self.redis.set(self.watermark_key(source, partition), value)
                await self.redis.delete(former)
                moved += 1
        self.metrics.round_trip("upgrade")
        return moved

    async def claim(self, source: str, partitions: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Take ``partitions`` of ``source`` over: bump each one's owner, so that commits
        prepared under an earlier owner are refused. Returns (owner, watermark) of each
        (watermark -1 when none). One round trip."""
        wanted = sorted(set(partitions))
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in wanted:
                slot = self.slot(source, partition)
                pipe.incr(layout.OWNER.of(slot))
                pipe.get(layout.WATERMARK.of(slot))
            results = await pipe.execute()
        self.metrics.round_trip("claim")
        return {
            p: (int(results[2 * i]), -1 if results[2 * i + 1] is None else int(results[2 * i + 1]))
            for i, p in enumerate(wanted)
        }

    async def release(self, source: str, held: Mapping[int, int]) -> None:
        """Let partitions of ``source`` go (partition -> the owner it was held under): bump each
        one's owner if it is still that one, so that commits prepared under it are refused from
        now on (and a batch waiting to be committed under it gives up). One round trip."""
        for attempt in (1, 2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition, owner in sorted(held.items()):
                    owner_key = layout.OWNER.of(self.slot(source, partition))
                    await self._release(keys=[owner_key], args=[owner], client=pipe)
                results = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(_no_script(result) for result in results):
                await self.load_scripts()  # releasing again is harmless: it compares first
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            break
        self.metrics.round_trip("release")

    async def owners(self, source: str, partitions: Iterable[int]) -> dict[int, int | None]:
        """The owner each partition of ``source`` is held under (None: never taken over)."""
        wanted = sorted(set(partitions))
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in wanted:
                pipe.get(layout.OWNER.of(self.slot(source, partition)))
            values: list[bytes | None] = await pipe.execute()
        self.metrics.round_trip("owners")
        return {p: None if v is None else int(v) for p, v in zip(wanted, values, strict=True)}

    async def watermarks(self, source: str, partitions: Iterable[int]) -> dict[int, int]:
        """The applied-offset watermark of each partition (-1 when none)."""
        wanted = sorted(set(partitions))
        async with self.redis.pipeline(transaction=False) as pipe:  # in a cluster, many slots
            for partition in wanted:
                pipe.get(self.watermark_key(source, partition))
            values: list[bytes | None] = await pipe.execute()
        self.metrics.round_trip("watermarks")
        return {p: -1 if v is None else int(v) for p, v in zip(wanted, values, strict=True)}

    async def read_versions(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (version counters). One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            values: list[bytes | None] = await pipe.execute()
        self.metrics.round_trip("versions")
        return values

    async def keys_under_prefix(self) -> AsyncIterator[str]:
        """Every key under this prefix (SCAN: for checks and measurements, not the hot path)."""
        pattern = escape_glob(self.prefix) + ":*"
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            yield cast("bytes", key).decode()

    async def memory_used(self) -> int:
        """Redis's ``used_memory`` (bytes), for measurements."""
        info = await self.redis.info("memory")
        return int(info["used_memory"])

    async def ready(self) -> bool:
        """Whether Redis answers (every master of a Redis Cluster)."""
        everywhere = {"target_nodes": RedisCluster.PRIMARIES} if self.cluster else {}
        try:
            answer = await self.redis.ping(**everywhere)
        except NOT_ANSWERING:
            return False
        self.metrics.round_trip("ping")
        return bool(answer)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


def _no_script(result: object) -> bool:
    """Whether a pipelined command was refused because the server did not know its script."""
    return isinstance(result, NoScriptError)


def escape_glob(text: str) -> str:
    """``text`` with the glob characters of a SCAN MATCH pattern escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
