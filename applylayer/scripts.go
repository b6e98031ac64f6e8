package applylayer

import "github.com/redis/go-redis/v9"

// reserveScript claims a plan's execution record for one stream entry.
// The record is written before anything else happens to the plan, and its
// state stays "open" until the result is written: an open record means
// the venue may hold the plan's order, so a consumer that resumes it looks
// the order up by client order id before deciding anything.
//
// KEYS[1] the plan record (hash, keyed by plan_id)
// ARGV[1] stream entry id, ARGV[2] consumer, ARGV[3] lease in ms,
// ARGV[4] record TTL in seconds, ARGV[5] client order id
//
// Reply {status, state}:
//
//	new     no record: created in state open, leased to this consumer
//	replay  a record of another stream entry: the plan_id was seen before
//	done    this entry was finished already
//	busy    this entry is leased to another live consumer
//	resume  this entry, unfinished (state open): leased to us
//
// The lease is in Redis time, so replicas on hosts whose clocks differ agree.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entry = redis.call('HGET', KEYS[1], 'entry')
if not entry then
  redis.call('HSET', KEYS[1], 'entry', ARGV[1], 'state', 'open', 'owner', ARGV[2],
    'lease_until', now + tonumber(ARGV[3]), 'client_order_id', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
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
`)

// finalizeScript writes a plan's one result and acknowledges its entry,
// atomically: a crash leaves either both or neither, so every entry gets
// exactly one result.
//
// KEYS[1] done marker of the entry, KEYS[2] result stream, KEYS[3] plan
// stream, KEYS[4] the plan record (absent when the plan has none: an empty
// key name is refused by a Redis ACL that limits the user's keys)
// ARGV[1] group, ARGV[2] entry id, ARGV[3] TTL seconds, ARGV[4] result
// stream MAXLEN, then the result's field/value pairs.
//
// Reply: the result's entry id, or "" when the entry had one already.
var finalizeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return ''
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
redis.call('SET', KEYS[1], id, 'EX', ARGV[3])
if #KEYS >= 4 and redis.call('HGET', KEYS[4], 'entry') == ARGV[2] then
  redis.call('HSET', KEYS[4], 'state', 'done', 'result_id', id)
end
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return id
`)

// rateScript takes one order from the per-minute budget, or refuses.
//
// KEYS[1] the minute's counter; ARGV[1] the budget; ARGV[2] 1 to take, 0
// to only look (canary plans). Reply 1 allowed, 0 over budget.
var rateScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return 0
end
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 120)
end
return 1
`)
