--[[
  raiseFence: raises a fence counter to at least a value, so that fences
  handed out afterwards are above a restored one (the Cluster engine's
  counter is a key of its own; one Redis raises it inside restoreOrder.lua).

  KEYS[1] the counter   ARGV[1] the value
  Returns: the counter afterwards
]]
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return now
