--[[
  commitOrder: writes an order document if its version is the expected one,
  and applies the commit's effects, all or nothing (see OrderStore.commit),
  and records the commit's event in the outbox stream in the same step.

  KEYS: none (keys derive from ARGV[1]; the driver record bucket is read to
        check availability; standalone Redis and Sentinel only).
  ARGV[1]  key prefix            ARGV[2]  orderId
  ARGV[3]  expected version (0 = new order)
  ARGV[4]  order document (JSON, written as is)
  ARGV[5]  now (ms, the caller's clock: only the driver's freshness; every
           expiry below runs on this server's clock)
  ARGV[6]  open (1) or terminal (0)
  ARGV[7]  deadline ms, or -1 for none
  ARGV[8]  retain ms for a terminal order (0 = forever)
  ARGV[9]  reserve driverId or ""  ARGV[10] its record bucket
  ARGV[11] reserve lease ms      ARGV[12] stale ms
  ARGV[13] release driverId or ""  ARGV[14] release fence
  ARGV[15] extend driverId or ""   ARGV[16] extend fence   ARGV[17] extend lease ms (0: no expiry)
  ARGV[18] event type            ARGV[19] event actor    ARGV[20] event reason or ""
  ARGV[21] record the event in the outbox (1) or not (0: a store without an outbox)
  ARGV[22] a fence the caller already took (Cluster: reserveDriver.lua ran on
           the driver's shard first; ARGV[9] is then "") or "" / absent
  ARGV[23] the reserving region or "" / absent: with one, the driver is
           reserved only if its ownership record (prefix.."own:"..driver,
           "epoch region", applyOwnership.lua) names that region; otherwise
           driver_unavailable (another region's driver is read-only here)
  On Redis Cluster, KEYS[1] is ARGV[1] (the order shard's prefix P{o<k>}), only
  to route the call, and ARGV[9], ARGV[13], ARGV[15] are always "": the
  reservation lives on the driver's shard (see ClusterOrderStore).
  Returns: { 1, newVersion, fence or -1 }  or  { 0, reason }
           reason: conflict | driver_unavailable | driver_reserved

  Order        prefix.."o:"..orderId   hash { doc, v, f }
  Reservation  prefix.."res:"..driver  string "orderId fence", PX lease
  Deadlines    prefix.."o:due"         zset orderId -> deadline ms
  Open orders  prefix.."o:open"        set
  Fences       prefix.."fence"         counter
  Outbox       prefix.."outbox"        stream, one entry per commit:
               { v = new version, f = the hash's fence after the commit or "",
                 t = type, a = actor, r = reason or "", at = ARGV[5],
                 doc = ARGV[4] } (RedisOrderStore.outbox turns it into an
               OrderEvent whose doc is what get() returns after the commit)
]]
--@include "includes/record-layout"  -- REC, the driver record
local p, id = ARGV[1], ARGV[2]
local okey = p .. 'o:' .. id
local now = tonumber(ARGV[5])

local v = tonumber(redis.call('HGET', okey, 'v') or '0')
if v ~= tonumber(ARGV[3]) then return { 0, 'conflict' } end

local fence = -1
if ARGV[9] ~= '' then
  local driver = ARGV[9]
  local raw = redis.call('HGET', p .. 'r:' .. ARGV[10], driver)
  if not raw then return { 0, 'driver_unavailable' } end
  local _, _, ts, _, _, _, _, status, _, indexed = struct.unpack(REC, raw)
  if status ~= 1 or indexed ~= 1 or now - ts > tonumber(ARGV[12]) then return { 0, 'driver_unavailable' } end
  if ARGV[23] and ARGV[23] ~= '' then
    local own = redis.call('GET', p .. 'own:' .. driver)
    if not own or string.sub(own, string.find(own, ' ', 1, true) + 1) ~= ARGV[23] then return { 0, 'driver_unavailable' } end
  end
  local rkey = p .. 'res:' .. driver
  if redis.call('EXISTS', rkey) == 1 then return { 0, 'driver_reserved' } end
  fence = redis.call('INCR', p .. 'fence')
  redis.call('SET', rkey, id .. ' ' .. fence, 'PX', ARGV[11])
end
if ARGV[22] and ARGV[22] ~= '' then fence = tonumber(ARGV[22]) end
if ARGV[13] ~= '' then
  local rkey = p .. 'res:' .. ARGV[13]
  if redis.call('GET', rkey) == id .. ' ' .. ARGV[14] then redis.call('DEL', rkey) end
end
if ARGV[15] ~= '' then
  local rkey = p .. 'res:' .. ARGV[15]
  if redis.call('GET', rkey) == id .. ' ' .. ARGV[16] then
    if ARGV[17] == '0' then redis.call('PERSIST', rkey) else redis.call('PEXPIRE', rkey, ARGV[17]) end
  end
end

redis.call('HSET', okey, 'doc', ARGV[4], 'v', v + 1)
if fence ~= -1 then redis.call('HSET', okey, 'f', fence) end
if ARGV[6] == '1' then
  redis.call('SADD', p .. 'o:open', id)
  redis.call('PERSIST', okey)
else
  redis.call('SREM', p .. 'o:open', id)
  if tonumber(ARGV[8]) > 0 then redis.call('PEXPIRE', okey, ARGV[8]) end
end
if tonumber(ARGV[7]) >= 0 then
  redis.call('ZADD', p .. 'o:due', ARGV[7], id)
else
  redis.call('ZREM', p .. 'o:due', id)
end
if ARGV[21] == '1' then
  redis.call('XADD', p .. 'outbox', '*',
    'v', v + 1, 'f', redis.call('HGET', okey, 'f') or '',
    't', ARGV[18], 'a', ARGV[19], 'r', ARGV[20], 'at', ARGV[5], 'doc', ARGV[4])
end
return { 1, v + 1, fence }
