-- rateScript takes one order from the per-minute budget, or refuses.
--
-- KEYS[1] the minute's counter; ARGV[1] the budget; ARGV[2] 1 to take, 0
-- to only look (canary plans). Reply 1 allowed, 0 over budget.
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return 0
end
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 120)
end
return 1
