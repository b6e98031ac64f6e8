-- place.lua: one PlaceOrder of the paper venue, atomically (see paper.go).
--
-- KEYS: 1 order hash, 2 position hash of the symbol, 3 order id counter,
--       4 order index (zset, scored by placement time in ms), 5 symbol index (set), 6 the day's realized PnL (hash)
-- ARGV: 1 client order id, 2 symbol, 3 side, 4 type,
--       5 quantity in units of 1e-8 (integer text), 6 quantity as text,
--       7 limit price as text ("0" for MARKET), 8 mark price as text,
--       9 "1" when the order fills now, "0" when it rests, "x" when it
--         expires at once (an IOC LIMIT that is not marketable),
--       10 "true" when reduce-only, 11 rejection code found by Go ("" if none),
--       12 its message, 13 time in unix milliseconds, 14 default leverage,
--       15 TTL of the day's PnL hash in seconds,
--       16 order retention in milliseconds (the order hash expires after
--          it; the index drops entries placed longer ago)
-- Reply: {"dup", field, value, ...} the order already held, unchanged
--        {"new", field, value, ...} the order just placed
--        {"rej", code, message}     refused, nothing written
--
-- Every check comes before the first write, so a rejection (or a Lua error
-- in the checks) leaves nothing behind. A command the caller's Redis user
-- may not run fails the script where it stands, after earlier writes:
-- deploy/redis/users.acl grants the apply-layer user every command here
-- (cmd/quantum TestACLUsers runs this script as that user). Quantities are integers of 1e-8 units, exact in
-- Lua's doubles up to 2^53-1 (MAX; Go's MaxUnits).

local MAX = 9007199254740991

local held = redis.call('HGETALL', KEYS[1])
if #held > 0 then
  local reply = {'dup'}
  for i = 1, #held do reply[i + 1] = held[i] end
  return reply
end
if ARGV[11] ~= '' then
  return {'rej', ARGV[11], ARGV[12]}
end

-- "-1.5" -> -150000000; a missing field (false) -> 0.
local function to_e8(s)
  if not s then return 0 end
  local sign, i, f = string.match(s, '^(%-?)(%d+)%.?(%d*)$')
  local n = tonumber(i .. string.sub(f .. '00000000', 1, 8))
  if sign == '-' then return -n end
  return n
end

-- -150000000 -> "-1.5": Go's formatE8.
local function from_e8(n)
  if n == 0 then return '0' end
  local sign = ''
  if n < 0 then sign, n = '-', -n end
  local s = string.format('%.0f', n)
  if #s < 9 then s = string.rep('0', 9 - #s) .. s end
  local f = string.gsub(string.sub(s, -8), '0+$', '')
  if f == '' then return sign .. string.sub(s, 1, -9) end
  return sign .. string.sub(s, 1, -9) .. '.' .. f
end

local pos = redis.call('HMGET', KEYS[2], 'amount', 'entry_price', 'leverage')
local amt = to_e8(pos[1])
local leverage = pos[3] or ARGV[14]
local q = tonumber(ARGV[5])
local buy = ARGV[3] == 'BUY'

if ARGV[10] == 'true' then
  -- Binance: a reduce-only order needs a position on the other side, and
  -- never takes more than that position.
  if amt == 0 or (buy and amt > 0) or (not buy and amt < 0) then
    return {'rej', '-2022', 'ReduceOnly Order is rejected.'}
  end
  if q > math.abs(amt) then q = math.abs(amt) end
end

local status, executed, avg = 'NEW', 0, '0'
if ARGV[9] == 'x' then
  status = 'EXPIRED'
end
if ARGV[9] == '1' then
  local n = amt - q
  if buy then n = amt + q end
  if math.abs(n) > MAX then
    return {'rej', '-2027', 'Exceeded the maximum allowable position at current leverage.'}
  end
  local entry = pos[2] or '0'
  if n == 0 then
    entry = '0'
  elseif amt == 0 or (amt > 0) ~= (n > 0) then
    entry = ARGV[8] -- opened or flipped: the fill price
  elseif math.abs(n) > math.abs(amt) then
    -- increased: the weighted average, rounded to 8 places
    local e = (math.abs(amt) * tonumber(entry) + q * tonumber(ARGV[8])) / math.abs(n)
    entry = string.gsub(string.gsub(string.format('%.8f', e), '0+$', ''), '%.$', '')
  end -- reduced: the entry price stays
  if amt ~= 0 and (amt > 0) ~= buy then
    -- reduced, closed or flipped: realize |closed| x (fill - entry), x -1 short
    local closed = math.min(math.abs(amt), q) / 100000000
    local pnl = closed * (tonumber(ARGV[8]) - tonumber(pos[2] or '0'))
    if amt < 0 then pnl = -pnl end
    redis.call('HINCRBYFLOAT', KEYS[6], 'realized', string.format('%.8f', pnl))
    redis.call('HINCRBYFLOAT', KEYS[6], 'realized:' .. ARGV[2], string.format('%.8f', pnl))
    redis.call('EXPIRE', KEYS[6], ARGV[15])
  end
  redis.call('HSET', KEYS[2], 'amount', from_e8(n), 'entry_price', entry)
  redis.call('SADD', KEYS[5], ARGV[2])
  status, executed, avg = 'FILLED', q, ARGV[8]
end

local id = string.format('%.0f', redis.call('INCR', KEYS[3]))
local rec = {
  'client_order_id', ARGV[1], 'order_id', id, 'symbol', ARGV[2],
  'side', ARGV[3], 'type', ARGV[4], 'status', status,
  'orig_qty', ARGV[6], 'executed_qty', from_e8(executed),
  'price', ARGV[7], 'avg_price', avg, 'reduce_only', ARGV[10],
  'leverage', leverage, 'time_ms', ARGV[13],
}
redis.call('HSET', KEYS[1], unpack(rec))
redis.call('PEXPIRE', KEYS[1], ARGV[16])
redis.call('ZADD', KEYS[4], ARGV[13], ARGV[1])
-- Orders placed longer ago than the retention leave the index (their
-- hashes expire by themselves): the index stays as large as the window.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. string.format('%.0f', tonumber(ARGV[13]) - tonumber(ARGV[16])))
local reply = {'new'}
for i = 1, #rec do reply[i + 1] = rec[i] end
return reply
