-- Rolling windows for apply.lua (streams.state.scripts puts windows.lua, visits.lua and apply.lua
-- together into one script).
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
