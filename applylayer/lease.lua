-- leaseScript takes, renews or gives up a symbol's lease: the lock that
-- serializes, across every replica, the position read, the gate's decision
-- and the order of one symbol, so that no interleaving lets a non-owner's
-- order pass as an entry while another order changes the position.
--
-- KEYS[1] the symbol's lease (a string: the holder's token)
-- ARGV[1] 'take' or 'give', ARGV[2] the holder's token (consumer and a
-- nonce per taking), ARGV[3] the lease in ms (take)
--
-- Reply: 1 held by the token (taken or renewed), 0 held by another (take)
-- or not held by the token (give).
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == 'give' then
  if cur == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
if cur and cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
