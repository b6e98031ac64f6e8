-- exposureScript keeps the account reservation of the exposure limits: the
-- entries decided but not yet filled, by plan_id, so that two replicas
-- deciding entries on different symbols at once never together pass a
-- gross exposure or open-position cap. A decider reads the hash (its
-- version and the reserved entries) before the venue's positions, decides,
-- then reserves only if the version is still the one it read: any
-- reservation in between moves the version and the decider reads and
-- decides again.
--
-- KEYS[1] the account reservation (a hash: v the version, f:<plan_id>
-- "<SYMBOL> <signed quantity> <unix ms>" an entry reserved and not yet filled,
-- s:<SYMBOL> a symbol entries were decided on)
-- ARGV[1] 'reserve' or 'clear', ARGV[2] plan_id
-- reserve: ARGV[3] the version read, ARGV[4] symbol, ARGV[5] signed quantity,
-- ARGV[6] the time in unix ms (readers ignore a reservation older than the
-- plan records' TTL: a clear lost to a Redis failure cannot count forever)
--
-- Reply: 1 reserved (the version moved) or cleared, 0 the version moved
-- since it was read (nothing written).
if ARGV[1] == 'clear' then
  redis.call('HDEL', KEYS[1], 'f:' .. ARGV[2])
  return 1
end
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], 'f:' .. ARGV[2], ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6], 's:' .. ARGV[4], '1')
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
