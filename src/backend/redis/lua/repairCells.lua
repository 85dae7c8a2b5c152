--[[
  repairCells: the cell side of DriverStore.repairIndex, over a batch of cell
  keys (found by SCAN). Removes every entry whose driver has no record, is
  out of the index, or is indexed in another cell. Each entry is checked
  against its record and removed inside this one call, so an entry that
  applyPings just wrote for a driver moving into the cell is never taken
  for a stray; idempotent, safe from several gateways at once.

  The record of an entry is found by its bucket, bucketOf() of
  src/backend/redis/redis-layout.ts (FNV-1a over UTF-16 code units) recomputed here.
  For ASCII ids (every id the driver socket accepts, see src/domain/ids.ts)
  the bytes are the code units; an entry with a non-ASCII id is counted as
  found and left alone, since its record cannot be located from here.

  KEYS: the cell hashes (prefix.."c:"..cell); their records are read from
        prefix.."r:"..bucket, not declared (standalone Redis only).
  ARGV[1] key prefix    ARGV[2] number of record buckets (BUCKETS)
  Returns: { found, fixed }
]]
--@include "includes/record-layout"  -- REC, the driver record
local prefix, buckets = ARGV[1], tonumber(ARGV[2])
local cstart = #prefix + 3 -- the cell name follows prefix.."c:"
local TWO32 = 4294967296

-- FNV-1a, 32 bits, as bucketOf(). h * 16777619 mod 2^32 is split into
-- h * 403 + (h mod 256) * 2^24 (16777619 = 2^24 + 403) so that every
-- intermediate stays below 2^53, where Lua's doubles are exact.
local function bucketOf(id)
  local h = 2166136261
  for k = 1, #id do
    local c = string.byte(id, k)
    if c >= 128 then return nil end
    h = bit.bxor(h, c) % TWO32
    h = (h * 403 + (h % 256) * 16777216) % TWO32
  end
  return h % buckets
end

local found, fixed = 0, 0
for _, ckey in ipairs(KEYS) do
  local cell = string.sub(ckey, cstart)
  local ids = redis.call('HKEYS', ckey)
  for _, id in ipairs(ids) do
    local bucket = bucketOf(id)
    if not bucket then
      found = found + 1
    else
      local raw = redis.call('HGET', prefix .. 'r:' .. bucket, id)
      local stray = not raw
      if raw then
        local indexed, rcell = select(10, struct.unpack(REC, raw))
        stray = indexed ~= 1 or rcell ~= cell
      end
      if stray then
        redis.call('HDEL', ckey, id)
        found, fixed = found + 1, fixed + 1
      end
    end
  end
end
return { found, fixed }
