-- Let a partition go: bump its owner only if it is still the one it was held under, so that
-- commits prepared under it are refused and a later owner's claim is left alone.
-- KEYS[1]: the owner key; ARGV[1]: the owner it was held under. Returns the new owner, or 0
-- when it was no longer held under ARGV[1].
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('INCR', KEYS[1]) end
return 0
