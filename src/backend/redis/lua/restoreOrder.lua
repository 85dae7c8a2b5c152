--[[
  restoreOrder: writes an order as of its version when the stored version is
  lower or the order is absent, and re-derives what its commits would have
  left (reservation, fence counter, deadline, open set, retention), all in
  one step (see OrderStore.restore). Records no outbox entry.

  KEYS: none (keys derive from ARGV[1]; standalone Redis and Sentinel only).
  ARGV[1]  key prefix            ARGV[2]  orderId
  ARGV[3]  version to write (≥ 1)
  ARGV[4]  order document (JSON without its version, written as is)
  ARGV[5]  open (1) or terminal (0)
  ARGV[6]  deadline ms, or -1 for none
  ARGV[7]  retain ms for a terminal order (0 = forever)
  ARGV[8]  driverId the order holds (offered/accepted with a fence) or ""
  ARGV[9]  that reservation's fence
  ARGV[10] "1" on Redis Cluster (KEYS[1] = ARGV[1], the order shard's prefix,
           routes the call): the reservations live on the drivers' shards, so
           none is touched here; the reply names the one to release instead.
  Returns: 1 written, 0 the store holds this version or a newer one (nothing changed);
           on Cluster { 1, driverId, fence } of the reservation the older version
           held and this one does not ("" and -1: none), or { 0 }

  Keys: as lua/commitOrder.lua. The reservation is written without expiry
  (held until released); a driver's reservation with a fence at least as
  high is left as it is. The hash's "f" is removed: the document carries its
  own fence, which get() then reads.
]]
local p, id = ARGV[1], ARGV[2]
local okey = p .. 'o:' .. id
local version = tonumber(ARGV[3])
local driver, fence = ARGV[8], tonumber(ARGV[9])

local split = ARGV[10] == '1'
local stored = redis.call('HMGET', okey, 'v', 'doc', 'f')
if tonumber(stored[1] or '0') >= version then
  if split then return { 0 } end
  return 0
end
local released = { '', -1 }

-- The reservation the stored (older) version held and this one does not: the commits in between released it.
-- Its fence is the hash's "f" (set by a reserving commit), else the document's own (a restored one).
if stored[2] then
  local ok, old = pcall(cjson.decode, stored[2])
  if ok and type(old) == 'table' and type(old.driverId) == 'string' then
    local oldFence = tonumber(stored[3]) or tonumber(old.fence)
    if oldFence and not (old.driverId == driver and oldFence == fence) then
      released = { old.driverId, oldFence }
      local rkey = p .. 'res:' .. old.driverId
      if not split and redis.call('GET', rkey) == id .. ' ' .. string.format('%d', oldFence) then redis.call('DEL', rkey) end
    end
  end
end

if driver ~= '' and not split then
  if tonumber(redis.call('GET', p .. 'fence') or '0') < fence then redis.call('SET', p .. 'fence', ARGV[9]) end
  local rkey = p .. 'res:' .. driver
  local mine = id .. ' ' .. ARGV[9]
  local current = redis.call('GET', rkey)
  if current == mine then
    redis.call('PERSIST', rkey)
  elseif not current or (tonumber(string.match(current, ' (%d+)$')) or -1) < fence then
    redis.call('SET', rkey, mine)
  end
end

redis.call('HSET', okey, 'doc', ARGV[4], 'v', version)
redis.call('HDEL', okey, 'f')
if ARGV[5] == '1' then
  redis.call('SADD', p .. 'o:open', id)
  redis.call('PERSIST', okey)
else
  redis.call('SREM', p .. 'o:open', id)
  if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', okey, ARGV[7]) else redis.call('PERSIST', okey) end
end
if tonumber(ARGV[6]) >= 0 then
  redis.call('ZADD', p .. 'o:due', ARGV[6], id)
else
  redis.call('ZREM', p .. 'o:due', id)
end
if split then return { 1, released[1], released[2] } end
return 1
