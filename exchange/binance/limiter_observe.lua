-- Raises window counters to the usage the venue reported in its headers.
--
-- KEYS[i] a window's counter; ARGV[2i-1] the venue's count, ARGV[2i] unix
-- ms the window ends.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  local v = tonumber(ARGV[2 * i - 1])
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v > cur then
    redis.call('SET', KEYS[i], v, 'PX', math.max(tonumber(ARGV[2 * i]) - now, 0) + 60000)
  end
end
return 1
