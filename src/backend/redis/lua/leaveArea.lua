--[[
  leaveArea: the Cluster engine's last step of a driver's move to another
  area: removes its record and cell entry from the area it left, unless a
  newer ping has written there since (seq above the move's): a driver that
  bounced back keeps the record it bounced back to. Idempotent.

  KEYS[1] the area's record bucket   P{a<area>}r:<b>
  ARGV[1] the area's prefix P{a<area>}   ARGV[2] driverId   ARGV[3] the move's seq
  Returns: 1 removed, 0 not (gone already, or newer)
]]
--@include "includes/record-layout"  -- REC, the driver record
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local lat, lng, ts, seq, acc, spd, hdg, status, vehicle, indexed, cell = struct.unpack(REC, raw)
if seq > tonumber(ARGV[3]) then return 0 end
if indexed == 1 then redis.call('HDEL', ARGV[1] .. 'c:' .. cell, ARGV[2]) end
redis.call('HDEL', KEYS[1], ARGV[2])
return 1
