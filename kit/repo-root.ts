import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's root directory (the one holding package.json). The kit
 * runs from its sources under vitest (kit/*.ts) and compiled for the
 * benchmarks (dist/kit/*.js), so the root is found, not assumed.
 */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
})();

/** The compiled CLI every launched gateway runs (`npm run build` makes it; the tests' global setup builds first). */
export const CLI_PATH = join(REPO_ROOT, 'dist/src/cli.js');
