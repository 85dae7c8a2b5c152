import { afterAll, afterEach, beforeAll } from 'vitest';
import { Cleanup } from './redis-gateway.js';
import { RedisServer } from './redis-server.js';

/** What the tests of one `describe` block on Redis share. */
export interface RedisSuite {
  /** Run after each test of the block. */
  readonly cleanup: Cleanup;
  /** The block's redis-server, started before its first test (reading it earlier throws). */
  readonly server: RedisServer;
}

/**
 * The set-up of a `describe` block of a *.redis.test.ts, called in its body:
 * one redis-server for the block (started in `beforeAll`, stopped in
 * `afterAll`) and a `Cleanup` run after each test. Each test takes its own
 * key prefix on the server (`freshPrefix`), so tests never see each other's keys.
 */
export function redisSuite(): RedisSuite {
  const cleanup = new Cleanup();
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterEach(() => cleanup.run());
  afterAll(() => server?.stop());
  return {
    cleanup,
    get server(): RedisServer {
      if (!server) throw new Error('the suite\'s redis-server starts in beforeAll: read it inside a test or a hook');
      return server;
    },
  };
}
