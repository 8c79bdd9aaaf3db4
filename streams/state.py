"""The only module that talks to Redis: key layout, Lua scripts and idempotency.

Key layout (``P`` is ``COVERWATCH_KEY_PREFIX``; the ``{...}`` part is a Redis Cluster hash tag,
so every Lua call touches one slot):

| key | type | what |
|---|---|---|
| ``P:{src.N}:wm`` | string | offset watermark of partition N of source topic ``src`` |
| ``P:{roster}:entries`` | hash | issi -> roster entry JSON |
| ``P:{areas}:features`` | hash | area_id -> GeoJSON Feature JSON |
| ``P:{areas}:version`` | int | bumped on every area change |
| ``P:{clock}:watermark`` | string | the event clock: highest event time seen (event mode) |

Every change an agent makes for one source partition is applied by :data:`APPLY_LUA` in one
call, together with that partition's offset watermark: replaying offsets at or below the
watermark changes nothing, so at-least-once delivery is safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
import redis.asyncio as redis_asyncio

from streams.metrics import Metrics

APPLY_LUA = """
local offset = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if offset <= current then return 0 end
local ops = cjson.decode(ARGV[2])
for _, op in ipairs(ops) do
  local name = op[1]
  if name == 'hset' then redis.call('HSET', op[2], op[3], op[4])
  elseif name == 'hdel' then redis.call('HDEL', op[2], op[3])
  elseif name == 'incr' then redis.call('INCR', op[2])
  elseif name == 'hincrbyfloat' then redis.call('HINCRBYFLOAT', op[2], op[3], op[4])
  elseif name == 'hmax' then
    local found = redis.call('HGET', op[2], op[3])
    if (not found) or tonumber(op[4]) > tonumber(found) then
      redis.call('HSET', op[2], op[3], op[4])
    end
  elseif name == 'max' then
    local found = redis.call('GET', op[2])
    if (not found) or tonumber(op[3]) > tonumber(found) then redis.call('SET', op[2], op[3]) end
  elseif name == 'geoadd' then redis.call('GEOADD', op[2], op[3], op[4], op[5])
  elseif name == 'zrem' then redis.call('ZREM', op[2], op[3])
  elseif name == 'zadd' then redis.call('ZADD', op[2], op[3], op[4])
  elseif name == 'expire' then redis.call('EXPIRE', op[2], op[3])
  else return redis.error_reply('unknown op ' .. tostring(name))
  end
end
redis.call('SET', KEYS[1], offset)
return 1
"""


@dataclass
class Changes:
    """Redis changes for one source partition, applied atomically with its offset watermark."""

    ops: list[list[str]] = field(default_factory=list)

    def hset(self, key: str, name: str, value: str) -> None:
        """Set one hash field."""
        self.ops.append(["hset", key, name, value])

    def hdel(self, key: str, name: str) -> None:
        """Delete one hash field."""
        self.ops.append(["hdel", key, name])

    def incr(self, key: str) -> None:
        """Increment an integer key."""
        self.ops.append(["incr", key])

    def hincrbyfloat(self, key: str, name: str, amount: float) -> None:
        """Add ``amount`` (may be negative) to a hash field."""
        self.ops.append(["hincrbyfloat", key, name, repr(amount)])

    def hmax(self, key: str, name: str, value: float) -> None:
        """Raise a hash field to ``value`` if it is lower or missing."""
        self.ops.append(["hmax", key, name, repr(value)])

    def max(self, key: str, value: float) -> None:
        """Raise a string key to ``value`` if it is lower or missing."""
        self.ops.append(["max", key, repr(value)])

    def geoadd(self, key: str, lon: float, lat: float, member: str) -> None:
        """Set a member's position in a GEO set."""
        self.ops.append(["geoadd", key, repr(lon), repr(lat), member])

    def expire(self, key: str, seconds: int) -> None:
        """Expire a key after ``seconds``."""
        self.ops.append(["expire", key, str(seconds)])


@dataclass(frozen=True, slots=True)
class PartitionCommit:
    """The changes of one batch for one source partition, up to ``last_offset``."""

    source: str
    partition: int
    last_offset: int
    changes: Changes


class State:
    """Live state in Redis for one worker process."""

    def __init__(self, redis_url: str, key_prefix: str, metrics: Metrics) -> None:
        self.redis: redis_asyncio.Redis = redis_asyncio.Redis.from_url(redis_url)
        self.prefix = key_prefix
        self.metrics = metrics
        self._apply = self.redis.register_script(APPLY_LUA)

    def key(self, tag: str, *parts: str) -> str:
        """A key in hash-tag slot ``tag`` under this deployment's prefix."""
        return ":".join((self.prefix, "{" + tag + "}", *parts))

    def watermark_key(self, source: str, partition: int) -> str:
        """The offset watermark of one source partition."""
        return self.key(f"{source}.{partition}", "wm")

    @property
    def roster_key(self) -> str:
        """Hash issi -> roster entry JSON."""
        return self.key("roster", "entries")

    @property
    def area_features_key(self) -> str:
        """Hash area_id -> GeoJSON Feature JSON."""
        return self.key("areas", "features")

    @property
    def area_version_key(self) -> str:
        """Counter bumped on every area change."""
        return self.key("areas", "version")

    @property
    def clock_key(self) -> str:
        """The event clock's watermark (seconds since the epoch)."""
        return self.key("clock", "watermark")

    async def commit(self, commits: Sequence[PartitionCommit]) -> list[bool]:
        """Apply each partition's changes with its watermark, all in one round trip.

        Returns, per commit, whether it was applied (False: already applied before).
        """
        if not commits:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for commit in commits:
                await self._apply(
                    keys=[self.watermark_key(commit.source, commit.partition)],
                    args=[commit.last_offset, orjson.dumps(commit.changes.ops)],
                    client=pipe,
                )
            results = await pipe.execute()
        self.metrics.round_trip("commit")
        return [bool(result) for result in results]

    async def watermarks(self, source: str, partitions: Iterable[int]) -> dict[int, int]:
        """The applied-offset watermark of each partition (-1 when none)."""
        wanted = sorted(set(partitions))
        values = await self.redis.mget([self.watermark_key(source, p) for p in wanted])
        self.metrics.round_trip("watermarks")
        return {p: -1 if v is None else int(v) for p, v in zip(wanted, values, strict=True)}

    async def areas(self) -> tuple[int, dict[str, bytes]]:
        """The area version and every area's Feature JSON."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.area_version_key)
            pipe.hgetall(self.area_features_key)
            version, features = await pipe.execute()
        self.metrics.round_trip("areas")
        return int(version or 0), {k.decode(): v for k, v in features.items()}

    async def area_version(self) -> int:
        """The current area version."""
        value = await self.redis.get(self.area_version_key)
        self.metrics.round_trip("area_version")
        return int(value or 0)

    async def event_clock(self) -> float | None:
        """The stored event-clock watermark, if any."""
        value = await self.redis.get(self.clock_key)
        self.metrics.round_trip("clock")
        return None if value is None else float(value)

    async def ready(self) -> bool:
        """Whether Redis answers."""
        try:
            answer = await self.redis.ping()
        except (redis_asyncio.ConnectionError, redis_asyncio.TimeoutError, OSError):
            return False
        self.metrics.round_trip("ping")
        return bool(answer)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()
