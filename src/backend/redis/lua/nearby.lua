--[[
  nearby: reads one slice of H3 rings around a point (see ring-planner.ts for
  why the search is exact) and returns the nearest matching drivers in it.
  The reference implementation is scanSlice() in nearby-search.ts.

  KEYS: none (cells are prefix.."c:"..cell for the cells in ARGV; standalone only).
  ARGV[1] key prefix  ARGV[2] lat  ARGV[3] lng  ARGV[4] radiusM  ARGV[5] limit
  ARGV[6] now  ARGV[7] staleMs  ARGV[8] includeStale (0|1)
  ARGV[9] status filter (-1 any, 0 unknown, 1 available, 2 busy, 3 offline)
  ARGV[10] vehicle mask (0 any; bit n set = vehicle code n allowed)
  ARGV[11] nPrior, then nPrior distances already found by earlier slices,
  then nRings, then per ring: bound, nCells, cell...
  Returns: { complete (0|1), id1, entry1, id2, entry2, ... } nearest first,
           at most limit pairs; entry is struct ENTRY (see redis-layout.ts).
]]
--@include "includes/record-layout"  -- ENTRY, the cell entry
local R = 6371008.8
local RAD = math.pi / 180
local prefix = ARGV[1]
local qlat, qlng, radius = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local limit, now, staleMs = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local includeStale, want, vmask = ARGV[8] == '1', tonumber(ARGV[9]), tonumber(ARGV[10])
local cosq = math.cos(qlat * RAD)

local prior = {}
local a = 12
for k = 1, tonumber(ARGV[11]) do prior[k] = tonumber(ARGV[a]); a = a + 1 end

local found = {}
local complete = 0
local nRings = tonumber(ARGV[a]); a = a + 1
for _ = 1, nRings do
  local bound, nCells = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  for c = 1, nCells do
    local all = redis.call('HGETALL', prefix .. 'c:' .. ARGV[a + c - 1])
    for j = 1, #all, 2 do
      local latE7, lngE7, ts, status, vehicle = struct.unpack(ENTRY, all[j + 1])
      if (want < 0 or status == want) and (includeStale or now - ts <= staleMs)
          and (vmask == 0 or math.floor(vmask / 2 ^ vehicle) % 2 == 1) then
        local lat, lng = latE7 / 1e7, lngE7 / 1e7
        local sLat = math.sin((lat - qlat) * RAD / 2)
        local sLng = math.sin((lng - qlng) * RAD / 2)
        local s = sLat * sLat + cosq * math.cos(lat * RAD) * sLng * sLng
        if s > 1 then s = 1 end
        local d = 2 * R * math.asin(math.sqrt(s))
        if d <= radius then found[#found + 1] = { d, all[j], all[j + 1] } end
      end
    end
  end
  a = a + nCells
  if bound >= radius then complete = 1; break end
  local within = 0
  for k = 1, #prior do if prior[k] <= bound then within = within + 1 end end
  for k = 1, #found do if found[k][1] <= bound then within = within + 1 end end
  if within >= limit then complete = 1; break end
end

table.sort(found, function(x, y) if x[1] ~= y[1] then return x[1] < y[1] end return x[2] < y[2] end)
local out = { complete }
for k = 1, math.min(#found, limit) do
  out[#out + 1] = found[k][2]
  out[#out + 1] = found[k][3]
end
return out
