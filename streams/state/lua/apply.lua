-- Every change of one source partition's batch, with its offset watermark (streams.state.changes).
-- KEYS[1]: the partition's watermark; ARGV[1]: the batch's last offset ('none': no watermark,
-- applied unconditionally); ARGV[2]: the JSON list of ops ({name, key, ...}); ARGV[3]: the blobs
-- of hset_blobs ops, back to back; KEYS[2] and ARGV[4], when given: the partition's owner key and
-- the owner the batch was prepared under ('none': no fence). Returns 0 when the offset was applied
-- before or the partition has another owner since (nothing changes), -1 when a 'require' failed
-- (the ops before it stay applied), else 1.
-- The functions of windows.lua and visits.lua come before this text in the same script.
local check = ARGV[1] ~= 'none'
local offset = tonumber(ARGV[1])
if ARGV[4] and ARGV[4] ~= 'none' and redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
if check then
  local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if offset <= current then return 0 end
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
  elseif name == 'sadd_all' then
    local members = op[3]
    for i = 1, #members, 1000 do
      redis.call('SADD', op[2], unpack(members, i, math.min(i + 999, #members)))
    end
  elseif name == 'srem' then redis.call('SREM', op[2], op[3])
  elseif name == 'lpush_trim' then
    redis.call('LPUSH', op[2], op[3])
    redis.call('LTRIM', op[2], 0, tonumber(op[4]) - 1)
  elseif name == 'hincrby' then
    -- a field that sums to zero is removed: an absent field reads as zero, and steps that cancel
    -- across batches leave no field behind (as those that cancel within one batch)
    if redis.call('HINCRBY', op[2], op[3], op[4]) == 0 then redis.call('HDEL', op[2], op[3]) end
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
