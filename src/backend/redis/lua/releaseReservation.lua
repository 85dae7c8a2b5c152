--[[
  releaseReservation: deletes a driver's reservation only if it still holds
  the given order and fence (a late writer never frees a newer reservation).
  KEYS[1] the reservation key   ARGV[1] "orderId fence"
  Returns: 1 released, 0 not (someone else's, or gone)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
