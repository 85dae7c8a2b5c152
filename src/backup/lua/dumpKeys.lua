#!lua flags=no-writes,allow-cross-slot-keys
--[[
  dumpKeys: DUMP and PTTL of every key of one SCAN page, for hexfleet backup
  (src/backup/snapshot.ts). One call per page instead of two commands per
  key: the backup's client then spends its time on data, not on commands.

  KEYS:  none. The keys come from SCAN on this very node and are passed as
         ARGV: declared keys of one page would span many hash slots, which
         a cluster refuses (CROSSSLOT); allow-cross-slot-keys (Redis 7)
         lets a script read keys of several slots that this node serves.
  ARGV:  the key names
  Returns a flat array, two entries per key in ARGV order: its DUMP payload
  (nil when the key is gone since SCAN saw it) and its PTTL (-1: no expiry,
  -2: gone).
]]
local out = {}
for i = 1, #ARGV do
  out[2 * i - 1] = redis.call('DUMP', ARGV[i])
  out[2 * i] = redis.call('PTTL', ARGV[i])
end
return out
