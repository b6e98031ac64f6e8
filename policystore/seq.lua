-- seq_of reads a policy_seq exactly as Go's policy.ParseSeq does: a plain
-- decimal without sign or leading zero, 1 to 2^53-1 (the largest integer a
-- Lua number holds exactly). Anything else ('1e30', '18446744073709551615',
-- '007', 'abc', ' 7') is nil: tonumber would read some of those.
local function seq_of(s)
  if type(s) ~= 'string' or #s == 0 or #s > 16 or not string.match(s, '^[1-9][0-9]*$') then
    return nil
  end
  if #s == 16 and s > '9007199254740991' then
    return nil
  end
  return tonumber(s)
end

-- newest_published returns the highest seq, and its text, among the
-- newest 50 entries of stream key whose field equals want (policy.update:
-- event=policy.updated; policy.audit: result=published), above floor.
local function newest_published(key, field, want, floor, floor_text)
  local entries = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 50)
  for _, e in ipairs(entries) do
    local f, m = e[2], {}
    for i = 1, #f, 2 do m[f[i]] = f[i + 1] end
    if m[field] == want then
      local n = seq_of(m['policy_seq'])
      if n ~= nil and n > floor then
        floor, floor_text = n, m['policy_seq']
      end
    end
  end
  return floor, floor_text
end
