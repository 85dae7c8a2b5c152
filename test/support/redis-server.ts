/**
 * The tests' redis-server: the kit's launcher (kit/redis-server.ts), shared
 * with the benchmarks. A missing redis-server fails at once with install
 * instructions, never a silent skip.
 */
export { assertRedisInstalled, REDIS_MISSING, RedisServer } from '../../kit/redis-server.js';
export { freePort } from '../../kit/free-port.js';
