--[[
  restoreReservation: the Cluster engine's reservation side of
  OrderStore.restore: a restored order that holds a driver holds its
  reservation again, without expiry, unless a reservation with a fence at
  least as high is there. (raiseFence.lua keeps the counter above it.)

  KEYS[1] the reservation   P{h<bucket>}res:<driverId>  (value "orderId fence takenAt")
  ARGV[1] orderId   ARGV[2] fence   ARGV[3] now (ms)
  Returns: 1 written or already held, 0 a newer reservation is there
]]
local fence = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
local mine = ARGV[1] .. ' ' .. ARGV[2]
if current and string.sub(current, 1, #mine + 1) == mine .. ' ' then
  redis.call('PERSIST', KEYS[1])
  return 1
end
if current and (tonumber(string.match(current, '^.* (%d+) %d+$')) or -1) >= fence then return 0 end
redis.call('SET', KEYS[1], mine .. ' ' .. ARGV[3])
return 1
