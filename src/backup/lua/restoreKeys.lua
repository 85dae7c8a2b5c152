--[[
  restoreKeys: RESTORE a batch of keys from a backup, for hexfleet backup
  restore on one Redis (src/backup/key-writer.ts). One call per batch
  instead of one command per key: the restoring client then spends its time
  on data, not on commands. (On a cluster the keys of a batch live on many
  nodes, so each is sent on its own through the cluster client.)

  KEYS:  none: the keys come from the backup file, as ARGV triples.
  ARGV:  key, absolute expiry in ms since the epoch (0: none), DUMP payload; repeated
  Each key is RESTOREd with REPLACE (a fuzzy scan may hold a key twice:
  the later copy wins) and ABSTTL (it expires when it would have; one
  already past is not created).
  Returns the number of keys restored. A bad payload (another Redis
  version, corrupt) fails the call: Redis's own error, naming nothing
  restored of this batch past it.
]]
for i = 1, #ARGV, 3 do
  redis.call('RESTORE', ARGV[i], ARGV[i + 1], ARGV[i + 2], 'REPLACE', 'ABSTTL')
end
return #ARGV / 3
