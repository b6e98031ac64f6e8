-- reserveScript claims a plan's execution record for one stream entry.
-- The record is written before anything else happens to the plan, and its
-- state stays "open" until the result is written: an open record means
-- the venue may hold the plan's order, so a consumer that resumes it looks
-- the order up by client order id before deciding anything.
--
-- KEYS[1] the plan record (hash, keyed by source and plan_id), KEYS[2] the
-- record's key of releases before records were scoped by source (keyed by
-- plan_id alone; read only, until those records expire), KEYS[3] the client
-- order id's index (the record's key, for the reconciliation job, which
-- finds venue orders of ours that no record knows)
-- ARGV[1] stream entry id, ARGV[2] consumer, ARGV[3] lease in ms,
-- ARGV[4] record TTL in seconds, ARGV[5] client order id
--
-- Reply {status, state}:
--
--	new     no record: created in state open, leased to this consumer
--	replay  a record of another stream entry: the plan_id was seen before
--	done    this entry was finished already
--	busy    this entry is leased to another live consumer
--	resume  this entry, unfinished (state open): leased to us
--
-- The lease is in Redis time, so replicas on hosts whose clocks differ agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entry = redis.call('HGET', KEYS[1], 'entry')
if not entry and #KEYS >= 2 then
  -- A record of the previous layout: a replay of it is a replay; its own
  -- entry, unfinished, is resumed (the venue may hold its order).
  local old = redis.call('HMGET', KEYS[2], 'entry', 'state')
  if old[1] and old[1] ~= ARGV[1] then
    return {'replay', ''}
  end
  if old[1] and old[2] == 'done' then
    return {'done', 'done'}
  end
  if old[1] then
    redis.call('HSET', KEYS[1], 'entry', ARGV[1], 'state', 'open', 'owner', ARGV[2],
      'lease_until', now + tonumber(ARGV[3]), 'client_order_id', ARGV[5])
    redis.call('EXPIRE', KEYS[1], ARGV[4])
    if #KEYS >= 3 then redis.call('SET', KEYS[3], KEYS[1], 'EX', ARGV[4]) end
    return {'resume', 'open'}
  end
end
if not entry then
  redis.call('HSET', KEYS[1], 'entry', ARGV[1], 'state', 'open', 'owner', ARGV[2],
    'lease_until', now + tonumber(ARGV[3]), 'client_order_id', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  if #KEYS >= 3 then redis.call('SET', KEYS[3], KEYS[1], 'EX', ARGV[4]) end
  return {'new', 'open'}
end
if entry ~= ARGV[1] then
  return {'replay', ''}
end
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'done' then
  return {'done', st}
end
local owner = redis.call('HGET', KEYS[1], 'owner')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0') or 0
if owner ~= ARGV[2] and lease > now then
  return {'busy', st}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'lease_until', now + tonumber(ARGV[3]))
return {'resume', st}
