-- Every change of one source partition's batch, with its offset watermark (streams.state.changes).
-- KEYS[1]: the partition's watermark; ARGV[1]: the batch's last offset ('none': no watermark,
-- applied unconditionally); ARGV[2]: the JSON list of ops ({name, key, ...}); ARGV[3]: the blobs
-- of hset_blobs ops, back to back. Returns 0 when the offset was applied before (nothing
-- changes), -1 when a 'require' failed (the ops before it stay applied), else 1.
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
-- (Sums stored by the layout before total - out are converted by upgrade_windows.lua, once,
-- when a worker finds the store trusted at start: streams.state.windows.)
local function win_add(family, csv, entries)
  local windows = split_windows(csv)
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
    for line in string.gmatch(stored, '[^\n]+') do
      local at = since_of(string.sub(line, 1, string.find(line, '\t', 1, true) - 1))
      if at ~= since then versions[#versions + 1] = {at, line} end
    end
    versions[#versions + 1] = {since, op[4] .. '\t' .. op[5]}
    table.sort(versions, function(a, b) return a[1] < b[1] end)
    local lines = {}
    for i = math.max(1, #versions - tonumber(op[6]) + 1), #versions do
      lines[#lines + 1] = versions[i][2]
    end
    local after = table.concat(lines, '\n')
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
