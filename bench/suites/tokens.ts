/**
 * `npm run bench:tokens`: token verification with and without the
 * verified-token cache, per algorithm (scenarios/token-verify.ts), in this
 * process. Needs no Redis. Prints markdown and writes
 * bench/results/tokens-latest.md (tokens-quick.md with --quick).
 */
import { writeFileSync } from 'node:fs';
import type { Suite } from '../lib/suite.js';
import { runTokenVerify } from '../scenarios/token-verify.js';

export const tokensSuite: Suite = {
  name: 'tokens',
  summary: 'TokenService.verify CPU per call, uncached against cached, for HS256, RS256, ES256 and EdDSA (the baseline in the same run).',
  flags: {
    quick: 'smoke run: 3 rounds of 100 ms per side',
  },
  output: 'markdown',
  prepare(options) {
    return async () => {
      const table = await runTokenVerify(options.quick ? { rounds: 3, roundMs: 100 } : { rounds: 9, roundMs: 500 });
      const markdown = `# hexfleet token verification benchmark\n\n${table}`;
      writeFileSync(new URL(`../../../bench/results/tokens-${options.quick ? 'quick' : 'latest'}.md`, import.meta.url), markdown);
      return { kind: 'markdown', markdown };
    };
  },
};
