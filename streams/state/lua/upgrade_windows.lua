-- One-off layout upgrade of one windowed family (streams.state.windows): before windows were
-- kept as total - out, the running window sums were held in <family>:win ("<window>|<field>").
-- They are turned into <family>:total (kept where a total was already stored) and <family>:out,
-- keeping every window's sum, and <family>:win is deleted. Nothing to do without <family>:win.
-- KEYS: <family>:win, <family>:total, <family>:out; ARGV[1]: the family's windows (seconds,
-- ascending, comma-separated). Returns 1 if the family was converted, else 0.
local win, total_key, out_key = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', win) == 0 then return 0 end
local windows = {}
for w in string.gmatch(ARGV[1], '[^,]+') do windows[#windows + 1] = tonumber(w) end
local longest = windows[#windows]
local sums, by_field = redis.call('HGETALL', win), {}
for i = 1, #sums, 2 do
  local w, field = string.match(sums[i], '^(%d+)|(.*)$')
  by_field[field] = by_field[field] or {}
  by_field[field][tonumber(w)] = tonumber(sums[i + 1])
end
local totals, stored = redis.call('HGETALL', total_key), {}
for i = 1, #totals, 2 do
  stored[totals[i]] = tonumber(totals[i + 1])
  by_field[totals[i]] = by_field[totals[i]] or {}
end
for field, sum in pairs(by_field) do
  local total = stored[field]
  if total == nil then
    total = sum[longest] or 0
    redis.call('HSET', total_key, field, string.format('%.17g', total))
  end
  for _, w in ipairs(windows) do
    local out = string.format('%.17g', total - (sum[w] or 0))
    redis.call('HSET', out_key, w .. '|' .. field, out)
  end
end
redis.call('DEL', win)
return 1
