-- Delete a key only if it still holds the value read before (compare and delete).
-- KEYS[1]: the key; ARGV[1]: the value read. Returns the keys deleted (0 or 1).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
