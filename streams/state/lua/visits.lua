-- The day's visit summary for apply.lua (streams.state.scripts puts windows.lua, visits.lua and
-- apply.lua together into one script).
-- A day's visits summarised as they are written (streams.domain.dayvisits): each visit's part
-- (area|live|drive_through|role|mode|activity[|inferred]|seconds|qualifying|start|end) is kept by
-- visit id in <parts>, and a new revision takes the old part out of <summary> and puts the new one
-- in. The split (role to activity, and "inferred" for an inferred visit) is what lies between the
-- drive-through flag and the last four fields.
local function visit_count(summary, id, part, sign)
  local area, live, dt, split, seconds, q, start, finish = string.match(part,
    '^([^|]*)|(%d)|(%d)|(.*)|([^|]*)|(%d)|([^|]*)|([^|]*)$')
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
      v.role, v.mode, v.inferred == true and (v.activity .. '|inferred') or v.activity,
      string.format('%.17g', v.seconds),
      v.qualifying and '1' or '0', v.start, finish}, '|'))
  end
end
