-- Atomic policy publish (seq.lua is prepended). Redis runs a script
-- without interleaving any other command, so readers see the old policy or
-- the new one, never a mix.
--
-- KEYS[1] policy hash, KEYS[2] policy.update stream, KEYS[3] policy.audit stream,
-- KEYS[4] the published copy (the same fields, for Divergence)
-- ARGV[1] new policy_seq, ARGV[2] stream MAXLEN (approximate, at least this many kept),
-- ARGV[3] number of policy hash arguments (field, value, ...),
-- ARGV[4] number of update entry arguments,
-- ARGV[5] the floor the publisher computed: the highest verified seq ("0" for none),
-- ARGV[6] the live policy_hash the publisher verified, as "=" .. hash, or "" for none,
-- then the policy, update and audit arguments.
--
-- The live policy_seq is never read here: it may be tampered with ('1e30').
-- The publisher verified the live policy's signature before counting its
-- seq in the floor, and ARGV[6] makes sure the live policy is still the one
-- it verified. The streams' newest published seqs are read again here, with
-- the same grammar as Go (seq_of).
--
-- Reply: {"0", floor} when refused (new seq not above the floor),
-- {"2", live_hash} when the live policy changed since the publisher read it,
-- else {"1", update_entry_id, audit_entry_id}.
--
-- Every check runs before the first write: a script that fails half-way is
-- not rolled back by Redis, so nothing after the first write may fail on
-- account of the data.
local newseq = seq_of(ARGV[1])
if newseq == nil then
  return redis.error_reply('ERR policy publish: policy_seq is not a seq')
end
for i = 2, 3 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= 'stream' then
    return redis.error_reply('ERR policy publish: ' .. KEYS[i] .. ' is a ' .. t .. ', not a stream')
  end
end
local seen = ''
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  local h = redis.call('HGET', KEYS[1], 'policy_hash')
  if h then seen = '=' .. h end
end
if seen ~= ARGV[6] then
  return {'2', seen}
end
local floor, floor_text = seq_of(ARGV[5]) or 0, ARGV[5]
floor, floor_text = newest_published(KEYS[2], 'event', 'policy.updated', floor, floor_text)
floor, floor_text = newest_published(KEYS[3], 'result', 'published', floor, floor_text)
if newseq <= floor then
  return {'0', floor_text}
end
local np = tonumber(ARGV[3])
local nu = tonumber(ARGV[4])
local p, u, a = {}, {}, {}
for i = 7, 6 + np do p[#p + 1] = ARGV[i] end
for i = 7 + np, 6 + np + nu do u[#u + 1] = ARGV[i] end
for i = 7 + np + nu, #ARGV do a[#a + 1] = ARGV[i] end
if #p == 0 or #u == 0 or #a == 0 or #p % 2 ~= 0 or #u % 2 ~= 0 or #a % 2 ~= 0 then
  return redis.error_reply('ERR policy publish: malformed arguments')
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(p))
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], unpack(p))
local uid = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(u))
local aid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', unpack(a))
return {'1', uid, aid}
