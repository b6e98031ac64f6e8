-- guardScript is the fencing check made immediately before every venue
-- call that can place or change an order: the caller still owns the plan's
-- execution record (same entry, same owner, not finished) and still holds
-- the symbol's lease, and both are renewed, atomically. A replica that was
-- paused past its leases finds them taken by another and does not act.
--
-- KEYS[1] the plan record, KEYS[2] the symbol's lease
-- ARGV[1] consumer, ARGV[2] stream entry id, ARGV[3] lease token,
-- ARGV[4] lease in ms
--
-- Reply: 'ok', 'record' (the record is no longer ours), 'symbol' (the
-- symbol's lease is no longer ours).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = redis.call('HMGET', KEYS[1], 'entry', 'owner', 'state')
if rec[1] ~= ARGV[2] or rec[2] ~= ARGV[1] or rec[3] ~= 'open' then
  return 'record'
end
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 'symbol'
end
redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[4]))
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 'ok'
