import { openTestBackend, TEST_TIMING, type TestBackend } from '../support/backends.js';
import { pubSubContract } from './pubsub.contract.js';

/** Each backend opened is a process of its own: the memory engine shares nothing between two. */
pubSubContract('memory', {
  sharedAcrossProcesses: false,
  async make() {
    const opened: TestBackend[] = [];
    return {
      async open() {
        const t = await openTestBackend('memory', { timing: TEST_TIMING });
        opened.push(t);
        return t.backend;
      },
      async cleanup() {
        for (const t of opened.splice(0)) await t.cleanup();
      },
    };
  },
});
