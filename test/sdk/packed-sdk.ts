import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../kit/repo-root.js';

const run = promisify(execFile);

export const SDK_DIR = join(REPO_ROOT, 'packages/sdk');
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/**
 * The environment for the npm commands of these tests: without the npm_*
 * variables an enclosing `npm test` sets (npm_config_local_prefix names the
 * repository; each command here must act on the directory it runs in).
 */
export const npmEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
};

/** The SDK as a user gets it: packed by npm, installed from the tarball into an app of its own. */
export interface PackedSdk {
  /** Temp directory holding everything below; the caller removes it. */
  dir: string;
  tarball: string;
  /** Paths inside the tarball, as `npm pack --json` lists them. */
  files: string[];
  /** An app (`"type": "module"`) with the tarball installed: node_modules/@hexfleet/sdk. */
  app: string;
}

/**
 * Builds the package into a staging copy (never into packages/sdk/dist, which
 * a concurrent run could be packing), packs it with npm and installs the
 * tarball into a fresh app.
 *
 * The install is offline: the app links the SDK's dependencies (msgpackr, ws)
 * from the repository's node_modules, so npm resolves the tarball's ranges
 * against them (a range they do not satisfy would need the registry and fails)
 * and the test needs no network. Scripts are off: npm would otherwise run
 * `prepare` of the linked packages in the repository's own node_modules.
 */
export async function packSdk(): Promise<PackedSdk> {
  const dir = await mkdtemp(join(tmpdir(), 'hexfleet-sdk-'));
  const stage = join(dir, 'stage');
  await mkdir(stage);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'examples']) await cp(join(SDK_DIR, f), join(stage, f), { recursive: true });
  await run(process.execPath, [TSC, '-p', join(SDK_DIR, 'tsconfig.json'), '--outDir', join(stage, 'dist')], { cwd: REPO_ROOT });
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: stage, env: npmEnv });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  if (!packed) throw new Error(`npm pack printed no package: ${stdout}`);
  const tarball = join(dir, packed.filename);

  const app = join(dir, 'app');
  await mkdir(app);
  const linked = Object.fromEntries(['msgpackr', 'ws'].map((d) => [d, `file:${join(REPO_ROOT, 'node_modules', d)}`]));
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module', dependencies: linked }));
  await run('npm', ['install', '--offline', '--ignore-scripts', '--no-package-lock', tarball], { cwd: app, env: npmEnv });
  return { dir, tarball, files: packed.files.map((f) => f.path), app };
}

/** Runs the repository's tsc with `args`; resolves to its output and exit code (a type error is not a throw). */
export async function tsc(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [TSC, ...args], { cwd });
    return { code: 0, output: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
