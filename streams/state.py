"""The only module that talks to Redis: key layout, Lua scripts and idempotency.

Key layout (``P`` is ``COVERWATCH_KEY_PREFIX``; the ``{...}`` part is a Redis Cluster hash tag,
so every Lua call touches one slot):

| key | type | what |
|---|---|---|
| ``P:{src.N}:wm`` | string | offset watermark of partition N of source topic ``src`` |
| ``P:{directory}:roster`` | hash | issi -> roster entry JSON |
| ``P:{directory}:roster_history`` | hash | issi -> the radio's latest roster versions (3) |
| ``P:{directory}:roster_version`` | int | bumped on every roster change |
| ``P:{cad.incidents.N}:assigned`` | hash | "callsign|incident_id" -> assignment interval JSON (1) |
| ``P:{cad.incidents.N}:assigned_closed`` | zset | closed "callsign|incident_id", by end (2) |
| ``P:{cad.incidents.N}:assigned_version`` | int | bumped on every change of ``assigned`` |
| ``P:{cad.incidents.N}:progress`` | string | latest ``ts`` of its incidents and heartbeats (4) |
| ``P:{areas}:features`` | hash | area_id -> GeoJSON Feature JSON |
| ``P:{areas}:version`` | int | bumped on every area change |
| ``P:{clock}:watermark`` | string | the event clock: highest event time seen (event mode) |

(1) ``{"areas": [...], "since": ts, "until": ts or null}``: the callsign is committed to the
incident's areas from ``since`` until ``until`` (null: still open). A JSON list of area ids
(stored by an earlier version) is committed from the beginning and still open.
(2) A closed interval is pruned (from both keys) once it ended more than
``COVERWATCH_MAX_AGE_S`` before the clock.
(3) Lines ``since<TAB>entry JSON`` sorted by ``since`` (the entry's ``ts``; empty: from the
beginning), at most :data:`~streams.domain.joins.ROSTER_VERSIONS_KEPT`, one per ``since``.
(4) The partition's event-time progress (incident events and in-band heartbeats), written in
the same call as the assignments it covers: the pings wait for it on the event clock. 0 after
``coverwatch rebuild`` on a partition with records not read again yet.

Every change an agent makes for one source partition is applied by :data:`APPLY_LUA` in one
call, together with that partition's offset watermark: replaying offsets at or below the
watermark changes nothing, so at-least-once delivery is safe.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import redis.asyncio as redis_asyncio

from streams.domain.dayvisits import DayVisits, add_summary_field, visit_part
from streams.domain.demand import (
    DEMAND_WINDOWS,
    BucketChange,
    ResponseSampleChange,
)
from streams.domain.dose import RollingWindows, minute_buckets
from streams.domain.fixes import Fix
from streams.domain.joins import BEGINNING, ROSTER_VERSIONS_KEPT, Assignment, RosterVersion
from streams.domain.judging import VisitHistory
from streams.domain.ticks import stored_clock
from streams.domain.tracks import DoseAccrued, Fact, MembershipChanged, Visit, VisitRecorded
from streams.domain.validation import Rejected
from streams.metrics import PipelineMetrics

log = logging.getLogger(__name__)

LEAD_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

FORGET_IF_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

ROSTER_ENTRIES_CACHED = 200_000
"""Parsed roster entries kept by their stored value (cleared when more: changed entries)."""

VISIT_DAYS_KEPT = 3
QUALIFYING_ENDS_KEPT_S = 2 * 86400.0
"""How far before an area's latest qualifying visit end the earlier ends are kept (for coverage
judged at a watermark behind the latest)."""
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
-- Windowed sums: minute buckets <family>:m:<minute>, their index <family>:minutes, the total of
-- every amount ever added (<family>:total, by field) and per window the amounts that have left it
-- (<family>:out, "<window>|<field>") with the last minute already taken out (<family>:through).
-- A window's sum is total - out. A minute m is in the window w at now iff now - w < 60 m <= now.
-- State written before windows were kept as total - out held running window sums in
-- <family>:win ("<window>|<field>"); it is turned into total and out once, keeping every sum.
local function win_upgrade(family, windows)
  if redis.call('EXISTS', family .. ':win') == 0 then return end
  local longest = windows[#windows]
  local sums, by_field = redis.call('HGETALL', family .. ':win'), {}
  for i = 1, #sums, 2 do
    local w, field = string.match(sums[i], '^(%d+)|(.*)$')
    by_field[field] = by_field[field] or {}
    by_field[field][tonumber(w)] = tonumber(sums[i + 1])
  end
  local totals, stored = redis.call('HGETALL', family .. ':total'), {}
  for i = 1, #totals, 2 do
    stored[totals[i]] = tonumber(totals[i + 1])
    by_field[totals[i]] = by_field[totals[i]] or {}
  end
  for field, sum in pairs(by_field) do
    local total = stored[field]
    if total == nil then
      total = sum[longest] or 0
      redis.call('HSET', family .. ':total', field, string.format('%.17g', total))
    end
    for _, w in ipairs(windows) do
      local out = string.format('%.17g', total - (sum[w] or 0))
      redis.call('HSET', family .. ':out', w .. '|' .. field, out)
    end
  end
  redis.call('DEL', family .. ':win')
end
local function win_add(family, csv, entries)
  local windows = split_windows(csv)
  win_upgrade(family, windows)
  local through = {}
  for _, w in ipairs(windows) do
    through[w] = tonumber(redis.call('HGET', family .. ':through', w) or '-1')
  end
  local newest_out, oldest_out = through[windows[1]], through[windows[#windows]]
  local totals, order, buckets = {}, {}, {}
  local outs, out_order = {}, {}
  for i = 1, #entries, 3 do
    local minute, field, amount = tonumber(entries[i]), entries[i + 1], tonumber(entries[i + 2])
    if totals[field] == nil then
      totals[field] = 0
      order[#order + 1] = field
    end
    totals[field] = totals[field] + amount
    if minute > oldest_out then
      local bucket = buckets[minute]
      if not bucket then
        bucket = family .. ':m:' .. minute
        buckets[minute] = bucket
        redis.call('ZADD', family .. ':minutes', minute, minute)
      end
      redis.call('HINCRBYFLOAT', bucket, field, entries[i + 2])
    end
    if minute <= newest_out then
      for _, w in ipairs(windows) do
        if minute <= through[w] then
          local out = w .. '|' .. field
          if outs[out] == nil then
            outs[out] = 0
            out_order[#out_order + 1] = out
          end
          outs[out] = outs[out] + amount
        end
      end
    end
  end
  for _, field in ipairs(order) do
    redis.call('HINCRBYFLOAT', family .. ':total', field, string.format('%.17g', totals[field]))
  end
  for _, out in ipairs(out_order) do
    redis.call('HINCRBYFLOAT', family .. ':out', out, string.format('%.17g', outs[out]))
  end
end
local function win_expire(family, now, csv)
  local windows = split_windows(csv)
  win_upgrade(family, windows)
  local longest = windows[#windows]
  for _, w in ipairs(windows) do
    local target = math.floor((now - w) / 60)
    local through = tonumber(redis.call('HGET', family .. ':through', w) or '-1')
    if target > through then
      local minutes = redis.call('ZRANGEBYSCORE', family .. ':minutes', '(' .. through, target)
      for _, minute in ipairs(minutes) do
        local bucket = redis.call('HGETALL', family .. ':m:' .. minute)
        for i = 1, #bucket, 2 do
          redis.call('HINCRBYFLOAT', family .. ':out', w .. '|' .. bucket[i], bucket[i + 1])
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
-- A day's visits summarised as they are written (streams.domain.dayvisits): each visit's part
-- (area|live|drive_through|role|mode|activity|seconds|qualifying|start|end) is kept by visit id
-- in <parts>, and a new revision takes the old part out of <summary> and puts the new one in.
local function visit_count(summary, id, part, sign)
  local area, live, dt, split, seconds, q, start, finish = string.match(part,
    '^([^|]*)|(%d)|(%d)|([^|]*|[^|]*|[^|]*)|([^|]*)|(%d)|([^|]*)|([^|]*)$')
  if live ~= '1' then return end
  if dt == '1' then redis.call('HINCRBY', summary, area .. '|dt', sign) end
  redis.call('HINCRBYFLOAT', summary, area .. '|d|' .. split,
    string.format('%.17g', sign * tonumber(seconds)))
  if q == '1' then
    if sign > 0 then redis.call('HSET', summary, area .. '|q|' .. id, start .. '|' .. finish)
    else redis.call('HDEL', summary, area .. '|q|' .. id) end
  end
end
local function visit_put(summary, parts, id, part)
  local old = redis.call('HGET', parts, id)
  if old == part then return end
  if old then visit_count(summary, id, old, -1)
  else redis.call('HINCRBY', summary, string.match(part, '^[^|]*') .. '|n', 1) end
  visit_count(summary, id, part, 1)
  redis.call('HSET', parts, id, part)
end
-- Visits stored before the summary was kept: summarised from their JSON on the day's first write.
local function visits_upgrade(visits, parts, summary)
  if redis.call('EXISTS', parts) == 1 then return end
  local stored = redis.call('HGETALL', visits)
  for i = 1, #stored, 2 do
    local v = cjson.decode(stored[i + 1])
    local finish = v['end']
    if type(finish) ~= 'string' then finish = '' end
    visit_put(summary, parts, stored[i], table.concat({
      v.area_id, v.status == 'retracted' and '0' or '1', v.drive_through and '1' or '0',
      v.role, v.mode, v.activity, string.format('%.17g', v.seconds),
      v.qualifying and '1' or '0', v.start, finish}, '|'))
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
  elseif name == 'visits' then
    visits_upgrade(op[2], op[3], op[4])
    for i, id in ipairs(op[5]) do visit_put(op[4], op[3], id, op[6][i]) end
  elseif name == 'hset_blobs' then
    local names, position, lengths = op[3], tonumber(op[4]), op[5]
    for i = 1, #names, 500 do
      local args = {}
      for j = i, math.min(i + 499, #names) do
        local length = tonumber(lengths[j])
        args[#args + 1] = names[j]
        args[#args + 1] = string.sub(ARGV[3], position, position + length - 1)
        position = position + length
      end
      redis.call('HSET', op[2], unpack(args))
    end
  elseif name == 'hdel' then redis.call('HDEL', op[2], op[3])
  elseif name == 'hset_versioned' then
    if redis.call('HGET', op[2], op[3]) ~= op[4] then
      redis.call('HSET', op[2], op[3], op[4])
      redis.call('INCR', op[5])
    end
  elseif name == 'hdel_versioned' then
    if redis.call('HDEL', op[2], op[3]) == 1 then redis.call('INCR', op[4]) end
  elseif name == 'hmax' then
    local found = redis.call('HGET', op[2], op[3])
    if (not found) or tonumber(op[4]) > tonumber(found) then
      redis.call('HSET', op[2], op[3], op[4])
    end
  elseif name == 'max' then
    local found = tonumber(redis.call('GET', op[2]) or '')
    if (not found) or tonumber(op[3]) > found then redis.call('SET', op[2], op[3]) end
  elseif name == 'geoadd' then
    local points = op[3]
    for i = 1, #points, 1500 do
      redis.call('GEOADD', op[2], unpack(points, i, math.min(i + 1499, #points)))
    end
  elseif name == 'expire' then redis.call('EXPIRE', op[2], op[3])
  elseif name == 'require' then
    if redis.call('GET', op[2]) ~= op[3] then return -1 end
  elseif name == 'hsetnx' then redis.call('HSETNX', op[2], op[3], op[4])
  elseif name == 'sadd' then redis.call('SADD', op[2], op[3])
  elseif name == 'srem' then redis.call('SREM', op[2], op[3])
  elseif name == 'lpush_trim' then
    redis.call('LPUSH', op[2], op[3])
    redis.call('LTRIM', op[2], 0, tonumber(op[4]) - 1)
  elseif name == 'hincrby' then redis.call('HINCRBY', op[2], op[3], op[4])
  elseif name == 'count_keys' then
    -- op: counts hash, member -> keys hash, member, the keys it counts in now. The counts move
    -- by the difference from the keys stored for the member, which are replaced (a count that
    -- reaches zero is removed): each count is the number of members in it, whatever is repeated.
    local before = redis.call('HGET', op[3], op[4]) or ''
    local after = table.concat(op[5], ',')
    if before ~= after then
      local delta = {}
      for key in string.gmatch(before, '[^,]+') do delta[key] = (delta[key] or 0) - 1 end
      for _, key in ipairs(op[5]) do delta[key] = (delta[key] or 0) + 1 end
      for key, amount in pairs(delta) do
        if amount ~= 0 and redis.call('HINCRBY', op[2], key, amount) <= 0 then
          redis.call('HDEL', op[2], key)
        end
      end
      if after == '' then
        redis.call('HDEL', op[3], op[4])
      else
        redis.call('HSET', op[3], op[4], after)
      end
    end
  elseif name == 'rebuild_counts' then
    -- op: counts hash, member -> keys hash, marker, flat (member, "key,key") list. Unless the
    -- marker is set: both hashes rebuilt from the list alone, and the marker set.
    if redis.call('EXISTS', op[4]) == 0 then
      redis.call('DEL', op[2], op[3])
      local members = op[5]
      for i = 1, #members, 2 do
        redis.call('HSET', op[3], members[i], members[i + 1])
        for key in string.gmatch(members[i + 1], '[^,]+') do
          redis.call('HINCRBY', op[2], key, 1)
        end
      end
      redis.call('SET', op[4], '1')
    end
  elseif name == 'prune_scored' then
    -- op: zset, hash, version key, max score: members scored at most max score leave the zset
    -- and their fields the hash; the version is bumped if any field left.
    local members = redis.call('ZRANGEBYSCORE', op[2], '-inf', op[5])
    if #members > 0 then
      local removed = 0
      for i = 1, #members, 500 do
        local last = math.min(i + 499, #members)
        removed = removed + redis.call('HDEL', op[3], unpack(members, i, last))
      end
      redis.call('ZREMRANGEBYSCORE', op[2], '-inf', op[5])
      if removed > 0 then redis.call('INCR', op[4]) end
    end
  elseif name == 'roster_version' then
    -- op: history hash, field, since ('' = from the beginning), entry, versions kept, version
    -- key. The field holds lines "since<TAB>entry" sorted by since: the new version replaces one
    -- at the same since, only the latest kept remain, and the version is bumped on a change.
    local function since_of(text)
      if text == '' then return -math.huge end
      return tonumber(text)
    end
    local stored = redis.call('HGET', op[2], op[3]) or ''
    local since = since_of(op[4])
    local versions = {}
    for line in string.gmatch(stored, '[^\\n]+') do
      local at = since_of(string.sub(line, 1, string.find(line, '\\t', 1, true) - 1))
      if at ~= since then versions[#versions + 1] = {at, line} end
    end
    versions[#versions + 1] = {since, op[4] .. '\\t' .. op[5]}
    table.sort(versions, function(a, b) return a[1] < b[1] end)
    local lines = {}
    for i = math.max(1, #versions - tonumber(op[6]) + 1), #versions do
      lines[#lines + 1] = versions[i][2]
    end
    local after = table.concat(lines, '\\n')
    if after ~= stored then
      redis.call('HSET', op[2], op[3], after)
      redis.call('INCR', op[7])
    end
  elseif name == 'zadd' then redis.call('ZADD', op[2], op[3], op[4])
  elseif name == 'zmax' then redis.call('ZADD', op[2], 'GT', op[3], op[4])
  elseif name == 'zrem' then redis.call('ZREM', op[2], op[3])
  elseif name == 'zremrangebyscore' then redis.call('ZREMRANGEBYSCORE', op[2], '-inf', op[3])
  elseif name == 'win_add' then win_add(op[2], op[3], op[4])
  elseif name == 'win_expire' then win_expire(op[2], tonumber(op[3]), op[4])
  else return redis.error_reply('unknown op ' .. tostring(name))
  end
end
if check then redis.call('SET', KEYS[1], offset) end
return 1
"""


@dataclass
class Changes:
    """Redis changes for one source partition, applied atomically with its offset watermark.

    ``blobs`` are values passed to the script as they are, back to back in one argument (JSON
    documents would otherwise be escaped again inside the JSON list of ops, and the client packs
    each argument separately: one per document cost more than the script's ``string.sub``).
    """

    ops: list[list[str | list[str]]] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    blob_bytes: int = 0

    def hset_blobs(self, key: str, blobs: Mapping[str, bytes]) -> None:
        """Set hash fields to blobs (passed beside the ops, not inside them), in one op."""
        if not blobs:
            return
        lengths = [len(blob) for blob in blobs.values()]
        position = str(self.blob_bytes + 1)
        self.ops.append(["hset_blobs", key, list(blobs), position, [str(n) for n in lengths]])
        self.blobs.extend(blobs.values())
        self.blob_bytes += sum(lengths)

    def visits(
        self, visits_key: str, parts_key: str, summary_key: str, parts: Mapping[str, str]
    ) -> None:
        """Put each visit's part (visit id -> :func:`~streams.domain.dayvisits.visit_part`) in
        its day's summary, replacing the part of an earlier revision; visits already stored in
        ``visits_key`` before the summary was kept are summarised first. One op."""
        if parts:
            self.ops.append(
                ["visits", visits_key, parts_key, summary_key, list(parts), list(parts.values())]
            )

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

    def hmax(self, key: str, name: str, value: float) -> None:
        """Raise a hash field to ``value`` if it is lower or missing."""
        self.ops.append(["hmax", key, name, repr(value)])

    def max(self, key: str, value: float) -> None:
        """Raise a string key to ``value`` if it is lower or missing."""
        self.ops.append(["max", key, repr(value)])

    def geoadd(self, key: str, points: Iterable[tuple[float, float, str]]) -> None:
        """Set members' positions (lon, lat, member) in a GEO set, in one op."""
        flat = [item for lon, lat, member in points for item in (repr(lon), repr(lat), member)]
        if flat:
            self.ops.append(["geoadd", key, flat])

    def expire(self, key: str, seconds: int) -> None:
        """Expire a key after ``seconds``."""
        self.ops.append(["expire", key, str(seconds)])

    def once(self, key: str, ttl_s: int, guarded: Changes) -> None:
        """Apply ``guarded`` (ops only, no blobs) unless ``key`` was set before (content
        idempotency); ``key`` is kept for ``ttl_s``."""
        if guarded.blobs:
            raise ValueError("changes applied once cannot carry blobs")
        self.ops.append(["once", key, str(ttl_s), str(len(guarded.ops))])
        self.ops.extend(guarded.ops)

    def require(self, key: str, value: str) -> None:
        """Apply nothing further unless ``key`` holds ``value`` (a lock this worker must hold)."""
        self.ops.append(["require", key, value])

    def hsetnx(self, key: str, name: str, value: str) -> None:
        """Set a hash field only if it is missing."""
        self.ops.append(["hsetnx", key, name, value])

    def sadd(self, key: str, member: str) -> None:
        """Add a set member."""
        self.ops.append(["sadd", key, member])

    def srem(self, key: str, member: str) -> None:
        """Remove a set member."""
        self.ops.append(["srem", key, member])

    def lpush_trim(self, key: str, value: str, keep: int) -> None:
        """Push to the head of a list and keep its ``keep`` newest entries."""
        self.ops.append(["lpush_trim", key, value, str(keep)])

    def hincrby(self, key: str, name: str, amount: int) -> None:
        """Add an integer to a hash field."""
        self.ops.append(["hincrby", key, name, str(amount)])

    def count_keys(self, counts: str, counted: str, member: str, keys: Sequence[str]) -> None:
        """Count ``member`` in ``keys`` (fields of the ``counts`` hash, no commas) and in no
        others: the counts move by the difference from the keys ``counted`` holds for it."""
        self.ops.append(["count_keys", counts, counted, member, sorted(set(keys))])

    def rebuild_counts(
        self, counts: str, counted: str, marker: str, keys: Mapping[str, Sequence[str]]
    ) -> None:
        """Unless ``marker`` is set: replace ``counts`` and ``counted`` by those of the members
        ``keys`` (member -> keys) alone, and set ``marker``."""
        flat = [
            item
            for member, member_keys in keys.items()
            if member_keys
            for item in (member, ",".join(sorted(set(member_keys))))
        ]
        self.ops.append(["rebuild_counts", counts, counted, marker, flat])

    def roster_version(
        self, key: str, issi: str, since: str, entry: str, keep: int, version_key: str
    ) -> None:
        """Add a roster version (valid from ``since``; empty: from the beginning) to a radio's
        history in hash ``key``: it replaces one from the same time, only the latest ``keep``
        are kept, and ``version_key`` is bumped if the history changed."""
        self.ops.append(["roster_version", key, issi, since, entry, str(keep), version_key])

    def prune_scored(self, zset: str, hash_key: str, version_key: str, max_score: float) -> None:
        """Remove the members of ``zset`` scored at most ``max_score`` and the fields of the
        same names from ``hash_key``; bump ``version_key`` if any field was removed."""
        self.ops.append(["prune_scored", zset, hash_key, version_key, repr(max_score)])

    def zadd(self, key: str, score: float, member: str) -> None:
        """Add a scored member."""
        self.ops.append(["zadd", key, repr(score), member])

    def zmax(self, key: str, score: float, member: str) -> None:
        """Add a scored member, or raise its score to ``score`` (never lower it)."""
        self.ops.append(["zmax", key, repr(score), member])

    def zrem(self, key: str, member: str) -> None:
        """Remove a member."""
        self.ops.append(["zrem", key, member])

    def zremrangebyscore(self, key: str, max_score: float) -> None:
        """Remove members scored at most ``max_score``."""
        self.ops.append(["zremrangebyscore", key, repr(max_score)])

    def win_add(
        self, family: str, amounts: Iterable[tuple[int, str, float]], windows: Sequence[int]
    ) -> None:
        """Add each (minute, field, amount) to its minute bucket and to the family's total; a
        minute that already left a window counts as taken out of it at once (a window's sum is
        the total less what left it: see :func:`window_sums`)."""
        flat = [
            item for minute, name, amount in amounts for item in (str(minute), name, repr(amount))
        ]
        if flat:
            self.ops.append(["win_add", family, _csv(windows), flat])

    def win_expire(self, family: str, now: float, windows: Sequence[int]) -> None:
        """Take minutes that left each rolling window at ``now`` out of it (idempotent).

        A minute ``m`` is in the window ``w`` at ``now`` iff ``now - w < 60 m <= now`` (the rule
        of :mod:`streams.domain.demand`); minutes ahead of now (clock skew) count at once.
        """
        self.ops.append(["win_expire", family, repr(now), _csv(windows)])


@functools.lru_cache(maxsize=16)
def _csv(windows: Sequence[int]) -> str:
    return ",".join(str(w) for w in sorted(windows))


def window_sums(
    totals: Mapping[bytes, bytes], outs: Mapping[bytes, bytes], windows: Sequence[int]
) -> Iterator[tuple[int, str, float]]:
    """(window, field, sum) of one family written by :meth:`Changes.win_add` and
    :meth:`Changes.win_expire`: each field's total less what has left the window (rounded to
    1e-6, which takes out the residue of adding and taking out the same amounts in another
    order)."""
    for name, total in totals.items():
        field_name = name.decode()
        amount = float(total)
        for window in windows:
            out = outs.get(f"{window}|{field_name}".encode())
            left = amount if out is None else amount - float(out)
            yield window, field_name, max(0.0, round(left, 6))


def above_watermarks(
    positions: Iterable[tuple[int, int]], watermarks: Mapping[int, int]
) -> list[int]:
    """Indices of the (partition, offset) positions above their partition's applied-offset
    watermark. The others were applied before (a replay after a restart, a rebalance or a new
    consumer group): they are neither decoded nor deadlettered again (the clock has moved on
    since, so a fix or an event counted then could now look stale)."""
    return [
        index
        for index, (partition, offset) in enumerate(positions)
        if offset > watermarks[partition]
    ]


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

    def __init__(self, redis_url: str, key_prefix: str, metrics: PipelineMetrics) -> None:
        self.redis: redis_asyncio.Redis = redis_asyncio.Redis.from_url(redis_url)
        self.prefix = key_prefix
        self.metrics = metrics
        self._apply = self.redis.register_script(APPLY_LUA)
        self._lead = self.redis.register_script(LEAD_LUA)
        self._roster_entries: dict[bytes, tuple[RosterVersion, ...]] = {}

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
    def roster_history_key(self) -> str:
        """Hash issi -> the radio's latest roster versions (lines ``since<TAB>entry``)."""
        return self.key("directory", "roster_history")

    def record_roster_version(
        self, changes: Changes, issi: str, since: float | None, entry: str
    ) -> None:
        """Keep ``entry`` among the radio's roster versions, valid from ``since`` (None: from
        the beginning)."""
        changes.roster_version(
            self.roster_history_key,
            issi,
            "" if since is None else repr(since),
            entry,
            ROSTER_VERSIONS_KEPT,
            self.roster_version_key,
        )

    def forget_roster_versions(self, changes: Changes, issi: str) -> None:
        """Drop a radio's roster versions (it left the roster)."""
        changes.hdel_versioned(self.roster_history_key, issi, self.roster_version_key)

    @property
    def on_duty_key(self) -> str:
        """Set of the radios whose officer is on duty."""
        return self.key("directory", "on_duty")

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
        applied, _ = await self.commit_and_read(commits, ())
        return applied

    async def commit_and_read(
        self, commits: Sequence[PartitionCommit], keys: Sequence[str]
    ) -> tuple[list[bool], list[bytes | None]]:
        """:meth:`commit`, and the values of ``keys`` right after it, in the same round trip."""
        if not commits and not keys:
            return [], []
        async with self.redis.pipeline(transaction=False) as pipe:
            for commit in commits:
                await self._apply(
                    keys=[self.watermark_key(commit.source, commit.partition)],
                    args=[
                        "none" if commit.last_offset is None else commit.last_offset,
                        orjson.dumps(commit.changes.ops),
                        b"".join(commit.changes.blobs),
                    ],
                    client=pipe,
                )
            for key in keys:
                pipe.get(key)
            results = await pipe.execute()
        self.metrics.round_trip("commit")
        return [result == 1 for result in results[: len(commits)]], results[len(commits) :]

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

    async def pings_progress(
        self, partitions: int
    ) -> tuple[list[float | None], list[float | None]]:
        """Each ``airwave.pings`` partition's event-time progress and the time of its first
        record (None: no data yet)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.get(self.pings_slice(partition) + ":progress")
                pipe.hget(self.pings_slice(partition) + ":events", "first")
            found = await pipe.execute()
        self.metrics.round_trip("pings_progress")
        values = [None if value is None else float(value) for value in found]
        return values[0::2], values[1::2]

    async def cad_progress(self, partitions: int) -> list[float | None]:
        """Each ``cad.incidents`` partition's event-time progress (None: no record yet)."""
        found = await self.read_versions([self.cad_progress_key(p) for p in range(partitions)])
        return [None if value is None else float(value) for value in found]

    async def judged_through(self) -> float | None:
        """The last instant coverage was judged at on the event clock (None: none yet)."""
        value = await self.redis.get(self.key("coverage", "judged"))
        self.metrics.round_trip("coverage_judged")
        return None if value is None else float(value)

    async def event_clock(self) -> float | None:
        """The stored event-clock watermark, if any.

        An impossible one (:func:`~streams.domain.ticks.stored_clock`: not a number, or outside
        the accepted dates, as an absurd tick stored before ticks were judged) is deleted with a
        warning, unless it changed meanwhile, and None is returned: the clock starts again from
        the next tick instead of failing the worker on every start."""
        value = await self.redis.get(self.clock_key)
        self.metrics.round_trip("clock")
        if value is None:
            return None
        try:
            return stored_clock(value)
        except Rejected as impossible:
            log.warning("event clock in Redis reset: %s", impossible.rejection.detail)
            await self.redis.eval(FORGET_IF_LUA, 1, self.clock_key, value)
            self.metrics.round_trip("clock")
            return None

    # -- presence (one slice per airwave.pings partition) -------------------------------------

    def pings_slice(self, partition: int) -> str:
        """Key prefix of everything derived from one ``airwave.pings`` partition (one slot)."""
        return self.key(f"airwave.pings.{partition}")

    @property
    def roster_version_key(self) -> str:
        """Bumped on every roster change (caches of the roster check it)."""
        return self.key("directory", "roster_version")

    def assigned_version_key(self, partition: int) -> str:
        """Bumped on every change of one ``cad.incidents`` partition's callsign assignments."""
        return self.slot("cad.incidents", partition) + ":assigned_version"

    def cad_progress_key(self, partition: int) -> str:
        """One ``cad.incidents`` partition's event-time progress (written in the same call as
        the assignments it covers)."""
        return self.slot("cad.incidents", partition) + ":progress"

    def directory_version_keys(self, incident_partitions: int) -> list[str]:
        """The versions a presence cache of areas, roster and assignments depends on, then each
        ``cad.incidents`` partition's event-time progress (how far the assignments go), then the
        store's epoch (whether it is still the store the cache was built from)."""
        return [
            self.area_version_key,
            self.roster_version_key,
            *(self.assigned_version_key(p) for p in range(incident_partitions)),
            *(self.cad_progress_key(p) for p in range(incident_partitions)),
            self.epoch_key,
        ]

    async def read_versions(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (version counters). One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            values: list[bytes | None] = await pipe.execute()
        self.metrics.round_trip("versions")
        return values

    async def roster_versions(self, issis: Sequence[str]) -> dict[str, tuple[RosterVersion, ...]]:
        """The roster versions of each radio (none: not on the roster; only its current entry,
        valid from the beginning, when it has no history: stored before histories were kept).
        One round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.roster_key, list(issis))
            pipe.hmget(self.roster_history_key, list(issis))
            current, histories = await pipe.execute()
        self.metrics.round_trip("roster")
        if len(self._roster_entries) > ROSTER_ENTRIES_CACHED:
            self._roster_entries.clear()
        return {
            issi: ()
            if entry is None
            else self._roster_history(entry, from_history=False)
            if history is None
            else self._roster_history(history, from_history=True)
            for issi, entry, history in zip(issis, current, histories, strict=True)
        }

    async def assignments(
        self, partitions: Sequence[int]
    ) -> dict[int, dict[str, list[Assignment]]]:
        """Of each of these ``cad.incidents`` partitions: every callsign's assignment intervals
        (:class:`~streams.domain.joins.Assignment`; closed ones are kept until pruned). One round
        trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.hgetall(self.slot("cad.incidents", partition) + ":assigned")
            slices = await pipe.execute()
        self.metrics.round_trip("assigned")
        found: dict[int, dict[str, list[Assignment]]] = {}
        for partition, assigned in zip(partitions, slices, strict=True):
            by_callsign: dict[str, list[Assignment]] = found.setdefault(partition, {})
            for field_name, blob in assigned.items():
                callsign = field_name.decode().split("|", 1)[0]
                by_callsign.setdefault(callsign, []).append(_assignment(orjson.loads(blob)))
        return found

    def _roster_history(self, blob: bytes, *, from_history: bool) -> tuple[RosterVersion, ...]:
        """A radio's roster versions parsed from its history (``from_history``) or its current
        entry (valid from the beginning), once per distinct stored value (they change rarely)."""
        versions = self._roster_entries.get(blob)
        if versions is None:
            if from_history:
                versions = tuple(_roster_version(line) for line in blob.split(b"\n"))
            else:
                versions = (RosterVersion(BEGINNING, orjson.loads(blob)),)
            self._roster_entries[blob] = versions
        return versions

    async def load_tracks(self, partition: int) -> tuple[int, float | None, dict[str, bytes]]:
        """One partition's offset watermark, event-time progress (None: no data yet) and stored
        tracks (issi -> JSON)."""
        slot = self.pings_slice(partition)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.watermark_key("airwave.pings", partition))
            pipe.get(slot + ":progress")
            pipe.hgetall(slot + ":tracks")
            watermark, progress, tracks = await pipe.execute()
        self.metrics.round_trip("load_tracks")
        return (
            -1 if watermark is None else int(watermark),
            None if progress is None else float(progress),
            {k.decode(): v for k, v in tracks.items()},
        )

    def record_presence(
        self,
        changes: Changes,
        partition: int,
        facts: Iterable[Fact],
        visit_values: Mapping[str, tuple[str, dict[str, object]]],
        tracks: Mapping[str, bytes],
        last_fixes: Mapping[str, tuple[Fix, dict[str, object]]],
        now: float,
        progress: float | None = None,
        began: float | None = None,
    ) -> None:
        """The Redis changes of one partition's presence facts.

        ``visit_values``: visit_id -> (local day, published value); ``tracks``: issi -> stored
        track (JSON); ``last_fixes``: issi -> (latest accepted fix, what to show about it);
        ``progress``: the partition's event-time progress after them (kept with the tracks, so
        that whoever takes the partition over settles it no further than this); ``began``: the
        event time of the partition's first record (kept once).
        """
        slot = self.pings_slice(partition)
        changes.win_expire(slot + ":dose", now, DOSE_WINDOWS)
        dose_buckets: dict[tuple[int, str], float] = {}
        for fact in facts:
            if isinstance(fact, MembershipChanged):
                field_name = f"{fact.area_id}|{fact.issi}"
                if fact.present:
                    changes.hset(slot + ":present", field_name, f"{fact.role}|{fact.mode}")
                else:
                    changes.hdel(slot + ":present", field_name)
            elif isinstance(fact, DoseAccrued):
                split = f"{fact.area_id}|{fact.role}|{fact.mode}|{fact.activity}"
                for (_, minute, *_rest), seconds in minute_buckets(fact).items():
                    dose_buckets[(minute, split)] = dose_buckets.get((minute, split), 0.0) + seconds
            elif isinstance(fact, VisitRecorded):
                self._record_visit_times(changes, slot, fact.visit)
        changes.win_add(
            slot + ":dose",
            ((minute, split, seconds) for (minute, split), seconds in dose_buckets.items()),
            DOSE_WINDOWS,
        )
        visits_by_day: dict[str, dict[str, Mapping[str, object]]] = {}
        for visit_id, (day, value) in visit_values.items():
            visits_by_day.setdefault(day, {})[visit_id] = value
        for day, visits in visits_by_day.items():
            keys = (f"{slot}:visits:{day}", f"{slot}:visit_parts:{day}", f"{slot}:vday:{day}")
            changes.visits(*keys, {visit_id: visit_part(v) for visit_id, v in visits.items()})
            changes.hset_blobs(keys[0], {i: orjson.dumps(v) for i, v in visits.items()})
            for key in keys:
                changes.expire(key, VISIT_DAYS_KEPT * 86400)
        changes.hset_blobs(slot + ":tracks", tracks)
        changes.geoadd(
            slot + ":geo", ((fix.lon, fix.lat, issi) for issi, (fix, _) in last_fixes.items())
        )
        changes.hset_blobs(
            slot + ":lastfix",
            {issi: orjson.dumps(shown) for issi, (_, shown) in last_fixes.items()},
        )
        if last_fixes:
            changes.max(slot + ":feed", max(fix.ts for fix, _ in last_fixes.values()))
        if progress is not None:
            changes.max(slot + ":progress", progress)
        if began is not None:
            changes.hsetnx(slot + ":events", "first", repr(began))

    @staticmethod
    def _record_visit_times(changes: Changes, slot: str, visit: Visit) -> None:
        """Where a visit's start and end are kept for coverage: the qualifying ends (``qends``,
        and ``lastq``, the latest) and, of every visit, its end (+inf while it is open: an open
        visit is not published again as its fixes come in) and start (``vends``, ``vstarts``)
        with the latest end of a closed visit per area (``vlast``), each for
        :data:`QUALIFYING_ENDS_KEPT_S` before the area's latest; a retracted visit is taken
        out."""
        area_id, visit_id = visit.area_id, visit.visit_id
        ends, times = (
            f"{slot}:qends:{area_id}",
            (f"{slot}:vends:{area_id}", f"{slot}:vstarts:{area_id}"),
        )
        end = visit.start + visit.seconds
        if visit.status == "retracted":
            changes.zrem(ends, visit_id)
            for key in times:
                changes.zrem(key, visit_id)
            return
        if visit.qualifying:
            changes.hmax(slot + ":lastq", area_id, end)
            changes.zadd(ends, end, visit_id)
            changes.zremrangebyscore(ends, end - QUALIFYING_ENDS_KEPT_S)
        elif visit.revision > 0:
            changes.zrem(ends, visit_id)
        changes.zadd(times[0], math.inf if visit.status == "open" else end, visit_id)
        changes.zadd(times[1], visit.start, visit_id)
        changes.zmax(slot + ":vlast", end, area_id)
        for key in times:
            changes.zremrangebyscore(key, end - QUALIFYING_ENDS_KEPT_S)

    async def visit_history(
        self, partitions: int, since: float, horizon_s: float, also: Iterable[str] = ()
    ) -> dict[str, VisitHistory]:
        """The visits around instants judged from ``since`` on of every area with a visit that
        ended after ``since - horizon_s`` and of the areas ``also`` (those with an officer
        present: an open visit), merged over every ``airwave.pings`` partition: the latest
        qualifying visit end at or before ``since``, and the start and end of every visit
        (qualifying or not) that ended at or after ``since`` or is open (its end +inf). A start
        no longer kept, of a visit begun more than :data:`QUALIFYING_ENDS_KEPT_S` before the
        area's latest end, reads as -inf. Three round trips."""
        slots = [self.pings_slice(partition) for partition in range(partitions)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.zrangebyscore(slot + ":vlast", f"({since - horizon_s!r}", "+inf")
            recent = await pipe.execute()
        self.metrics.round_trip("visit_history")
        area_ids = sorted({member.decode() for reply in recent for member in reply} | {*also})
        if not area_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                for area_id in area_ids:
                    qends, vends = f"{slot}:qends:{area_id}", f"{slot}:vends:{area_id}"
                    pipe.zrevrangebyscore(qends, since, "-inf", start=0, num=1, withscores=True)
                    pipe.zrangebyscore(vends, since, "+inf", withscores=True)
            replies = await pipe.execute()
        self.metrics.round_trip("visit_history")
        ended: dict[str, float] = {}
        later: list[tuple[str, str, list[tuple[bytes, float]]]] = []
        for index, (slot, area_id) in enumerate(itertools.product(slots, area_ids)):
            before, after = replies[2 * index], replies[2 * index + 1]
            if before:
                ended[area_id] = max(ended.get(area_id, -math.inf), float(before[0][1]))
            if after:
                later.append((slot, area_id, after))
        visits: dict[str, list[tuple[float, float]]] = {}
        if later:
            async with self.redis.pipeline(transaction=False) as pipe:
                for slot, area_id, after in later:
                    pipe.zmscore(
                        f"{slot}:vstarts:{area_id}", [member.decode() for member, _ in after]
                    )
                starts = await pipe.execute()
            self.metrics.round_trip("visit_history")
            for (_, area_id, after), found in zip(later, starts, strict=True):
                visits.setdefault(area_id, []).extend(
                    (-math.inf if start is None else float(start), float(end))
                    for (_, end), start in zip(after, found, strict=True)
                )
        return {
            area_id: VisitHistory(ended.get(area_id), tuple(sorted(visits.get(area_id, ()))))
            for area_id in area_ids
        }

    def forget_radios(self, changes: Changes, partition: int, issis: Iterable[str]) -> None:
        """Drop radios from one partition's presence state: their tracks and latest fixes (the
        radios' presence and visits were withdrawn and closed before)."""
        slot = self.pings_slice(partition)
        for issi in issis:
            changes.hdel(slot + ":tracks", issi)
            changes.hdel(slot + ":lastfix", issi)
            changes.zrem(slot + ":geo", issi)

    async def presence_view(
        self, partitions: int, days: Sequence[str], *, figures: bool = True
    ) -> PresenceView:
        """Presence, dose windows, last qualifying visits and the given days' visits, merged
        over every ``airwave.pings`` partition. One round trip. Without ``figures``, only who is
        present, the last qualifying visits and the feed (the dose and visits stay empty)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                slot = self.pings_slice(partition)
                pipe.hgetall(slot + ":present")
                pipe.hgetall(slot + ":lastq")
                pipe.get(slot + ":feed")
                if figures:
                    pipe.hgetall(slot + ":dose:out")
                    pipe.hgetall(slot + ":dose:total")
                    for day in days:
                        pipe.hgetall(f"{slot}:vday:{day}")
            replies = await pipe.execute()
        self.metrics.round_trip("presence_view")
        view = PresenceView()
        per_partition = 3 + (2 + len(days) if figures else 0)
        for partition in range(partitions):
            present, lastq, feed, *rest = replies[
                partition * per_partition : (partition + 1) * per_partition
            ]
            outs, totals, *summaries = rest if figures else ({}, {})
            view.add(present, outs, lastq, feed, totals, summaries)
        return view

    async def visits_of_area(self, partitions: int, day: str, area_id: str) -> list[dict[str, Any]]:
        """The published values of an area's visits of a local day, as stored (latest
        revisions). Reads every visit of the day: for a supervisor's look at one area, not for
        the evaluator (which reads the day's summary)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hvals(f"{self.pings_slice(partition)}:visits:{day}")
            replies = await pipe.execute()
        self.metrics.round_trip("visits_of_area")
        marker = b'"area_id":' + orjson.dumps(area_id)
        return [
            visit
            for reply in replies
            for blob in reply
            if marker in blob and (visit := orjson.loads(blob))["area_id"] == area_id
        ]

    # -- demand (cad.incidents, crimes.recorded, stopsearch.events partitions) ----------------

    def slot(self, source: str, partition: int) -> str:
        """Key prefix of everything derived from one partition of ``source`` (one slot)."""
        return self.key(f"{source}.{partition}")

    async def incident_states(
        self, ids_by_partition: Mapping[int, Sequence[str]]
    ) -> tuple[dict[str, bytes], int, list[int]]:
        """Stored incident states (incident_id -> JSON), the area version, and the partitions
        among these whose open counts are not yet kept per incident (stored by a version before
        that: :meth:`rebuild_open_counts`). One round trip."""
        wanted = [(p, ids) for p, ids in ids_by_partition.items() if ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.area_version_key)
            for partition, ids in wanted:
                slot = self.slot("cad.incidents", partition)
                pipe.hmget(slot + ":incidents", list(ids))
                pipe.exists(slot + ":open_rebuilt")
            version, *replies = await pipe.execute()
        self.metrics.round_trip("incident_states")
        found: dict[str, bytes] = {}
        unbuilt: list[int] = []
        for (partition, ids), values, rebuilt in zip(
            wanted, replies[::2], replies[1::2], strict=True
        ):
            found.update({i: v for i, v in zip(ids, values, strict=True) if v is not None})
            if not rebuilt:
                unbuilt.append(partition)
        return found, int(version or 0), unbuilt

    async def incidents_open_since(self, partitions: int, since: float) -> list[bytes]:
        """The stored states of every incident open now (with a known place) or closed after
        ``since``, of every ``cad.incidents`` partition: every incident open at some time from
        ``since`` on. Two round trips."""
        slots = [self.slot("cad.incidents", partition) for partition in range(partitions)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hkeys(slot + ":open_incidents")
                pipe.zrangebyscore(slot + ":closed", f"({since!r}", "+inf")
            replies = await pipe.execute()
        self.metrics.round_trip("incidents_open_since")
        wanted = [
            (slot, sorted({*replies[2 * index], *replies[2 * index + 1]}))
            for index, slot in enumerate(slots)
        ]
        wanted = [(slot, ids) for slot, ids in wanted if ids]
        if not wanted:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot, ids in wanted:
                pipe.hmget(slot + ":incidents", ids)
            found = await pipe.execute()
        self.metrics.round_trip("incidents_open_since")
        return [blob for blobs in found for blob in blobs if blob is not None]

    async def all_incident_states(self, partition: int) -> list[bytes]:
        """Every incident state stored for one ``cad.incidents`` partition (read in chunks)."""
        key = self.slot("cad.incidents", partition) + ":incidents"
        states: list[bytes] = []
        cursor = None
        while cursor != 0:
            cursor, chunk = await self.redis.hscan(key, cursor or 0, count=1000)
            self.metrics.round_trip("all_incident_states")
            states.extend(cast(dict[bytes, bytes], chunk).values())
        return states

    @staticmethod
    def expire_demand(changes: Changes, slot: str, now: float) -> None:
        """Take the minutes that left the demand windows of one partition out of its totals."""
        changes.win_expire(slot + ":demand", now, DEMAND_WINDOWS)

    @staticmethod
    def record_demand(changes: Changes, slot: str, buckets: Iterable[BucketChange]) -> None:
        """Windowed demand counts of one partition (incidents opened, crimes, stop-searches,
        harm), one op for all buckets, field ``area|measure|label``."""
        changes.win_add(
            slot + ":demand",
            (
                (bucket.minute, f"{bucket.area_id}|{bucket.measure}|{bucket.label}", bucket.amount)
                for bucket in buckets
            ),
            DEMAND_WINDOWS,
        )

    @staticmethod
    def rebuild_open_counts(
        changes: Changes, slot: str, open_keys: Mapping[str, Iterable[tuple[str, str]]]
    ) -> None:
        """Open counts of one ``cad.incidents`` partition rebuilt from ``open_keys`` (incident_id
        -> the (area_id, grade) counts it is in, from every stored state), once: counts that an
        earlier version kept by adding and subtracting may have drifted (even below zero)."""
        changes.rebuild_counts(
            slot + ":open",
            slot + ":counted",
            slot + ":open_rebuilt",
            {
                incident_id: [f"{area_id}|{grade}" for area_id, grade in keys]
                for incident_id, keys in open_keys.items()
            },
        )

    @staticmethod
    def record_incident(
        changes: Changes,
        slot: str,
        incident_id: str,
        stored: Mapping[str, object],
        open_keys: Iterable[tuple[str, str]],
        samples: Iterable[ResponseSampleChange],
        assigned: Mapping[str, Assignment],
        shown: Mapping[str, object] | None,
        closed_ts: float | None = None,
    ) -> None:
        """One incident's state, the (area_id, grade) open counts it is in now (the counts move
        by the difference from those stored with it, in the same call), response samples and
        the callsigns' assignment intervals that changed (a closed one is pruned later by
        :meth:`prune_assignments`); ``shown`` is what the live view shows of it while it is open
        (None: not shown); ``closed_ts``: when it closed, kept by time (``closed``) for coverage
        judged as of an earlier time."""
        changes.hset(slot + ":incidents", incident_id, orjson.dumps(stored).decode())
        if closed_ts is not None:
            changes.zadd(slot + ":closed", closed_ts, incident_id)
        if shown is None:
            changes.hdel(slot + ":open_incidents", incident_id)
        else:
            changes.hset(slot + ":open_incidents", incident_id, orjson.dumps(shown).decode())
        changes.count_keys(
            slot + ":open",
            slot + ":counted",
            incident_id,
            [f"{area_id}|{grade}" for area_id, grade in open_keys],
        )
        for sample in samples:
            member = f"{sample.incident_id}|{sample.area_id}|{sample.response_seconds!r}"
            if sample.delta > 0:
                changes.zadd(slot + ":response", sample.ts, member)
            else:
                changes.zrem(slot + ":response", member)
        for callsign, assignment in assigned.items():
            name = f"{callsign}|{incident_id}"
            changes.hset_versioned(
                slot + ":assigned",
                name,
                orjson.dumps(
                    {
                        "areas": sorted(assignment.areas),
                        "since": assignment.since,
                        "until": assignment.until,
                    }
                ).decode(),
                slot + ":assigned_version",
            )
            if assignment.until is not None:
                changes.zadd(slot + ":assigned_closed", assignment.until, name)

    @staticmethod
    def prune_assignments(changes: Changes, slot: str, before: float) -> None:
        """Drop the assignment intervals of one ``cad.incidents`` partition that ended before
        ``before`` (no fix judged from then on can fall in them)."""
        changes.prune_scored(
            slot + ":assigned_closed", slot + ":assigned", slot + ":assigned_version", before
        )

    async def demand_view(
        self, sources: Mapping[str, int], since: float, *, figures: bool = True
    ) -> DemandView:
        """Windowed demand, open incidents and response samples (arrivals after ``since``),
        merged over every partition of every demand source. One round trip. Without
        ``figures``, only the open incidents (the windows and samples stay empty)."""
        slots = [self.slot(s, p) for s, count in sources.items() for p in range(count)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hgetall(slot + ":open")
                if figures:
                    pipe.hgetall(slot + ":demand:total")
                    pipe.hgetall(slot + ":demand:out")
                    pipe.zrangebyscore(slot + ":response", since, "+inf", withscores=True)
            replies = await pipe.execute()
        self.metrics.round_trip("demand_view")
        view = DemandView()
        per_slot = 4 if figures else 1
        for index in range(len(slots)):
            open_counts, *rest = replies[per_slot * index : per_slot * (index + 1)]
            totals, outs, samples = rest if figures else ({}, {}, [])
            view.add(totals, outs, open_counts, samples)
        return view

    # -- coverage (one evaluator: the worker holding the leader lock) ---------------------------

    @property
    def leader_key(self) -> str:
        """Which worker evaluates coverage, emits snapshots and exports area metrics."""
        return self.key("coverage", "leader")

    async def lead(self, worker_id: str, ttl_ms: int) -> bool:
        """Take or keep the leader lock for ``ttl_ms``; whether this worker holds it."""
        held = await self._lead(keys=[self.leader_key], args=[worker_id, ttl_ms])
        self.metrics.round_trip("lead")
        return bool(held)

    async def coverage_store(self) -> CoverageStore:
        """Stored coverage statuses, monitoring start per area, officers on duty, and the last
        instant judged on the event clock."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key("coverage", "status"))
            pipe.hgetall(self.key("coverage", "since"))
            pipe.scard(self.on_duty_key)
            pipe.get(self.key("coverage", "judged"))
            statuses, since, on_duty, judged = await pipe.execute()
        self.metrics.round_trip("coverage_store")
        return CoverageStore(
            {k.decode(): v for k, v in statuses.items()},
            {k.decode(): float(v) for k, v in since.items()},
            int(on_duty),
            None if judged is None else float(judged),
        )

    def record_coverage(
        self,
        changes: Changes,
        worker_id: str,
        statuses: Mapping[str, Mapping[str, object]],
        since: Mapping[str, float],
        alerts: Iterable[Mapping[str, object]],
        state_changes: Iterable[tuple[str, Mapping[str, object]]],
        judged: float | None = None,
    ) -> None:
        """Coverage statuses, monitoring starts, recent alerts, today's state changes and the
        last instant judged (event clock), only while this worker still holds the leader
        lock."""
        changes.require(self.leader_key, worker_id)
        if judged is not None:
            changes.max(self.key("coverage", "judged"), judged)
        for area_id, status in statuses.items():
            changes.hset(self.key("coverage", "status"), area_id, orjson.dumps(status).decode())
        for area_id, ts in since.items():
            changes.hsetnx(self.key("coverage", "since"), area_id, repr(ts))
        for alert in alerts:
            changes.lpush_trim(self.key("coverage", "alerts"), orjson.dumps(alert).decode(), 1000)
        for day, change in state_changes:
            key = self.key("coverage", "changes", day)
            changes.lpush_trim(key, orjson.dumps(change).decode(), 20000)
            changes.expire(key, VISIT_DAYS_KEPT * 86400)

    async def recent_alerts(self, count: int) -> list[dict[str, Any]]:
        """The newest alert events, newest first."""
        values = await self.redis.lrange(self.key("coverage", "alerts"), 0, count - 1)
        self.metrics.round_trip("alerts")
        return [orjson.loads(value) for value in values]

    async def coverage_changes(self, day: str) -> list[dict[str, Any]]:
        """Coverage state changes of a local day, oldest first."""
        values = await self.redis.lrange(self.key("coverage", "changes", day), 0, -1)
        self.metrics.round_trip("coverage_changes")
        return [orjson.loads(value) for value in reversed(values)]

    # -- area views (the coverage leader's published snapshots, served by the API) -------------

    @property
    def area_views_key(self) -> str:
        """Hash area_id -> the area's last published ``area.snapshots`` value (JSON)."""
        return self.key("coverage", "views")

    def record_area_views(self, changes: Changes, snapshots: Mapping[str, bytes]) -> None:
        """Store each area's snapshot as published (with :meth:`record_coverage`: only while
        this worker still holds the leader lock)."""
        changes.hset_blobs(self.area_views_key, snapshots)

    async def area_views(self, area_ids: Sequence[str]) -> list[bytes | None]:
        """The stored snapshot of each area, in order (None: none stored yet)."""
        if not area_ids:
            return []
        values = await self.redis.hmget(self.area_views_key, list(area_ids))
        self.metrics.round_trip("area_views")
        return cast("list[bytes | None]", values)

    # -- serving (API, live page) -------------------------------------------------------------

    async def open_incidents(self, partitions: int) -> list[dict[str, Any]]:
        """Every open incident with a known place, as the live view shows it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hvals(self.slot("cad.incidents", partition) + ":open_incidents")
            replies = await pipe.execute()
        self.metrics.round_trip("open_incidents")
        return [orjson.loads(value) for reply in replies for value in reply]

    async def last_fixes(self, partitions: int) -> dict[str, dict[str, Any]]:
        """issi -> what is shown of its latest accepted fix (officer-level data)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hgetall(self.pings_slice(partition) + ":lastfix")
            replies = await pipe.execute()
        self.metrics.round_trip("last_fixes")
        return {k.decode(): orjson.loads(v) for reply in replies for k, v in reply.items()}

    async def nearest(
        self, partitions: int, lat: float, lon: float, count: int
    ) -> list[tuple[str, float]]:
        """The ``count`` radios whose latest fix is nearest (issi, metres), over every slice."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.geosearch(
                    self.pings_slice(partition) + ":geo",
                    longitude=lon,
                    latitude=lat,
                    radius=50,
                    unit="km",
                    sort="ASC",
                    count=count,
                    withdist=True,
                )
            replies = await pipe.execute()
        self.metrics.round_trip("nearest")
        found = [(issi.decode(), float(km) * 1000.0) for reply in replies for issi, km in reply]
        return sorted(found, key=lambda pair: pair[1])

    async def audit(self, entry: Mapping[str, object]) -> None:
        """Append one officer-level read to the audit log (who, what, when)."""
        await self.redis.rpush(self.key("audit", "log"), orjson.dumps(entry))
        self.metrics.round_trip("audit")

    async def audit_log(self, count: int) -> list[dict[str, Any]]:
        """The newest audit entries, oldest first."""
        values = await self.redis.lrange(self.key("audit", "log"), -count, -1)
        return [orjson.loads(value) for value in values]

    @property
    def events_channel(self) -> str:
        """Pub/sub channel of live events (area changes, alerts) for the SSE streams."""
        return self.key("events", "live")

    async def publish_events(self, events: Sequence[bytes]) -> None:
        """Publish live events (each a ready SSE message) to every worker's web server, all in
        one message: SSE messages placed back to back are still a valid event stream, and one
        PUBLISH per evaluation costs far less than one per event with thousands of areas."""
        if not events:
            return
        await self.redis.publish(self.events_channel, b"".join(events))
        self.metrics.round_trip("publish_events")

    # -- epoch and rebuild (Redis is a cache of the log: streams/domain/epoch.py) -------------

    KEPT_ON_CLEAR = ("audit",)
    """Hash tags :meth:`clear_step` keeps: the audit log of officer-level reads is not derived
    from the topics, so a rebuild cannot make it again."""

    @property
    def epoch_key(self) -> str:
        """The store's epoch (written once per life of the store: first start or rebuild)."""
        return self.key("meta", "epoch")

    async def epoch(self) -> str | None:
        """The store's epoch (None: there is none)."""
        value = await self.redis.get(self.epoch_key)
        self.metrics.round_trip("epoch")
        return None if value is None else cast("bytes", value).decode()

    async def claim_epoch(self, epoch: str) -> str:
        """Write ``epoch`` unless the store has one (two workers of a new deployment starting
        together write one between them); the epoch the store then holds."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.epoch_key, epoch, nx=True)
            pipe.get(self.epoch_key)
            _, stored = await pipe.execute()
        self.metrics.round_trip("epoch")
        return cast("bytes", stored).decode()

    async def set_epoch(self, epoch: str) -> None:
        """Write the epoch of a rebuilt store."""
        await self.redis.set(self.epoch_key, epoch)
        self.metrics.round_trip("epoch")

    async def clear_step(self, cursor: int, count: int = 1000) -> tuple[int, int]:
        """One step of deleting every key under this prefix but :data:`KEPT_ON_CLEAR` (SCAN
        from ``cursor``, then UNLINK): the next cursor (0 when done) and the keys deleted."""
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix) + ":*"
        kept = tuple(f"{self.prefix}:{{{tag}}}:".encode() for tag in self.KEPT_ON_CLEAR)
        cursor, keys = await self.redis.scan(cursor, match=pattern, count=count)
        doomed = [key for key in keys if not cast("bytes", key).startswith(kept)]
        if doomed:
            await self.redis.unlink(*doomed)
        self.metrics.round_trip("clear")
        return int(cursor), len(doomed)

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


@dataclass(frozen=True, slots=True)
class CoverageStore:
    """What the coverage evaluator stored: statuses, monitoring starts, officers on duty (from
    the roster) and the last instant judged on the event clock."""

    statuses: dict[str, bytes]
    since: dict[str, float]
    on_duty: int
    judged: float | None


@dataclass
class PresenceView:
    """Presence state merged over partitions, as raw numbers for the domain to shape."""

    present: dict[str, dict[str, str]] = field(default_factory=dict)
    """area_id -> issi -> "role|mode"."""
    dose_windows: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    """window seconds -> area_id -> "role|mode|activity" -> officer-seconds."""
    last_qualifying_end: dict[str, float] = field(default_factory=dict)
    feed_last_fix: float | None = None
    dose_total: dict[str, dict[str, float]] = field(default_factory=dict)
    """area_id -> "role|mode|activity" -> officer-seconds since the service began."""
    visits: dict[str, DayVisits] = field(default_factory=dict)
    """area_id -> the visits of the days read, summarised."""

    def add(
        self,
        present: Mapping[bytes, bytes],
        outs: Mapping[bytes, bytes],
        lastq: Mapping[bytes, bytes],
        feed: bytes | None,
        totals: Mapping[bytes, bytes],
        visit_summaries: Iterable[Mapping[bytes, bytes]],
    ) -> None:
        """Merge one partition's replies (its dose totals and what left each window, and the
        summaries of its visits of the days read)."""
        for field_name, value in totals.items():
            area_id, split = field_name.decode().split("|", 1)
            by_split = self.dose_total.setdefault(area_id, {})
            by_split[split] = by_split.get(split, 0.0) + float(value)
        for field_name, value in present.items():
            area_id, issi = field_name.decode().split("|", 1)
            self.present.setdefault(area_id, {})[issi] = value.decode()
        for window, summed, seconds in window_sums(totals, outs, DOSE_WINDOWS):
            area_id, split = summed.split("|", 1)
            by_area = self.dose_windows.setdefault(window, {}).setdefault(area_id, {})
            by_area[split] = by_area.get(split, 0.0) + seconds
        for area_key, end in lastq.items():
            area = area_key.decode()
            self.last_qualifying_end[area] = max(
                self.last_qualifying_end.get(area, 0.0), float(end)
            )
        if feed is not None:
            self.feed_last_fix = max(self.feed_last_fix or 0.0, float(feed))
        for summary in visit_summaries:
            for field_name, value in summary.items():
                add_summary_field(self.visits, field_name.decode(), value.decode())

    def areas(self) -> set[str]:
        """The areas with any presence state (every other area's is empty)."""
        touched = {*self.present, *self.dose_total, *self.last_qualifying_end, *self.visits}
        for by_area in self.dose_windows.values():
            touched.update(by_area)
        return touched


@dataclass
class DemandView:
    """Demand merged over partitions: raw numbers for the domain to shape."""

    windows: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    """window seconds -> area_id -> "measure|label" -> total."""
    open_incidents: dict[str, dict[str, int]] = field(default_factory=dict)
    """area_id -> grade -> open incidents."""
    response_samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """area_id -> (arrival ts, seconds from opened to first arrival)."""

    def add(
        self,
        totals: Mapping[bytes, bytes],
        outs: Mapping[bytes, bytes],
        open_counts: Mapping[bytes, bytes],
        samples: Sequence[tuple[bytes, float]],
    ) -> None:
        """Merge one partition's replies (its demand totals and what left each window among
        them)."""
        for window, summed, amount in window_sums(totals, outs, DEMAND_WINDOWS):
            area_id, measure_label = summed.split("|", 1)
            by_area = self.windows.setdefault(window, {}).setdefault(area_id, {})
            by_area[measure_label] = by_area.get(measure_label, 0.0) + amount
        for field_name, value in open_counts.items():
            area_id, grade = field_name.decode().split("|", 1)
            by_grade = self.open_incidents.setdefault(area_id, {})
            by_grade[grade] = by_grade.get(grade, 0) + int(value)
        for member, ts in samples:
            _, area_id, seconds = member.decode().split("|", 2)
            self.response_samples.setdefault(area_id, []).append((ts, float(seconds)))

    def areas(self) -> set[str]:
        """The areas with any demand state (every other area's is empty)."""
        touched = {*self.open_incidents, *self.response_samples}
        for by_area in self.windows.values():
            touched.update(by_area)
        return touched


def _assignment(stored: Any) -> Assignment:
    """An assignment interval as :meth:`State.record_incident` stored it (a list of area ids,
    as an earlier version stored it: committed from the beginning and still open)."""
    if isinstance(stored, list):
        return Assignment(frozenset(stored), BEGINNING, None)
    return Assignment(frozenset(stored["areas"]), float(stored["since"]), stored["until"])


def _roster_version(line: bytes) -> RosterVersion:
    """One line ``since<TAB>entry`` of a radio's roster history."""
    since, _, entry = line.partition(b"\t")
    return RosterVersion(float(since) if since else BEGINNING, orjson.loads(entry))
