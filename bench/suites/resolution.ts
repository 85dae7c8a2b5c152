/**
 * `npm run bench:resolution`: nearby() by H3 resolution and ring-search
 * strategy (scenarios/nearby-resolution.ts) on the run's redis-server; the
 * resolution tables of docs/geo-store-design.md come from it. Prints markdown, writes no file.
 */
import type { Suite } from '../lib/suite.js';
import { runResolution } from '../scenarios/nearby-resolution.js';

export const resolutionSuite: Suite = {
  name: 'resolution',
  summary: 'nearby() throughput on the Redis and memory stores by H3 resolution (7–10) and ring-search strategy.',
  flags: {
    quick: 'smoke run: 20,000 drivers in the dense city instead of 100,000, 1 s per measurement',
    duration: { full: 3, quick: 1, help: 'seconds each store, resolution and query shape is measured' },
    keepLogs: 'keep the temp dir with the Redis data',
  },
  output: 'markdown',
  prepare(options) {
    return async ({ session }) => {
      const redis = await session.startRedis();
      return { kind: 'markdown', markdown: await runResolution(redis, options) };
    };
  },
};
