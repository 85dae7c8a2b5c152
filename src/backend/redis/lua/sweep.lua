--[[
  sweep: takes silent drivers out of the cell index, and forgets drivers
  silent past the retention, over a range of record buckets.
  Idempotent: two gateways sweeping the same buckets do no harm.

  KEYS: none (record buckets are prefix.."r:"..n for n in [first, last];
        their cells derive from the records; standalone Redis only).
  ARGV[1] key prefix    ARGV[2] now (ms)
  ARGV[3] offlineMs     ARGV[4] retentionMs
  ARGV[5] first bucket  ARGV[6] last bucket
  Returns: { unindexed, removed }
]]
--@include "includes/record-layout"  -- REC, the driver record
local prefix = ARGV[1]
local now, offline, retention = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local unindexed, removed = 0, 0
for b = tonumber(ARGV[5]), tonumber(ARGV[6]) do
  local rkey = prefix .. 'r:' .. b
  local all = redis.call('HGETALL', rkey)
  for j = 1, #all, 2 do
    local id = all[j]
    local lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = struct.unpack(REC, all[j + 1])
    local silent = now - ts
    if silent > retention then
      if indexed == 1 then redis.call('HDEL', prefix .. 'c:' .. cell, id) end
      redis.call('HDEL', rkey, id)
      removed = removed + 1
    elseif indexed == 1 and silent > offline then
      redis.call('HDEL', prefix .. 'c:' .. cell, id)
      redis.call('HSET', rkey, id, struct.pack(REC, lat, lng, ts, seq, acc, spd, hdg, status, vehicle, 0, cell))
      unindexed = unindexed + 1
    end
  end
end
return { unindexed, removed }
