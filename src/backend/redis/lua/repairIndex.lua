--[[
  repairIndex: the record side of DriverStore.repairIndex, over a range of
  record buckets. The record is the truth: every indexed record must have an
  entry in the cell it names, holding what the record holds. A missing or
  outdated entry is written; but a driver silent past offlineMs whose entry
  is missing leaves the index instead (what sweep would have done), rather
  than coming back into nearby() until the next sweep.
  Entries in the wrong cell are repairCells.lua's job. Each record is checked
  and fixed inside this one call, so a concurrent applyPings never sees half
  a repair; idempotent, safe from several gateways at once.

  KEYS: none (record buckets are prefix.."r:"..n for n in [first, last];
        their cells derive from the records; standalone Redis only).
  ARGV[1] key prefix    ARGV[2] now (ms)    ARGV[3] offlineMs
  ARGV[4] first bucket  ARGV[5] last bucket
  Returns: { found, fixed } (equal: every finding here can be fixed)
]]
--@include "includes/record-layout"  -- REC, ENTRY
local prefix = ARGV[1]
local now, offline = tonumber(ARGV[2]), tonumber(ARGV[3])
local found = 0
for b = tonumber(ARGV[4]), tonumber(ARGV[5]) do
  local rkey = prefix .. 'r:' .. b
  local all = redis.call('HGETALL', rkey)
  for j = 1, #all, 2 do
    local id = all[j]
    local lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = struct.unpack(REC, all[j + 1])
    if indexed == 1 then
      local ckey = prefix .. 'c:' .. cell
      local want = struct.pack(ENTRY, lat, lng, ts, status, vehicle)
      local have = redis.call('HGET', ckey, id)
      if have ~= want then
        found = found + 1
        if not have and now - ts > offline then
          redis.call('HSET', rkey, id, struct.pack(REC, lat, lng, ts, seq, acc, spd, hdg, status, vehicle, 0, cell))
        else
          redis.call('HSET', ckey, id, want)
        end
      end
    end
  end
end
return { found, found }
