--[[
  createOrder: creates an order and commits its version 2 in the same step
  (OrderStore.create): the match's fast path, one round trip for what was a
  creation (commitOrder, expected version 0) and an offer (commitOrder with
  a reservation). Each version is recorded in the outbox exactly as
  commitOrder.lua would have (same entry fields); the order's hash, deadline
  and open-set membership are written once, as the last version leaves
  them (what two commitOrder calls would leave, without the first's writes).

  KEYS: none (keys derive from ARGV[1]; standalone Redis and Sentinel only:
        the Cluster engine composes create from its own commits).
  ARGV[1]  key prefix            ARGV[2]  orderId
  ARGV[3]  now (ms, the caller's clock: only the drivers' freshness; every
           expiry below runs on this server's clock)
  ARGV[4]  record the events in the outbox (1) or not (0)
  ARGV[5]  version 1's document (JSON)   ARGV[6] its deadline ms (-1: none)
  ARGV[7]  its event type        ARGV[8]  actor     ARGV[9] reason or ""
  ARGV[10] version 2 open (1) or terminal (0)
  ARGV[11] its deadline ms (-1: none)    ARGV[12] retain ms if terminal (0 = forever)
  ARGV[13] reservation lease ms  ARGV[14] stale ms
  ARGV[15] its event type        ARGV[16] actor     ARGV[17] reason or ""
  ARGV[18] msgpack { parts, slots }: version 2's document with holes
           (offer-template.ts): parts 1, then the value slot 1 names, then
           parts 2, … (a pick's values fill the holes)
  ARGV[19] msgpack { { driverId, bucket, v1, v2, v3, v4 }, … }: the picks,
           best first, with their values for the holes (JSON text); a
           driverId "" reserves nothing (a plain version 2).
  ARGV[20] the reserving region or "" / absent: with one, a pick is
           reservable only if its ownership record (prefix.."own:"..driver,
           "epoch region") names that region (as commitOrder.lua's ARGV[23])
  Returns: { 0, "conflict" }  the order exists: nothing written
           { 1, version, fence or -1, picked (1-based) or 0, refused }
             version 2 with the first pick that could be reserved (or the
             plain one), or version 1 alone when every pick was refused

  A pick is reserved as commitOrder.lua reserves: its record available,
  indexed and fresh, no reservation held; a fence from the counter, the
  reservation key with a PX lease.
]]
--@include "includes/record-layout"  -- REC, the driver record
local p, id = ARGV[1], ARGV[2]
local okey = p .. 'o:' .. id
local now = tonumber(ARGV[3])
local outbox = ARGV[4] == '1'

if redis.call('EXISTS', okey) == 1 then return { 0, 'conflict' } end

local function record(version, fence, t, a, r, doc)
  if outbox then
    redis.call('XADD', p .. 'outbox', '*', 'v', version, 'f', fence, 't', t, 'a', a, 'r', r, 'at', ARGV[3], 'doc', doc)
  end
end

local function due(deadline)
  if tonumber(deadline) >= 0 then redis.call('ZADD', p .. 'o:due', deadline, id) else redis.call('ZREM', p .. 'o:due', id) end
end

local picks = cmsgpack.unpack(ARGV[19])
local stale = tonumber(ARGV[14])
local home = ARGV[20] or ''
local function ownedHere(driver)
  if home == '' then return true end
  local own = redis.call('GET', p .. 'own:' .. driver)
  return own ~= false and string.sub(own, string.find(own, ' ', 1, true) + 1) == home
end
local chosen, fence = nil, -1
for i, pick in ipairs(picks) do
  local driver = pick[1]
  if driver == '' then chosen = i break end
  local raw = redis.call('HGET', p .. 'r:' .. pick[2], driver)
  if raw then
    local _, _, ts, _, _, _, _, status, _, indexed = struct.unpack(REC, raw)
    local rkey = p .. 'res:' .. driver
    if status == 1 and indexed == 1 and now - ts <= stale and redis.call('EXISTS', rkey) == 0 and ownedHere(driver) then
      fence = redis.call('INCR', p .. 'fence')
      redis.call('SET', rkey, id .. ' ' .. fence, 'PX', ARGV[13])
      chosen = i
      break
    end
  end
end

-- Version 1 goes to the outbox either way; the order's keys get only the last version written.
record(1, '', ARGV[7], ARGV[8], ARGV[9], ARGV[5])
if not chosen then
  redis.call('HSET', okey, 'doc', ARGV[5], 'v', 1)
  redis.call('SADD', p .. 'o:open', id)
  due(ARGV[6])
  return { 1, 1, -1, 0, #picks }
end

local template = cmsgpack.unpack(ARGV[18])
local parts, slots, pick = template[1], template[2], picks[chosen]
local out = { parts[1] }
for k = 1, #slots do
  out[#out + 1] = pick[2 + slots[k]]
  out[#out + 1] = parts[k + 1]
end
local doc = table.concat(out)

if fence ~= -1 then
  redis.call('HSET', okey, 'doc', doc, 'v', 2, 'f', fence)
else
  redis.call('HSET', okey, 'doc', doc, 'v', 2)
end
if ARGV[10] == '1' then
  redis.call('SADD', p .. 'o:open', id)
elseif tonumber(ARGV[12]) > 0 then
  redis.call('PEXPIRE', okey, ARGV[12])
end
due(ARGV[11])
record(2, fence ~= -1 and fence or '', ARGV[15], ARGV[16], ARGV[17], doc)
local refused = chosen - 1
if pick[1] == '' then refused = 0 end
return { 1, 2, fence, chosen, refused }
