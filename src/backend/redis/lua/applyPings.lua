--[[
  applyPings: applies batches of driver pings in one round trip.
  Guarantees: see DriverStore.applyBatches (exactly-once by seq, monotonic
  position by ts, sticky status, a driver in exactly one cell).

  KEYS: none. Every key derives from ARGV[1]: the old cell of a driver is only
        known inside Redis, so keys cannot all be declared up front. Standalone
        Redis (and Sentinel) only; Redis Cluster needs a slot-aware layout.
  ARGV[1] key prefix, e.g. "hf:v1:"
  ARGV[2] msgpack flat array:
          nDrivers, then per driver: driverId, bucket, vehicle, nPings,
          then per ping (ascending seq), 9 values:
          seq, ts, latE7, lngE7, acc, spd, hdg, status, cell
          (vehicle 0 = unchanged, else a code of src/domain/vehicle.ts;
           acc/spd/hdg -1 = absent; status 0 = unchanged, 1 available,
           2 busy, 3 offline; cell "" when this ping cannot win, see
           redis-driver-store.ts)
  Returns: array with the number of applied pings per driver, in order.

  Records  prefix.."r:"..bucket   hash driverId -> struct REC
  Index    prefix.."c:"..cell     hash driverId -> struct ENTRY
  (REC and ENTRY: RECORD and ENTRY of redis-layout.ts, via the include.)
]]
--@include "includes/record-layout"

local prefix = ARGV[1]
local p = cmsgpack.unpack(ARGV[2])
local out = {}
local i = 2
for d = 1, p[1] do
  local id, bucket, newvehicle, np = p[i], p[i + 1], p[i + 2], p[i + 3]
  i = i + 4
  local rkey = prefix .. 'r:' .. bucket
  local raw = redis.call('HGET', rkey, id)
  local lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell
  if raw then
    lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = struct.unpack(REC, raw)
  else
    seq, status, vehicle, indexed = -1, 0, 0, 0
  end
  local applied, moved, newcell = 0, false, nil
  for _ = 1, np do
    local s = p[i]
    if s > seq then
      applied = applied + 1
      seq = s
      if p[i + 7] ~= 0 then status = p[i + 7] end
      if ts == nil or p[i + 1] >= ts then
        ts, lat, lng, acc, spd, hdg, newcell = p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 8]
        moved = true
      end
    end
    i = i + 9
  end
  if applied > 0 then
    if newvehicle ~= 0 then vehicle = newvehicle end
    if moved then
      if indexed == 1 and cell ~= newcell then
        redis.call('HDEL', prefix .. 'c:' .. cell, id)
      end
      cell, indexed = newcell, 1
    end
    if indexed == 1 then
      redis.call('HSET', prefix .. 'c:' .. cell, id, struct.pack(ENTRY, lat, lng, ts, status, vehicle))
    end
    redis.call('HSET', rkey, id, struct.pack(REC, lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell))
  end
  out[d] = applied
end
return out
