-- Takes one request's cost from every rate-limit window, or nothing.
--
-- KEYS[1] the back-off key (value: unix ms until which nothing is sent)
-- KEYS[2..] one counter per window
-- ARGV per window, in KEYS order: cost, ceiling, unix ms the window ends
--
-- Reply {0, until_ms} during a back-off; {i, 0} when window i (1-based)
-- has no room for its cost (nothing taken); {-1, 0} when taken.
local b = redis.call('GET', KEYS[1])
if b then
  return {0, tonumber(b)}
end
local n = #KEYS - 1
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  local cost, ceiling = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  if used + cost > ceiling then
    return {i, 0}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, n do
  redis.call('INCRBY', KEYS[i + 1], ARGV[3 * i - 2])
  -- Live until the window ends (plus a minute of slack for clock skew).
  redis.call('PEXPIRE', KEYS[i + 1], math.max(tonumber(ARGV[3 * i]) - now, 0) + 60000)
end
return {-1, 0}
