--[[
  holdReservation: the Cluster engine's fenced release or extension of a
  driver's reservation, only if it is still the given order's with the given
  fence (a late writer never touches a newer reservation).

  KEYS[1] the reservation   P{h<bucket>}res:<driverId>  (value "orderId fence created")
  ARGV[1] "orderId fence"   ARGV[2] release | extend
  ARGV[3] extend: lease ms, 0 for no expiry
  Returns: 1 done, 0 not held (someone else's, or gone)
]]
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then return 0 end
if ARGV[2] == 'release' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] == '0' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
