-- Takes one request's cost from every rate-limit window, or nothing.
-- Only GET, SET and TIME: what the apply layer's Redis user may run
-- (deploy/redis/users.acl).
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
local used = {}
for i = 1, n do
  used[i] = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if used[i] + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then
    return {i, 0}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, n do
  -- Live until the window ends, plus a minute of slack for clock skew.
  local ttl = math.max(tonumber(ARGV[3 * i]) - now, 0) + 60000
  redis.call('SET', KEYS[i + 1], used[i] + tonumber(ARGV[3 * i - 2]), 'PX', ttl)
end
return {-1, 0}
