-- Atomic policy publish. Redis runs a script without interleaving any other
-- command, so readers see the old policy or the new one, never a mix.
--
-- KEYS[1] policy hash, KEYS[2] policy.update stream, KEYS[3] policy.audit stream
-- ARGV[1] new policy_seq, ARGV[2] stream MAXLEN (approximate, at least this many kept),
-- ARGV[3] number of policy hash arguments (field, value, ...),
-- ARGV[4] number of update entry arguments, then the policy, update and audit arguments.
--
-- Reply: {"0", live_seq} when refused (live seq >= new seq), else
-- {"1", update_entry_id, audit_entry_id}.
--
-- Every check runs before the first write: a script that fails half-way is
-- not rolled back by Redis, so nothing after the first write may fail on
-- account of the data.
local newseq = tonumber(ARGV[1])
if newseq == nil then
  return redis.error_reply('ERR policy publish: policy_seq is not a number')
end
local live = redis.call('HGET', KEYS[1], 'policy_seq')
if live then
  local l = tonumber(live)
  if l ~= nil and l >= newseq then
    return {'0', live}
  end
end
for i = 2, 3 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= 'stream' then
    return redis.error_reply('ERR policy publish: ' .. KEYS[i] .. ' is a ' .. t .. ', not a stream')
  end
end
local np = tonumber(ARGV[3])
local nu = tonumber(ARGV[4])
local p, u, a = {}, {}, {}
for i = 5, 4 + np do p[#p + 1] = ARGV[i] end
for i = 5 + np, 4 + np + nu do u[#u + 1] = ARGV[i] end
for i = 5 + np + nu, #ARGV do a[#a + 1] = ARGV[i] end
if #p == 0 or #u == 0 or #a == 0 or #p % 2 ~= 0 or #u % 2 ~= 0 or #a % 2 ~= 0 then
  return redis.error_reply('ERR policy publish: malformed arguments')
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(p))
local uid = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(u))
local aid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', unpack(a))
return {'1', uid, aid}
