-- finalizeScript writes a plan's one result and acknowledges its entry,
-- atomically: a crash leaves either both or neither, so every entry gets
-- exactly one result.
--
-- KEYS[1] done marker of the entry, KEYS[2] result stream, KEYS[3] plan
-- stream, KEYS[4] the plan record (absent when the plan has none: an empty
-- key name is refused by a Redis ACL that limits the user's keys)
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] TTL seconds, ARGV[4] result
-- stream MAXLEN, ARGV[5] consumer, then the result's field/value pairs.
--
-- Reply: the result's entry id, or "" when the entry had one already, or
-- when another consumer has taken the plan's record (fencing: a replica
-- that lost the record while it was paused writes nothing; the new owner
-- writes the one result).
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return ''
end
if #KEYS >= 4 then
  local rec = redis.call('HMGET', KEYS[4], 'entry', 'owner')
  if rec[1] == ARGV[2] and rec[2] ~= ARGV[5] then
    return ''
  end
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
redis.call('SET', KEYS[1], id, 'EX', ARGV[3])
if #KEYS >= 4 and redis.call('HGET', KEYS[4], 'entry') == ARGV[2] then
  redis.call('HSET', KEYS[4], 'state', 'done', 'result_id', id)
end
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return id
