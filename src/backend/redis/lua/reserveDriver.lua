--[[
  reserveDriver: the Cluster engine's first step of a reserving commit (see
  ClusterOrderStore.commit): takes a driver's reservation for an order if no
  one holds it, with a fence the caller took from the fence counter (a
  refused call wastes it: fences only grow, with gaps).

  KEYS[1] the reservation   P{h<bucket>}res:<driverId>
  KEYS[2] its ownership record P{h<bucket>}own:<driverId> ("epoch region")
  ARGV[1] orderId   ARGV[2] fence   ARGV[3] lease ms
  ARGV[4] now (ms, the caller's clock: only for the reconciler's grace)
  ARGV[5] the reserving region or "": with one, only a driver whose
          ownership record names it is reserved
  Value: "orderId fence takenAt" (takenAt: ARGV[4]).
  Returns: 1 reserved, 0 the driver is reserved, -1 another region owns it
           (or nobody does yet).
]]
if ARGV[5] and ARGV[5] ~= '' then
  local own = redis.call('GET', KEYS[2])
  if not own or string.sub(own, string.find(own, ' ', 1, true) + 1) ~= ARGV[5] then return -1 end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[4], 'PX', ARGV[3])
return 1
