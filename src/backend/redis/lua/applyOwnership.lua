--[[
  applyOwnership: writes a driver's ownership record if its epoch is higher
  than the held one's (OwnershipStore.apply): a higher epoch always wins, an
  equal or lower one never changes anything (not even the region), so local
  claims, moves and replicated records all converge to the highest epoch.

  KEYS[1] the record   prefix.."own:"..driverId (Cluster: P{h<bucket>}own:<d>,
                       the driver's shard, beside its reservation)
  ARGV[1] epoch (integer ≥ 1)   ARGV[2] region
  Value: "epoch region" (src/ownership/ownership.ts formatOwnership).
  Returns: { 1, previous value or "" }  written
           { 0, held value }            not written (held epoch ≥ ARGV[1])
]]
local held = redis.call('GET', KEYS[1])
if held then
  local epoch = tonumber(string.sub(held, 1, string.find(held, ' ', 1, true) - 1))
  if tonumber(ARGV[1]) <= epoch then return { 0, held } end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return { 1, held or '' }
