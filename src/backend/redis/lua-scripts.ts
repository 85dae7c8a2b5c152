import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * Registers the Lua scripts of src/backend/redis/lua on a connection. ioredis runs them
 * with EVALSHA and re-sends the source on NOSCRIPT, so a Redis restart (which
 * forgets loaded scripts) heals itself on the next call. Scripts are
 * addressed by the SHA1 of their text, so two hexfleet versions sharing one
 * Redis during a rolling deploy never run each other's scripts.
 */
export function loadLuaScripts(redis: Redis): void {
  const read = (name: string): string => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
  redis.defineCommand('hexfleetApplyPings', { numberOfKeys: 0, lua: read('applyPings') });
  redis.defineCommand('hexfleetNearby', { numberOfKeys: 0, lua: read('nearby') });
  redis.defineCommand('hexfleetSweep', { numberOfKeys: 0, lua: read('sweep') });
  redis.defineCommand('hexfleetRepairIndex', { numberOfKeys: 0, lua: read('repairIndex') });
  // No fixed key count: the first argument says how many cell keys follow.
  redis.defineCommand('hexfleetRepairCells', { lua: read('repairCells') });
}
