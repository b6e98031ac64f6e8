-- Alert dedupe and publish, in one atomic step. Redis runs a script without
-- interleaving any other command, so two runs (a timer and a follow mode, or
-- two hosts) deciding about the same incident cannot both publish.
--
-- KEYS[1] incident state hash, KEYS[2] alerts stream
-- ARGV[1] mode: fire | resolve
-- ARGV[2] now (unix seconds, the caller's clock)
-- ARGV[3] repeat interval in seconds (fire only)
-- ARGV[4] fingerprint (the alert identity; alert_id is fingerprint-incident number)
-- ARGV[5] stream MAXLEN (approximate)
-- ARGV[6] deny_count, or '' to report the incident's occurrences instead
-- ARGV[7] alert_type, ARGV[8] severity, ARGV[9] window
-- ARGV[10..] detail field, value, ...
--
-- Reply: {outcome, alert_id, entry_id_or_last_notified}
--   fire:    {'fired', id, entry} new incident; {'renotified', id, entry} still
--            firing and the repeat interval has passed; {'held', id, last_notified_at}
--   resolve: {'resolved', id, entry}; {'clear', '', ''} when nothing was firing
--
-- Every check runs before the first write: Redis does not roll back a script
-- that fails half-way.
local tstream = redis.call('TYPE', KEYS[2])['ok']
if tstream ~= 'none' and tstream ~= 'stream' then
  return redis.error_reply('ERR alert: ' .. KEYS[2] .. ' is a ' .. tstream .. ', not a stream')
end
local tstate = redis.call('TYPE', KEYS[1])['ok']
if tstate ~= 'none' and tstate ~= 'hash' then
  return redis.error_reply('ERR alert: ' .. KEYS[1] .. ' is a ' .. tstate .. ', not a hash')
end
local mode = ARGV[1]
local now = tonumber(ARGV[2])
local rep = tonumber(ARGV[3])
if now == nil or rep == nil or (mode ~= 'fire' and mode ~= 'resolve') or #ARGV % 2 ~= 1 then
  return redis.error_reply('ERR alert: malformed arguments')
end

local st = redis.call('HMGET', KEYS[1], 'status', 'alert_id', 'started_at', 'last_notified_at', 'occurrences', 'incidents')
local status, id, started, last = st[1], st[2], st[3], st[4]
local occ = tonumber(st[5]) or 0
local incidents = tonumber(st[6]) or 0

local function publish(s, count)
  local a = {'MAXLEN', '~', ARGV[5], '*',
    'alert_type', ARGV[7], 'status', s, 'severity', ARGV[8], 'alert_id', id,
    'deny_count', count, 'window', ARGV[9], 'timestamp', ARGV[2],
    'started_at', started, 'occurrences', tostring(occ)}
  for i = 10, #ARGV do a[#a + 1] = ARGV[i] end
  return redis.call('XADD', KEYS[2], unpack(a))
end

local function count()
  if ARGV[6] == '' then return tostring(occ) end
  return ARGV[6]
end

if mode == 'fire' then
  if status == 'firing' then
    occ = occ + 1
    redis.call('HSET', KEYS[1], 'occurrences', occ, 'last_seen_at', ARGV[2])
    if now - (tonumber(last) or 0) < rep then
      return {'held', id, last}
    end
    local eid = publish('firing', count())
    redis.call('HSET', KEYS[1], 'last_notified_at', ARGV[2])
    return {'renotified', id, eid}
  end
  incidents = incidents + 1
  occ = 1
  id = ARGV[4] .. '-' .. incidents
  started = ARGV[2]
  redis.call('HSET', KEYS[1], 'status', 'firing', 'alert_type', ARGV[7], 'alert_id', id,
    'started_at', started, 'last_notified_at', ARGV[2], 'last_seen_at', ARGV[2],
    'occurrences', occ, 'incidents', incidents)
  redis.call('HDEL', KEYS[1], 'resolved_at')
  return {'fired', id, publish('firing', count())}
end

if status ~= 'firing' then
  return {'clear', '', ''}
end
local eid = publish('resolved', '0')
redis.call('HSET', KEYS[1], 'status', 'resolved', 'resolved_at', ARGV[2])
return {'resolved', id, eid}
