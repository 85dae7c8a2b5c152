// Copies every src/**/lua folder with its subfolders (where --@include files may live),
// and every src/**/assets folder (the operations map's page), next to its compiled module
// in dist/ (tsc copies only .ts output). Their loaders (src/backend/redis/load-scripts.ts,
// src/ops-map/ops-map-assets.ts) read them relative to themselves at run time.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (name === 'lua' || name === 'assets') {
      const target = join('dist', path);
      rmSync(target, { recursive: true, force: true });
      cpSync(path, target, { recursive: true });
    } else {
      walk(path);
    }
  }
}
walk('src');
