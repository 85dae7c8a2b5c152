/**
 * `npm run bench:tls`: what the gateway's own TLS costs per request, kept
 * alive and with a handshake per request, against plain HTTP in the same run
 * (scenarios/tls-cost.ts). Needs no Redis. Prints markdown and writes
 * bench/results/tls-latest.md (tls-quick.md with --quick).
 */
import { writeFileSync } from 'node:fs';
import type { Suite } from '../lib/suite.js';
import { runTlsCost } from '../scenarios/tls-cost.js';

export const tlsSuite: Suite = {
  name: 'tls',
  summary: 'Gateway CPU and latency per request over https (TLS 1.3, kept alive and a handshake per request) against http, two gateway processes in the same run.',
  flags: {
    quick: 'smoke run: 2 rounds of 500 ms per side',
  },
  output: 'markdown',
  prepare(options) {
    return async () => {
      const table = await runTlsCost(options.quick ? { rounds: 2, roundMs: 500, connections: 8 } : { rounds: 6, roundMs: 3000, connections: 8 });
      const markdown = `# hexfleet gateway TLS cost benchmark\n\n${table}`;
      writeFileSync(new URL(`../../../bench/results/tls-${options.quick ? 'quick' : 'latest'}.md`, import.meta.url), markdown);
      return { kind: 'markdown', markdown };
    };
  },
};
