"""The only module that talks to Redis: key layout, Lua scripts and idempotency.

Key layout (``P`` is ``COVERWATCH_KEY_PREFIX``; the ``{...}`` part is a Redis Cluster hash tag,
so every Lua call touches one slot):

| key | type | what |
|---|---|---|
| ``P:{src.N}:wm`` | string | offset watermark of partition N of source topic ``src`` |
| ``P:{directory}:roster`` | hash | issi -> roster entry JSON |
| ``P:{directory}:assignments`` | hash | callsign -> JSON list of area ids of its open incidents |
| ``P:{areas}:features`` | hash | area_id -> GeoJSON Feature JSON |
| ``P:{areas}:version`` | int | bumped on every area change |
| ``P:{clock}:watermark`` | string | the event clock: highest event time seen (event mode) |

Every change an agent makes for one source partition is applied by :data:`APPLY_LUA` in one
call, together with that partition's offset watermark: replaying offsets at or below the
watermark changes nothing, so at-least-once delivery is safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as redis_asyncio

from streams.domain.dose import RollingWindows, minute_buckets
from streams.domain.fixes import Fix
from streams.domain.tracks import DoseAccrued, Fact, MembershipChanged, VisitRecorded
from streams.metrics import Metrics

LOOKUP_LUA = """
local out = {}
for _, issi in ipairs(ARGV) do
  local entry = redis.call('HGET', KEYS[1], issi)
  local assigned = false
  if entry then
    assigned = redis.call('HGET', KEYS[2], cjson.decode(entry)['callsign'])
  end
  out[#out + 1] = entry
  out[#out + 1] = assigned
end
out[#out + 1] = redis.call('GET', KEYS[3]) or '0'
return out
"""

VISIT_DAYS_KEPT = 3
DOSE_WINDOWS = tuple(int(window) for window in RollingWindows)

APPLY_LUA = """
local check = ARGV[1] ~= 'none'
local offset = tonumber(ARGV[1])
if check then
  local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if offset <= current then return 0 end
end
local function split_windows(csv)
  local windows = {}
  for w in string.gmatch(csv, '[^,]+') do windows[#windows + 1] = tonumber(w) end
  return windows
end
-- Windowed sums: minute buckets <family>:m:<minute>, their index <family>:minutes, running
-- window totals <family>:win ("<window>|<field>") and per window the last minute already
-- taken out (<family>:through). A minute m is in the window w at now iff now - w < 60 m <= now.
local function win_add(family, minute, field, amount, csv)
  redis.call('HINCRBYFLOAT', family .. ':m:' .. minute, field, amount)
  redis.call('ZADD', family .. ':minutes', minute, minute)
  for _, w in ipairs(split_windows(csv)) do
    local through = tonumber(redis.call('HGET', family .. ':through', w) or '-1')
    if minute > through then
      redis.call('HINCRBYFLOAT', family .. ':win', w .. '|' .. field, amount)
    end
  end
end
local function win_expire(family, now, csv)
  local windows = split_windows(csv)
  local longest = windows[#windows]
  for _, w in ipairs(windows) do
    local target = math.floor((now - w) / 60)
    local through = tonumber(redis.call('HGET', family .. ':through', w) or '-1')
    if target > through then
      local minutes = redis.call('ZRANGEBYSCORE', family .. ':minutes', '(' .. through, target)
      for _, minute in ipairs(minutes) do
        local bucket = redis.call('HGETALL', family .. ':m:' .. minute)
        for i = 1, #bucket, 2 do
          local amount = -tonumber(bucket[i + 1])
          redis.call('HINCRBYFLOAT', family .. ':win', w .. '|' .. bucket[i], amount)
        end
        if w == longest then
          redis.call('DEL', family .. ':m:' .. minute)
          redis.call('ZREM', family .. ':minutes', minute)
        end
      end
      redis.call('HSET', family .. ':through', w, target)
    end
  end
end
local skip = 0
local ops = cjson.decode(ARGV[2])
for _, op in ipairs(ops) do
  local name = op[1]
  if skip > 0 then skip = skip - 1
  elseif name == 'once' then
    if redis.call('SET', op[2], '1', 'NX', 'EX', op[3]) == false then skip = tonumber(op[4]) end
  elseif name == 'hset' then redis.call('HSET', op[2], op[3], op[4])
  elseif name == 'hdel' then redis.call('HDEL', op[2], op[3])
  elseif name == 'hset_versioned' then
    if redis.call('HGET', op[2], op[3]) ~= op[4] then
      redis.call('HSET', op[2], op[3], op[4])
      redis.call('INCR', op[5])
    end
  elseif name == 'hdel_versioned' then
    if redis.call('HDEL', op[2], op[3]) == 1 then redis.call('INCR', op[4]) end
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
  elseif name == 'expire' then redis.call('EXPIRE', op[2], op[3])
  elseif name == 'hincrby' then redis.call('HINCRBY', op[2], op[3], op[4])
  elseif name == 'zadd' then redis.call('ZADD', op[2], op[3], op[4])
  elseif name == 'zrem' then redis.call('ZREM', op[2], op[3])
  elseif name == 'zremrangebyscore' then redis.call('ZREMRANGEBYSCORE', op[2], '-inf', op[3])
  elseif name == 'win_add' then win_add(op[2], tonumber(op[3]), op[4], op[5], op[6])
  elseif name == 'win_expire' then win_expire(op[2], tonumber(op[3]), op[4])
  else return redis.error_reply('unknown op ' .. tostring(name))
  end
end
if check then redis.call('SET', KEYS[1], offset) end
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

    def hset_versioned(self, key: str, name: str, value: str, version_key: str) -> None:
        """Set a hash field and bump ``version_key``, only if the value differs."""
        self.ops.append(["hset_versioned", key, name, value, version_key])

    def hdel_versioned(self, key: str, name: str, version_key: str) -> None:
        """Delete a hash field and bump ``version_key``, only if it existed."""
        self.ops.append(["hdel_versioned", key, name, version_key])

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

    def once(self, key: str, ttl_s: int, following: int) -> None:
        """Skip the ``following`` ops if ``key`` was set before (content idempotency)."""
        self.ops.append(["once", key, str(ttl_s), str(following)])

    def hincrby(self, key: str, name: str, amount: int) -> None:
        """Add an integer to a hash field."""
        self.ops.append(["hincrby", key, name, str(amount)])

    def zadd(self, key: str, score: float, member: str) -> None:
        """Add a scored member."""
        self.ops.append(["zadd", key, repr(score), member])

    def zrem(self, key: str, member: str) -> None:
        """Remove a member."""
        self.ops.append(["zrem", key, member])

    def zremrangebyscore(self, key: str, max_score: float) -> None:
        """Remove members scored at most ``max_score``."""
        self.ops.append(["zremrangebyscore", key, repr(max_score)])

    def win_add(
        self, family: str, minute: int, name: str, amount: float, windows: Sequence[int]
    ) -> None:
        """Add to a minute bucket and to every rolling window that still holds that minute."""
        csv = ",".join(str(w) for w in sorted(windows))
        self.ops.append(["win_add", family, str(minute), name, repr(amount), csv])

    def win_expire(self, family: str, now: float, windows: Sequence[int]) -> None:
        """Take minutes that left each rolling window at ``now`` out of its total (idempotent).

        A minute ``m`` is in the window ``w`` at ``now`` iff ``now - w < 60 m <= now`` (the rule
        of :mod:`streams.domain.demand`); minutes ahead of now (clock skew) count at once.
        """
        csv = ",".join(str(w) for w in sorted(windows))
        self.ops.append(["win_expire", family, repr(now), csv])


@dataclass(frozen=True, slots=True)
class PartitionCommit:
    """The changes of one batch for one source partition, up to ``last_offset``.

    ``last_offset`` None: clock-driven changes that move no watermark (applied unconditionally;
    they are idempotent because the track state they derive from is written with them).
    """

    source: str
    partition: int
    last_offset: int | None
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
        return self.key("directory", "roster")

    @property
    def assignments_key(self) -> str:
        """Hash callsign -> JSON list of area ids of the open incidents it is assigned to."""
        return self.key("directory", "assignments")

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
                    args=[
                        "none" if commit.last_offset is None else commit.last_offset,
                        orjson.dumps(commit.changes.ops),
                    ],
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

    # -- presence (one slice per airwave.pings partition) -------------------------------------

    def pings_slice(self, partition: int) -> str:
        """Key prefix of everything derived from one ``airwave.pings`` partition (one slot)."""
        return self.key(f"airwave.pings.{partition}")

    async def lookup(
        self, issis: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, frozenset[str]], int]:
        """For each radio: its roster entry (None if unknown) and the areas of the open incidents
        its callsign is assigned to; plus the area version. One round trip."""
        script = self.redis.register_script(LOOKUP_LUA)
        reply = await script(
            keys=[self.roster_key, self.assignments_key, self.area_version_key], args=list(issis)
        )
        self.metrics.round_trip("lookup")
        roster: dict[str, dict[str, Any] | None] = {}
        assigned: dict[str, frozenset[str]] = {}
        for index, issi in enumerate(issis):
            entry, areas = reply[2 * index], reply[2 * index + 1]
            roster[issi] = None if entry is None else orjson.loads(entry)
            assigned[issi] = frozenset(orjson.loads(areas)) if areas else frozenset()
        return roster, assigned, int(reply[-1])

    async def load_tracks(self, partition: int) -> tuple[int, dict[str, bytes]]:
        """One partition's offset watermark and stored tracks (issi -> JSON)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.watermark_key("airwave.pings", partition))
            pipe.hgetall(self.pings_slice(partition) + ":tracks")
            watermark, tracks = await pipe.execute()
        self.metrics.round_trip("load_tracks")
        return -1 if watermark is None else int(watermark), {
            k.decode(): v for k, v in tracks.items()
        }

    def record_presence(
        self,
        changes: Changes,
        partition: int,
        facts: Iterable[Fact],
        visit_values: Mapping[str, tuple[str, dict[str, object]]],
        tracks: Mapping[str, object],
        last_fixes: Mapping[str, tuple[Fix, dict[str, object]]],
        now: float,
    ) -> None:
        """The Redis changes of one partition's presence facts.

        ``visit_values``: visit_id -> (local day, published value); ``tracks``: issi -> stored
        track; ``last_fixes``: issi -> (latest accepted fix, what to show about it).
        """
        slot = self.pings_slice(partition)
        changes.win_expire(slot + ":dose", now, DOSE_WINDOWS)
        for fact in facts:
            if isinstance(fact, MembershipChanged):
                field = f"{fact.area_id}|{fact.issi}"
                if fact.present:
                    changes.hset(slot + ":present", field, f"{fact.role}|{fact.mode}")
                else:
                    changes.hdel(slot + ":present", field)
            elif isinstance(fact, DoseAccrued):
                self._record_dose(changes, slot, fact)
            elif isinstance(fact, VisitRecorded):
                visit = fact.visit
                if visit.qualifying and visit.status != "retracted":
                    changes.hmax(slot + ":lastq", visit.area_id, visit.start + visit.seconds)
        for visit_id, (day, value) in visit_values.items():
            changes.hset(f"{slot}:visits:{day}", visit_id, orjson.dumps(value).decode())
            changes.expire(f"{slot}:visits:{day}", VISIT_DAYS_KEPT * 86400)
        for issi, track in tracks.items():
            changes.hset(slot + ":tracks", issi, orjson.dumps(track).decode())
        for issi, (fix, shown) in last_fixes.items():
            changes.geoadd(slot + ":geo", fix.lon, fix.lat, issi)
            changes.hset(slot + ":lastfix", issi, orjson.dumps(shown).decode())
            changes.max(slot + ":feed", fix.ts)

    @staticmethod
    def _record_dose(changes: Changes, slot: str, dose: DoseAccrued) -> None:
        for (area_id, minute, role, mode, activity), seconds in minute_buckets(dose).items():
            split = f"{area_id}|{role}|{mode}|{activity}"
            changes.win_add(slot + ":dose", minute, split, seconds, DOSE_WINDOWS)

    async def presence_view(self, partitions: int, days: Sequence[str]) -> PresenceView:
        """Presence, dose windows, last qualifying visits and the given days' visits, merged
        over every ``airwave.pings`` partition. One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                slot = self.pings_slice(partition)
                pipe.hgetall(slot + ":present")
                pipe.hgetall(slot + ":dose:win")
                pipe.hgetall(slot + ":lastq")
                pipe.get(slot + ":feed")
                for day in days:
                    pipe.hgetall(f"{slot}:visits:{day}")
            replies = await pipe.execute()
        self.metrics.round_trip("presence_view")
        view = PresenceView()
        per_partition = 4 + len(days)
        for partition in range(partitions):
            present, windows, lastq, feed, *visits = replies[
                partition * per_partition : (partition + 1) * per_partition
            ]
            view.add(present, windows, lastq, feed, visits)
        return view

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


@dataclass
class PresenceView:
    """Presence state merged over partitions, as raw numbers for the domain to shape."""

    present: dict[str, dict[str, str]] = field(default_factory=dict)
    """area_id -> issi -> "role|mode"."""
    dose_windows: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    """window seconds -> area_id -> "role|mode|activity" -> officer-seconds."""
    last_qualifying_end: dict[str, float] = field(default_factory=dict)
    feed_last_fix: float | None = None
    visits: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        present: Mapping[bytes, bytes],
        windows: Mapping[bytes, bytes],
        lastq: Mapping[bytes, bytes],
        feed: bytes | None,
        visits: Sequence[Mapping[bytes, bytes]],
    ) -> None:
        """Merge one partition's replies."""
        for field_name, value in present.items():
            area_id, issi = field_name.decode().split("|", 1)
            self.present.setdefault(area_id, {})[issi] = value.decode()
        for field_name, value in windows.items():
            window, area_id, split = field_name.decode().split("|", 2)
            by_area = self.dose_windows.setdefault(int(window), {}).setdefault(area_id, {})
            by_area[split] = by_area.get(split, 0.0) + float(value)
        for area_key, end in lastq.items():
            area = area_key.decode()
            self.last_qualifying_end[area] = max(
                self.last_qualifying_end.get(area, 0.0), float(end)
            )
        if feed is not None:
            self.feed_last_fix = max(self.feed_last_fix or 0.0, float(feed))
        for day in visits:
            self.visits.extend(orjson.loads(value) for value in day.values())
