// Copies every src/**/lua folder with its subfolders (where --@include files may live),
// next to its compiled module in dist/ (tsc copies only .ts output). The loader
// (src/backend/redis/load-scripts.ts) reads them relative to itself at run time.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (name === 'lua') {
      const target = join('dist', path);
      rmSync(target, { recursive: true, force: true });
      cpSync(path, target, { recursive: true });
    } else {
      walk(path);
    }
  }
}
walk('src');
