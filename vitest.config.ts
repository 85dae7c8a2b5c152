import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real redis-server processes and gateways; on a
    // busy 2-core machine a generous timeout avoids false failures while every
    // wait inside a test is a condition, never a fixed sleep.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/support/global-setup.ts', 'test/support/kafka-global-setup.ts'],
  },
});
