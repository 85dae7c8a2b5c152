--[[
  applyPings: applies batches of driver pings in one round trip.
  Guarantees: see DriverStore.applyBatches (exactly-once by seq, monotonic
  position by ts, sticky status, a driver in exactly one cell).

  KEYS: none on a standalone Redis, where every key derives from ARGV[1]
        (the old cell of a driver is only known inside Redis). On Redis
        Cluster, KEYS[1] is ARGV[1] itself, only to route the call: ARGV[1]
        then carries the hash tag of one area, every key below shares it,
        and the call holds only drivers whose position is in that area
        (see src/backend/redis/cluster/cluster-driver-store.ts).
  ARGV[1] key prefix, e.g. "hf:v1:" (Cluster: "hf:v1:{a<area>}")
  ARGV[2] msgpack flat array:
          nDrivers, then per driver: driverId, bucket, vehicle, mode, seed,
          nPings, then per ping (ascending seq), 9 values:
          seq, ts, latE7, lngE7, acc, spd, hdg, status, cell
          (vehicle 0 = unchanged, else a code of src/domain/vehicle.ts;
           acc/spd/hdg -1 = absent; status 0 = unchanged, 1 available,
           2 busy, 3 offline; cell "" when this ping cannot win, see
           apply-payload.ts, or, on Cluster, when its cell is in another area)
          mode 1: a driver without a record here gets one (standalone: always);
          mode 0: it must have one here, else nothing is written (-1);
          mode 2: seed is its record in the area it leaves (struct REC, in
                  hex: Redis's cmsgpack has no binary type): the base when no
                  newer record is here, never indexed here.
          A driver whose position would end in a cell given as "" (another
          area), or, from a seed, would not move, is not written (-2): the
          caller applies it where it belongs. Standalone never sees -1 or -2.
  Returns: 2 × nDrivers values: first the number of applied pings per driver,
           in order (or -1, -2 as above), then each driver's record as stored
           after the call (struct REC; "" when not written here), which the
           gateway publishes to the other gateways' read index.

  Records  prefix.."r:"..bucket   hash driverId -> struct REC
  Index    prefix.."c:"..cell     hash driverId -> struct ENTRY
  (REC and ENTRY: RECORD and ENTRY of redis-layout.ts, via the include.)
]]
--@include "includes/record-layout"

local prefix = ARGV[1]
local p = cmsgpack.unpack(ARGV[2])
local out, recs = {}, {}
local i = 2
for d = 1, p[1] do
  local id, bucket, newvehicle, mode, seed, np = p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5]
  i = i + 6
  local rkey = prefix .. 'r:' .. bucket
  local raw = redis.call('HGET', rkey, id)
  local lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell
  local seeded, stray = false, nil
  if raw then
    lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = struct.unpack(REC, raw)
  else
    seq, status, vehicle, indexed = -1, 0, 0, 0
  end
  if mode == 2 then
    seed = string.gsub(seed, '%x%x', function(h) return string.char(tonumber(h, 16)) end)
    local slat, slng, sts, sseq, sacc, sspd, shdg, sstatus, svehicle = struct.unpack(REC, seed)
    if sseq > seq then
      -- The record of the area being left is newer: it is the base; an entry a leftover here holds goes.
      if indexed == 1 then stray = cell end
      lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = slat, slng, sts, sseq, sacc, sspd, shdg, sstatus, svehicle, 0, ''
      seeded = true
    end
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
  recs[d] = ''
  if not raw and mode == 0 then
    out[d] = -1
  elseif (moved and newcell == '') or (seeded and not moved) then
    out[d] = -2
  else
    recs[d] = raw or ''
    if stray then redis.call('HDEL', prefix .. 'c:' .. stray, id) end
    if applied > 0 or seeded then
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
      recs[d] = struct.pack(REC, lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell)
      redis.call('HSET', rkey, id, recs[d])
    end
    out[d] = applied
  end
end
local n = #out
for d = 1, n do out[n + d] = recs[d] end
return out
