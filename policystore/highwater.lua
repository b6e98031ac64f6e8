-- Raise the rollback memory (seq.lua is prepended): never lower it.
--
-- KEYS[1] the high-water hash (policy_seq, policy_hash, raised_at)
-- ARGV[1] the accepted policy_seq, ARGV[2] its policy_hash, ARGV[3] now (unix seconds)
--
-- Reply: {"1", seq, hash} when raised (or first set), {"0", seq, hash} with
-- the mark as it stands when it is already at or above ARGV[1]. A mark
-- that is not a seq is an error: only the apply layer writes it, so it has
-- been tampered with, and overwriting it would hide that.
local n = seq_of(ARGV[1])
if n == nil then
  return redis.error_reply('ERR policy high-water: ' .. tostring(ARGV[1]) .. ' is not a seq')
end
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('ERR policy high-water: ' .. KEYS[1] .. ' is a ' .. t .. ', not a hash')
end
local cur = redis.call('HGET', KEYS[1], 'policy_seq')
if cur then
  local c = seq_of(cur)
  if c == nil then
    return redis.error_reply('ERR policy high-water: ' .. KEYS[1] .. ' holds policy_seq ' .. string.sub(cur, 1, 32) .. ', not a seq')
  end
  if c >= n then
    return {'0', cur, redis.call('HGET', KEYS[1], 'policy_hash') or ''}
  end
end
redis.call('HSET', KEYS[1], 'policy_seq', ARGV[1], 'policy_hash', ARGV[2], 'raised_at', ARGV[3])
return {'1', ARGV[1], ARGV[2]}
