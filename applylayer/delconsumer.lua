-- delConsumerScript removes a consumer from the group only when it holds no
-- pending entry, atomically: XGROUP DELCONSUMER drops the consumer's pending
-- entries with it, so a plan delivered between a check and the deletion
-- would be lost without a result.
--
-- KEYS[1] the plan stream; ARGV[1] group, ARGV[2] consumer
-- Reply: 1 removed, 0 kept (something is pending).
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
