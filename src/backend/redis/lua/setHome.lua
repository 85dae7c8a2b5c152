--[[
  setHome: the Cluster engine's directory of where each driver's record
  lives (its area), seq-guarded: the move with the highest seq wins, so a
  retried or late move never points the directory back at an older area.

  KEYS[1] P{h<bucket>}home   hash driverId → "area seq"
  ARGV[1] driverId   ARGV[2] area   ARGV[3] seq of the record written there
  ARGV[4] "1": set it whatever seq the directory holds (the record it named is gone)
  Returns: the area the directory names afterwards
]]
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and ARGV[4] ~= '1' then
  local area, seq = string.match(v, '^(%S+) (%S+)$')
  if tonumber(seq) > tonumber(ARGV[3]) or (tonumber(seq) == tonumber(ARGV[3]) and area == ARGV[2]) then return area end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return ARGV[2]
