import { afterAll, beforeAll } from 'vitest';
import { openTestBackend, TEST_TIMING, type TestBackend, uniquePrefix } from '../support/backends.js';
import { RedisServer } from '../support/redis-server.js';
import { pubSubContract } from './pubsub.contract.js';

/** One redis-server for the file; each case is one deployment: its backends (gateways) share a fresh key prefix. */
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

pubSubContract('redis', {
  sharedAcrossProcesses: true,
  async make() {
    const prefix = uniquePrefix();
    const opened: TestBackend[] = [];
    return {
      async open() {
        const t = await openTestBackend('redis', { redisUrl: server.url, timing: TEST_TIMING, prefix });
        opened.push(t);
        return t.backend;
      },
      async cleanup() {
        for (const t of opened.splice(0)) await t.cleanup();
      },
    };
  },
});
