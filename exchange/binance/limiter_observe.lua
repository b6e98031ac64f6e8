-- Raises window counters to the usage the venue reported in its headers,
-- and (ARGV[1] > 0) sets the back-off. Only GET, SET and TIME.
--
-- KEYS[1] the back-off key; KEYS[2..] a window's counter.
-- ARGV[1] back-off until (unix ms; 0: none); then per window, in KEYS
-- order: the venue's count, unix ms the window ends.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = tonumber(ARGV[1])
if until_ms > now then
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if until_ms > cur then
    redis.call('SET', KEYS[1], until_ms, 'PX', until_ms - now)
  end
end
for i = 2, #KEYS do
  local v = tonumber(ARGV[2 * i - 2])
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v > cur then
    redis.call('SET', KEYS[i], v, 'PX', math.max(tonumber(ARGV[2 * i - 1]) - now, 0) + 60000)
  end
end
return 1
