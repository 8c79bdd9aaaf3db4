-- The coverage leader lock: keep it (refresh its TTL) if this worker holds it, else take it if
-- free. KEYS[1]: the lock; ARGV: worker id, TTL in ms. Returns 1 if this worker holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
